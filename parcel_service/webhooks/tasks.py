"""The Celery tasks: deliver queued messages, dispatch what is due, purge what is done.

Retries never wait in the broker (a Redis broker redelivers a long-countdown task after its visibility
timeout, so hours-long countdowns are a known trap): an attempt that fails writes when the next one is due,
and ``dispatch_due`` (run by beat every ``WEBHOOK_DISPATCH_INTERVAL_S``) queues what has come due.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache

from celery import shared_task  # type: ignore[import-untyped]  # no type information
from django.conf import settings
from django.utils import timezone

from ..api.idempotency import purge_expired
from ..domain.outbox import DELIVER_TASK
from ..http.outbound import OutboundClient
from ..models import WebhookDelivery
from .delivery import Deliverer, chunks, due_claims
from .queue import queue_claims

logger = logging.getLogger(__name__)

DISPATCH_LIMIT = 2000
PURGE_BATCH = 5000
# A queued message whose task never ran (lost with a broker restart) is queued again after this long.
REQUEUE_AFTER = timedelta(seconds=60)


@lru_cache(maxsize=1)
def get_deliverer() -> Deliverer:
    """One per worker process: its HTTP client keeps connections to endpoints open between tasks."""
    return Deliverer(
        client=OutboundClient(timeout_s=settings.WEBHOOK_TIMEOUT_S),
        timeout_s=settings.WEBHOOK_TIMEOUT_S,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS,
        retry_scale=settings.WEBHOOK_RETRY_SCALE,
        disable_after_s=settings.WEBHOOK_DISABLE_AFTER_S,
    )


@shared_task(name=DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver(claims: list[list[object]]) -> int:
    """Attempt each ``[message id, attempts so far]``; the number of attempts made."""
    return len(get_deliverer().deliver((str(message_id), int(str(attempts))) for message_id, attempts in claims))


@shared_task(name="parcel_service.webhooks.dispatch_due", acks_late=True, ignore_result=True)
def dispatch_due() -> int:
    """Queue the due messages (retries, and any whose nudge after commit was lost); the number queued."""
    claims = due_claims(now=timezone.now(), requeue_after=REQUEUE_AFTER, limit=DISPATCH_LIMIT)
    for chunk in chunks(claims, 20):
        queue_claims(chunk)
    if claims:
        logger.info("webhooks dispatched", extra={"count": len(claims)})
    return len(claims)


@shared_task(name="parcel_service.webhooks.purge_deliveries", ignore_result=True)
def purge_deliveries() -> int:
    """Delete finished (succeeded or failed) messages older than ``WEBHOOK_RETENTION_DAYS``; the number deleted.

    In batches of ``PURGE_BATCH``, each a statement well within the statement timeout however much has built up.
    """
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    done = WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.PENDING).filter(created_at__lt=cutoff)
    deleted = 0
    while batch := list(done.values_list("pk", flat=True)[:PURGE_BATCH]):
        deleted += WebhookDelivery.objects.filter(pk__in=batch).delete()[0]
    return deleted


@shared_task(name="parcel_service.webhooks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete expired Idempotency-Key records (what ``manage.py purge_idempotency_keys`` does); the number deleted."""
    return purge_expired()
