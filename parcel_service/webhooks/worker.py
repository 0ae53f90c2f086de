"""What a Celery worker and beat add to plain Celery here: probes that mean something, metrics, traces.

- Liveness: the worker's own timer touches ``CELERY_HEARTBEAT_FILE`` every few seconds, so a worker whose
  event loop is stuck stops touching it; beat touches ``CELERY_BEAT_HEARTBEAT_FILE`` on every tick.
- Readiness: ``<heartbeat file>.ready`` exists while the worker is connected to the broker and consuming.
- Metrics: with ``WORKER_METRICS_PORT`` set, the worker serves ``/metrics``: its delivery counters and the
  outbox's backlog, read from the database at scrape time.
- Traces: each worker process sets up tracing as Gunicorn's workers do, after any fork.
- Database connections: kept between tasks and closed as Django closes them around a request (too old for
  ``CONN_MAX_AGE``, or unusable after an error), not after every task as Celery would.

Imported by ``core_project.celery`` before Django is set up: nothing Django is imported at module level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery import bootsteps  # type: ignore[import-untyped]  # no type information
from celery.beat import PersistentScheduler  # type: ignore[import-untyped]
from celery.signals import (  # type: ignore[import-untyped]
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 5.0


def _setting(name: str) -> Any:
    from django.conf import settings

    return getattr(settings, name)


def _touch(path: str) -> None:
    Path(path).touch()


class Heartbeat(bootsteps.StartStopStep):
    """Touches the heartbeat file from the worker's timer: liveness means the worker's loop still turns."""

    requires = {"celery.worker.components:Timer"}

    def start(self, worker: Any) -> None:
        """Touch now and every ``HEARTBEAT_INTERVAL_S``."""
        path = _setting("CELERY_HEARTBEAT_FILE")
        _touch(path)
        self.timer = worker.timer.call_repeatedly(HEARTBEAT_INTERVAL_S, _touch, (path,), priority=10)

    def stop(self, worker: Any) -> None:
        """Stop touching (the file is left to age: a stopped worker is not alive)."""
        timer = getattr(self, "timer", None)
        if timer is not None:
            timer.cancel()


class Consuming(bootsteps.StartStopStep):
    """Ready while consuming: the file exists from when the consumer connected until it stops or loses the broker."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer: Any) -> None:
        """Connected and consuming: ready."""
        _touch(f"{_setting('CELERY_HEARTBEAT_FILE')}.ready")

    def stop(self, consumer: Any) -> None:
        """Stopping, or the connection was lost (the consumer restarts its steps): not ready."""
        Path(f"{_setting('CELERY_HEARTBEAT_FILE')}.ready").unlink(missing_ok=True)

    shutdown = stop


class Scheduler(PersistentScheduler):
    """Beat's scheduler, touching ``CELERY_BEAT_HEARTBEAT_FILE`` on every tick (beat's liveness)."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Touch, then schedule as usual."""
        _touch(_setting("CELERY_BEAT_HEARTBEAT_FILE"))
        return float(super().tick(*args, **kwargs))


class OutboxBacklog(Collector):
    """The outbox's backlog, read from the database when Prometheus scrapes (any worker can answer)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Pending messages, those due now, and how long the oldest due one has waited."""
        from django.db import connection
        from django.db.models import Count, Min, Q
        from django.utils import timezone

        from ..models import WebhookDelivery

        now = timezone.now()
        try:
            pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).aggregate(
                pending=Count("pk"),
                due=Count("pk", filter=Q(next_attempt_at__lte=now)),
                oldest_due=Min("next_attempt_at", filter=Q(next_attempt_at__lte=now)),
            )
        except Exception:  # the database is down: no backlog figures this scrape, rather than a failed scrape
            logger.warning("could not read the webhook outbox backlog", exc_info=True)
            return
        finally:
            connection.close()  # this runs in the metrics server's thread: no connection left behind
        oldest = pending["oldest_due"]
        yield GaugeMetricFamily(
            "webhook_outbox_pending", "Webhook messages not yet delivered or failed.", pending["pending"]
        )
        yield GaugeMetricFamily("webhook_outbox_due", "Webhook messages due for an attempt now.", pending["due"])
        yield GaugeMetricFamily(
            "webhook_outbox_oldest_due_age_seconds",
            "How long the oldest due webhook message has waited for its attempt (0 when none is due).",
            (now - oldest).total_seconds() if oldest is not None else 0.0,
        )


def serve_metrics(port: int) -> None:
    """Serve ``/metrics`` on ``port``: this process's metrics (all processes', in multiprocess mode) and the backlog."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    registry.register(OutboxBacklog())
    start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104 - scraped from the pod network


def install(app: Any) -> None:
    """Add the probes' steps to ``app``'s worker and connect the start-up signals."""
    app.steps["worker"].add(Heartbeat)
    app.steps["consumer"].add(Consuming)
    # Connected at all, this keeps Celery from configuring logging itself (it would set the root logger to its own
    # level and format): Django's LOGGING applies, JSON lines with request and trace ids, as in the web process.
    setup_logging.connect(_keep_django_logging, weak=False)
    worker_init.connect(_on_worker_init, weak=False)
    worker_process_init.connect(_on_process_init, weak=False)
    # Database connections live as in the web process (CONN_MAX_AGE, health checks), not one per task: see
    # CELERY_DB_REUSE_MAX in the settings.
    task_prerun.connect(_close_old_connections, weak=False)
    task_postrun.connect(_close_old_connections, weak=False)


def _keep_django_logging(**_: Any) -> None:
    """Django configured logging from ``LOGGING`` when it was set up."""


def _close_old_connections(sender: Any = None, **_: Any) -> None:
    from django.db import close_old_connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run in the caller's process, maybe inside its transaction: its connection is not ours to close
    close_old_connections()


def _on_worker_init(**_: Any) -> None:
    port = int(os.environ.get("WORKER_METRICS_PORT") or 0)
    if port:
        serve_metrics(port)
    _start_tracing()  # the solo and threads pools run tasks in this process


def _on_process_init(**_: Any) -> None:
    _start_tracing()  # a prefork child: after the fork, as for Gunicorn's workers


def _start_tracing() -> None:
    from ..http import tracing

    tracing.instrument()
    if tracing.export_endpoint():
        tracing.start()
