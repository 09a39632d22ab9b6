"""Filters every app shares."""

from datetime import UTC

import django_filters
from django import forms
from django.db import models
from django_filters import rest_framework


class UtcDateTimeField(forms.DateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            # The database stores UTC; an exotic offset must not reach it as such.
            return value.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError("Give an ISO 8601 date and time within years 1–9999.") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time bound, compared in UTC."""

    field_class = UtcDateTimeField


def created_between():
    """The `created_after` / `created_before` pair list endpoints offer."""
    return (
        UtcDateTimeFilter(field_name="created_at", lookup_expr="gte"),
        UtcDateTimeFilter(field_name="created_at", lookup_expr="lt"),
    )


class FilterSet(rest_framework.FilterSet):
    """The API's filter sets. A foreign key is compared by id: django-filter's own filter for one
    picks among every row of the related table, so another tenant's id would filter (to nothing)
    where an id that never existed is refused, and the difference would tell that it exists."""

    @classmethod
    def filter_for_field(cls, field, field_name, lookup_expr=None):
        if isinstance(field, models.ForeignKey) and lookup_expr in (None, "exact"):
            by_id = django_filters.UUIDFilter if isinstance(field.target_field, models.UUIDField) \
                else django_filters.NumberFilter
            return by_id(field_name=field_name)
        return super().filter_for_field(field, field_name, lookup_expr)


class FilterBackend(rest_framework.DjangoFilterBackend):
    """Views' `filterset_fields` become filter sets of the API's FilterSet."""

    filterset_base = FilterSet
