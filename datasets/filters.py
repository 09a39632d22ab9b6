from functools import cache

import django_filters
from django.db.models import Exists, OuterRef
from django_filters.utils import translate_validation

from .domain import DatasetType
from .models import Dataset, ImportTask, Sample, SampleLabel


class DatasetFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    type = django_filters.ChoiceFilter(choices=DatasetType.choices)

    class Meta:
        model = Dataset
        fields = ["name", "type", "status"]


class SampleFilter(django_filters.FilterSet):
    """Sample filters of exports and annotation tasks. The list API validates its parameters with
    this form and filters the same way in hand-written SQL (selectors.sample_page)."""

    label = django_filters.CharFilter(method="filter_label", help_text="Samples carrying this label.")
    annotated_by = django_filters.CharFilter(help_text="Username of the last annotator.")
    source = django_filters.CharFilter(lookup_expr="startswith", help_text="Source URIs starting with this.")

    class Meta:
        model = Sample
        fields = ["status", "usage", "annotated_by", "label", "source"]

    def filter_label(self, queryset, name, value):
        labelled = SampleLabel.objects.filter(dataset_id=OuterRef("dataset_id"), name=value, sample_id=OuterRef("pk"))
        return queryset.filter(Exists(labelled))


def sample_filters(data) -> dict:
    """SampleFilter's values in these query parameters, validated as its filter backend does
    (a 400 naming the parameter): what the list API's hand-written query filters by."""
    form = _sample_filter_form()(data)
    if not form.is_valid():
        raise translate_validation(form.errors)
    return form.cleaned_data


@cache
def _sample_filter_form():
    # A FilterSet copies its filters and builds a form class for each request; the sample
    # list, the busiest, builds the same form class once.
    return SampleFilter().get_form_class()


class ImportTaskFilter(django_filters.FilterSet):
    class Meta:
        model = ImportTask
        fields = ["status", "kind"]
