"""Query-string filters for the parcel list (django-filter), validated: a bad value is a 400 with a pointer."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ErrorDetail

from .exceptions import QueryValidationError
from .models import Parcel
from .status_machine import ParcelStatus
from .tracking_numbers import is_valid


class ParcelFilter(django_filters.FilterSet):
    """``status`` (repeatable), ``created_after``/``created_before`` (RFC 3339), ``reference``, ``search``."""

    status = django_filters.MultipleChoiceFilter(choices=ParcelStatus.choices, help_text="Repeatable.")
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="RFC 3339; inclusive."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="RFC 3339; exclusive."
    )
    reference = django_filters.CharFilter(field_name="reference", lookup_expr="exact", max_length=64)
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, help_text="Tracking number (exact), reference or recipient name."
    )

    class Meta:
        model = Parcel
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Match a tracking number exactly (it is indexed), or reference / recipient name by substring."""
        term = value.strip()
        if not term:
            return queryset
        candidate = term.replace(" ", "").upper()
        if is_valid(candidate):
            return queryset.filter(tracking_number=candidate)
        return queryset.filter(Q(reference__icontains=term) | Q(recipient_name__icontains=term))


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter backend whose errors point at the query parameter (``/query/<param>``)."""

    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        """Apply the view's FilterSet.

        Raises:
            QueryValidationError: A parameter has an invalid value.
        """
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise QueryValidationError(
                {
                    field: [ErrorDetail(str(error["message"]), code=error["code"]) for error in errors]
                    for field, errors in filterset.errors.get_json_data().items()
                }
            )
        return filterset.qs
