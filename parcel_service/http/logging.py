"""Request-scoped logging context: the current request id lives in a contextvar and a filter stamps every record.

The filter also stamps the current OpenTelemetry span's ``trace_id`` and ``span_id`` (W3C hex), so a log line
leads to its trace; ``"-"`` outside a span (start-up, Gunicorn's own lines, a request nobody traces).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from opentelemetry import trace

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The JSON line every process writes (the application's settings and gunicorn.conf.py both use it), so one
# log pipeline parses the service's lines and Gunicorn's own.
JSON_FORMATTER: dict[str, object] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s %(span_id)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    "timestamp": False,
}


def current_request_id() -> str:
    """Return the id of the request being handled, or ``"-"`` outside a request."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id``, ``trace_id`` and ``span_id`` to every log record so the formatters can print them."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record with the current request id and span; never drops a record."""
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
