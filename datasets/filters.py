from functools import cache

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.forms.utils import ErrorDict, ErrorList
from django_filters.utils import translate_validation

from .domain import DatasetType
from .models import Dataset, ImportTask, Prediction, PredictionState, Sample, SampleLabel


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
    prediction = django_filters.ChoiceFilter(
        choices=PredictionState.choices, method="filter_prediction",
        help_text="Samples with a model's prediction in this state (predicted: waiting for review).")
    confidence_below = django_filters.NumberFilter(
        method="filter_prediction", help_text="Samples with a prediction (in the `prediction` state, if given) "
                                              "less confident than this, e.g. 0.8.")

    class Meta:
        model = Sample
        fields = ["status", "usage", "annotated_by", "label", "source", "prediction", "confidence_below"]

    def filter_label(self, queryset, name, value):
        labelled = SampleLabel.objects.filter(dataset_id=OuterRef("dataset_id"), name=value, sample_id=OuterRef("pk"))
        return queryset.filter(Exists(labelled))

    def filter_prediction(self, queryset, name, value):
        # Both parameters narrow one EXISTS: the state and the confidence of the same prediction.
        if name == "confidence_below" and self.form.cleaned_data.get("prediction"):
            return queryset
        state = self.form.cleaned_data.get("prediction")
        below = self.form.cleaned_data.get("confidence_below")
        predictions = Prediction.objects.filter(sample_id=OuterRef("pk"))
        if state:
            predictions = predictions.filter(state=state)
        if below is not None:
            predictions = predictions.filter(confidence__lt=below)
        return queryset.filter(Exists(predictions))


def sample_filters(data) -> dict:
    """SampleFilter's values in these query parameters, validated as its filter backend does
    (a 400 naming the parameter): what the list API's hand-written query filters by."""
    values, errors = {}, ErrorDict()
    # The cleaning a form of SampleFilter does, field by field, without the copy of every field
    # that building a form makes (a twentieth of the busiest request's CPU).
    for name, field in _sample_filter_fields().items():
        try:
            values[name] = field.clean(field.widget.value_from_datadict(data, None, name))
        except ValidationError as error:
            errors[name] = ErrorList(error.error_list)
    if errors:
        raise translate_validation(errors)
    return values


@cache
def _sample_filter_fields():
    return SampleFilter().get_form_class().base_fields


class ImportTaskFilter(django_filters.FilterSet):
    class Meta:
        model = ImportTask
        fields = ["status", "kind"]
