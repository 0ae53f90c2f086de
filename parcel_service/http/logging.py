"""Request-scoped logging context: the current request id lives in a contextvar and a filter stamps every record.

The filter also stamps the current OpenTelemetry span's ``trace_id`` and ``span_id`` (W3C hex), so a log line
leads to its trace; ``"-"`` outside a span (start-up, Gunicorn's own lines, a request nobody traces).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from django.http import HttpRequest
from opentelemetry import trace

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    """Return the id of the request being handled, or ``"-"`` outside a request."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id``, ``trace_id`` and ``span_id`` to every log record so the formatters can print them.

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
        if not hasattr(record, "trace_id"):
            record.__dict__.update(trace_fields(trace.get_current_span().get_span_context()))
        return True


def trace_fields(span: trace.SpanContext | None) -> dict[str, str]:
    """``trace_id`` and ``span_id`` of a span as log fields (W3C hex), ``"-"`` for none or an invalid one."""
    if span is None or not span.is_valid:
        return {"trace_id": "-", "span_id": "-"}
    return {"trace_id": f"{span.trace_id:032x}", "span_id": f"{span.span_id:016x}"}
