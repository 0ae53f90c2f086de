"""Request-scoped logging context: the current request id lives in a contextvar and a filter stamps every record."""

from __future__ import annotations

import logging
from contextvars import ContextVar

from django.http import HttpRequest

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    """Return the id of the request being handled, or ``"-"`` outside a request."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record so JSON and text formatters can print it.

    Django's own request lines (``django.request``, ``django.security.*``) carry the request object in
    ``extra``; a JSON formatter would print its ``repr``, query string included, and Django writes the
    ``django.request`` line after the request-id middleware has returned. The filter takes the id from the
    request itself and replaces the object with its method and path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record with the request id and strip the request's query string; never drops a record."""
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            # Query strings may hold search terms (names) and e-mail addresses: never logged (README).
            record.request = f"{request.method} {request.path}"
            if not hasattr(record, "request_id"):
                record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
