"""The service's own Prometheus metrics, all in one place (``/metrics`` adds django-prometheus's request metrics).

Under Gunicorn, prometheus_client keeps every value in per-process files in ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` adds them up (see ``gunicorn.conf.py``), so counters are totals over all workers. Labels take a
handful of values each (document kinds, throttle scopes, parcel statuses): never an id, a path or a user.

The database has no metrics of its own otherwise: django-prometheus counts queries only through its own
database backends, which the service does not use (it keeps Django's). ``watch_database()`` times every
statement with an ``execute_wrapper`` instead: about 3 µs a statement (measured), against a round trip of
hundreds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from prometheus_client import Counter, Gauge, Histogram

# prometheus_client opens its file in PROMETHEUS_MULTIPROC_DIR as each metric is created: a manage.py command
# run before Gunicorn ever created the directory (migrate, first thing in a fresh container) must not fail on it.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

# Business events. prometheus_client adds the ``_total`` suffix: parcels_created_total and so on.
PARCELS_CREATED = Counter("parcels_created", "Parcels created.")
TRACKING_EVENTS = Counter(
    "tracking_events", "Tracking events recorded (cancellations included), by the status they set.", ["status"]
)
IDEMPOTENT_REPLAYS = Counter(
    "idempotent_replays", "Requests answered with the stored response of an earlier one with the same Idempotency-Key."
)
THROTTLED_REQUESTS = Counter(
    "parcel_throttled_requests",
    "Requests refused with 429 by a rate limit, by its scope (anon, user, auth).",
    ["scope"],
)

# The pre-rendered documents (parcel_service.api.documents).
CACHE_REQUESTS = Counter(
    "parcel_cache_requests",
    "Reads of a cached document, by kind (tracking, parcel) and result (hit, miss).",
    ["kind", "result"],
)
# "livemax": the highest value among the live workers, so a worker that exited with its breaker open does
# not report an outage forever.
CACHE_BREAKER_OPEN = Gauge(
    "parcel_cache_breaker_open",
    "1 while a worker's Redis circuit breaker is open (Redis considered down, the cache skipped), else 0.",
    multiprocess_mode="livemax",
)

# Webhooks, counted by the Celery worker that made the attempt (each worker serves its own /metrics).
WEBHOOK_DELIVERIES = Counter(
    "webhook_delivery_attempts",
    "Webhook delivery attempts, by outcome: succeeded, retrying (failed, another attempt scheduled), failed (no more).",
    ["outcome"],
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "webhook_attempt_duration_seconds",
    "Time from connecting to a webhook endpoint to its answer (or the timeout), in seconds.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

DB_QUERIES = Counter("parcel_db_queries", "SQL statements sent to the database (executemany counts once).")
# From well under a millisecond (a primary-key read on loopback) to the 5 s statement_timeout.
DB_QUERY_DURATION = Histogram(
    "parcel_db_query_duration_seconds",
    "Time from sending a SQL statement to its result, in seconds.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def timed_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    """Django ``execute_wrapper``: count the statement and observe its duration, failed ones included."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        DB_QUERY_DURATION.observe(time.perf_counter() - started)
        DB_QUERIES.inc()


def _wrap_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    # The wrapper list belongs to Django's connection object, which outlives each database connection it
    # opens (CONN_MAX_AGE, reconnects): add it once.
    if timed_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(timed_query)


def watch_database() -> None:
    """Time every SQL statement of every connection opened from now on (called once, at start-up)."""
    connection_created.connect(_wrap_connection, dispatch_uid=__name__)
