"""Filters every app shares."""

from datetime import UTC

import django_filters
from django import forms


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
