"""Cursor pagination for the parcel list: constant cost at any depth, and no ``COUNT(*)``.

Offset pagination gets slower the deeper the page and counts the whole table on every request;
a cursor (an opaque position in a fixed ordering with the primary key as tie-breaker) uses the
matching index instead. ``page_size`` and ``ordering`` are validated: a bad value is a 400 with a
``/query/<param>`` pointer, never silently replaced by a default.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ErrorDetail, NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from .problems import QueryValidationError

ORDERINGS = ("-created_at", "created_at", "-updated_at", "updated_at")


def _query_error(param: str, message: str, code: str = "invalid") -> QueryValidationError:
    return QueryValidationError({param: [ErrorDetail(message, code=code)]})


class ParcelCursorPagination(CursorPagination):
    """``{next, previous, results}`` pages of 25 (``page_size`` up to 100) in a whitelisted ordering."""

    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"
    page_size_query_description = (
        f"Results per page: default {page_size}; larger values are clamped to {max_page_size}; < 1 is a 400."
    )
    cursor_query_description = "Opaque cursor from `next` / `previous`."
    ordering = ("-created_at", "-id")

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """DRF's ``cursor`` and ``page_size`` parameters, with the bounds the API enforces on ``page_size``."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_page_size(self, request: Request) -> int:
        """Return the requested page size, clamped to 100.

        Raises:
            QueryValidationError: ``page_size`` is not an integer >= 1.
        """
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1 or not raw.strip().isdigit():
            raise _query_error(self.page_size_query_param, "Must be an integer >= 1.")
        return min(size, self.max_page_size)

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, str]:
        """Return the requested ordering with the primary key as tie-breaker.

        Raises:
            QueryValidationError: ``ordering`` is not one of the whitelisted values.
        """
        requested = request.query_params.get("ordering", "-created_at")
        if requested not in ORDERINGS:
            raise _query_error("ordering", f"Must be one of: {', '.join(ORDERINGS)}.", code="invalid_choice")
        tie_breaker = "-id" if requested.startswith("-") else "id"
        return (requested, tie_breaker)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """DRF's page schema, with this API's URLs in the examples (DRF's show an ``accounts`` URL)."""
        page = super().get_paginated_response_schema(schema)
        for link, cursor in (("next", "cD0yMDI2LTEyLTAx"), ("previous", "cj0xJnA9MjAyNi0xMi0wMg")):
            page["properties"][link]["example"] = f"https://parcels.example.com/api/v1/parcels/?cursor={cursor}"
        return page

    def decode_cursor(self, request: Request) -> Cursor | None:
        """Decode the cursor; a tampered or foreign cursor is a 400, not a 404 or a 500.

        Raises:
            QueryValidationError: The cursor cannot be decoded, or its position is not a timestamp.
        """
        try:
            cursor = super().decode_cursor(request)
        except NotFound as error:  # DRF's answer to every decoding failure
            raise _query_error(self.cursor_query_param, "Invalid cursor.") from error
        if cursor is None or cursor.position is None:
            return cursor
        # DRF takes the position verbatim and the database would fail on it only when the query runs (a 500).
        # Every ordering here is by a timestamp, so a position that is not one was not issued by us.
        position = _utc_position(str(cursor.position))
        if position is None:
            raise _query_error(self.cursor_query_param, "Invalid cursor.")
        return cursor._replace(position=position)  # type: ignore[arg-type]  # stubs say int; it is the field's value


def _utc_position(text: str) -> str | None:
    """The cursor position as DRF writes it for a UTC timestamp, or ``None`` if it is not an aware timestamp."""
    try:
        parsed = parse_datetime(text)
        # Written as DRF writes the positions it issues, so its own equality checks between positions still hold.
        return str(parsed.astimezone(UTC)) if parsed is not None and parsed.tzinfo is not None else None
    except (ValueError, OverflowError):  # a field out of range, or outside Python's years once in UTC
        return None


class NewestFirstCursorPagination(ParcelCursorPagination):
    """A list in pages like the parcel list's, always newest first (``created_at``, then id).

    ``resource`` names the list in the schema's example links.
    """

    resource = "parcels"

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, str]:
        """Always newest first: the list has no ``ordering`` parameter."""
        return ("-created_at", "-id")

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The page schema, with this list's URL in the example links."""
        page = super().get_paginated_response_schema(schema)
        for link in ("next", "previous"):
            example = page["properties"][link]["example"]
            page["properties"][link]["example"] = example.replace("/parcels/", f"/{self.resource}/")
        return page


class ApiKeyCursorPagination(NewestFirstCursorPagination):
    """A user's API keys, newest first."""

    resource = "api-keys"


class WebhookCursorPagination(NewestFirstCursorPagination):
    """A user's webhook endpoints, or one endpoint's deliveries, newest first."""

    resource = "webhooks"
