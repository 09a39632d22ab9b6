import django_filters
from django.db.models import Exists, OuterRef

from .domain import DatasetType
from .models import Dataset, ImportTask, Sample, SampleLabel


class DatasetFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    type = django_filters.ChoiceFilter(choices=DatasetType.choices)

    class Meta:
        model = Dataset
        fields = ["name", "type", "status"]


class SampleFilter(django_filters.FilterSet):
    """Sample filters of the list API and of exports."""

    label = django_filters.CharFilter(method="filter_label", help_text="Samples carrying this label.")
    annotated_by = django_filters.CharFilter(help_text="Username of the last annotator.")
    source = django_filters.CharFilter(lookup_expr="startswith", help_text="Source URIs starting with this.")

    class Meta:
        model = Sample
        fields = ["status", "usage", "annotated_by", "label", "source"]

    def filter_label(self, queryset, name, value):
        labelled = SampleLabel.objects.filter(dataset_id=OuterRef("dataset_id"), name=value, sample_id=OuterRef("pk"))
        return queryset.filter(Exists(labelled))


class ImportTaskFilter(django_filters.FilterSet):
    class Meta:
        model = ImportTask
        fields = ["status", "kind"]
