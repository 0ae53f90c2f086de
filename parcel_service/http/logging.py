"""Request-scoped logging context: the current request id lives in a contextvar and a filter stamps every record."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


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
