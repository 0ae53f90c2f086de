"""Dependency probes for the readiness endpoint. Liveness deliberately touches nothing."""

from __future__ import annotations

import logging

from django.conf import settings
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
    miss, because the backend ignores connection errors by design.
    """
    if not settings.REDIS_URL:
        return "ok"
    from django_redis import get_redis_connection
    from redis.exceptions import RedisError

    try:
        get_redis_connection("default").ping()
    except (RedisError, OSError) as error:
        cache.breaker.trip(error)  # a failed ping is also news for the request path
        return "unavailable"
    return "ok"
