"""Request-scoped logging context: the current request id lives in a contextvar and a filter stamps every record."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# The JSON line every process writes (the application's settings and gunicorn.conf.py both use it), so one
# log pipeline parses the service's lines and Gunicorn's own.
JSON_FORMATTER: dict[str, object] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    "timestamp": False,
}


def current_request_id() -> str:
    """Return the id of the request being handled, or ``"-"`` outside a request."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record so JSON and text formatters can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record with the current request id; never drops a record."""
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
