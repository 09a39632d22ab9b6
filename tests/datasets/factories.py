import factory

from datasets.domain import DatasetType
from datasets.models import Dataset, Sample
from tests.factories import WorkspaceFactory


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"dataset{n}")
    type = DatasetType.IMAGE_CLASSIFICATION
    output_uri = "s3://work/out"
    labels = factory.LazyFunction(
        lambda: [
            {"name": "cat", "color": "#ff0000", "attributes": []},
            {"name": "dog", "color": "#00ff00", "attributes": []},
        ]
    )


class SampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sample

    dataset = factory.SubFactory(DatasetFactory)
    source = factory.Sequence(lambda n: f"s3://data/images/{n:06d}.jpg")
    metadata = factory.LazyFunction(lambda: {"width": 640, "height": 480})
