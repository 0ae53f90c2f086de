"""Dependency probes for the readiness endpoint. Liveness deliberately touches nothing."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


def database_status() -> str:
    """Return ``"ok"`` if the database answers ``SELECT 1``, else ``"unavailable"``."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.warning("readiness: database unavailable: %s", type(error).__name__)
        return "unavailable"
    return "ok"


def cache_status() -> str:
    """Return ``"ok"`` if the cache answers, else ``"unavailable"``.

    Redis is pinged directly: through the cache API an outage would be indistinguishable from a
    miss, because the backend ignores connection errors by design. The local-memory cache of a
    single-process dev server cannot be down.
    """
    ping = getattr(cache, "ping", None)
    if ping is None:
        return "ok"
    return "ok" if ping() else "unavailable"
