"""Webhook endpoints: subscribe, edit, rotate the secret, send a test message, redeliver a message.

Checking that a URL may be called (the SSRF guard) is the API's part, before anything here runs; delivery
itself is the workers' (``parcel_service.webhooks``). Every message written here is queued after commit
through ``notify``, as the outbox does for parcel changes.
"""

from __future__ import annotations

import secrets
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from ..models import WEBHOOK_TEST, WebhookDelivery, WebhookEndpoint
from .outbox import NUDGE_GRACE_S

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix Standard Webhooks secrets carry, not a secret
# How long a rotated-out secret keeps signing beside the new one (API.md).
PREVIOUS_SECRET_VALID_FOR = timedelta(hours=24)

Claims = Callable[[Sequence[tuple[str, int]]], None]


def new_secret() -> str:
    """A signing secret: ``whsec_`` and the base64 of 24 random bytes (API.md)."""
    return SECRET_PREFIX + b64encode(secrets.token_bytes(24)).decode()


class WebhookService:
    """Endpoint management for their owners.

    Args:
        clock: The current time (aware).
        queue: Queues delivery tasks for ``(message id, attempts so far)`` (best effort: the dispatcher is the
            safety net); called after commit.
    """

    def __init__(self, *, clock: Callable[[], datetime], queue: Claims) -> None:
        self.clock = clock
        self.queue = queue

    def subscribe(self, *, owner: Any, data: Mapping[str, Any]) -> WebhookEndpoint:
        """A new active endpoint for ``owner`` (``url``, ``events``, ``description``) with a fresh secret."""
        return WebhookEndpoint.objects.create(
            owner=owner,
            url=data["url"],
            events=list(dict.fromkeys(data["events"])),  # in the order given, each once
            description=data.get("description", ""),
            secret=new_secret(),
            created_at=self.clock(),
        )

    def update(self, *, endpoint: WebhookEndpoint, data: Mapping[str, Any]) -> WebhookEndpoint:
        """Change ``url``, ``events``, ``description`` or ``is_active``; re-enabling forgets why it was disabled."""
        for field in ("url", "description", "is_active"):
            if field in data:
                setattr(endpoint, field, data[field])
        if "events" in data:
            endpoint.events = list(dict.fromkeys(data["events"]))
        if data.get("is_active"):
            endpoint.disabled_reason, endpoint.failing_since = "", None
        endpoint.save()
        return endpoint

    def rotate_secret(self, *, endpoint: WebhookEndpoint) -> str:
        """A new secret; the old one keeps signing beside it for 24 hours. Returns the new secret."""
        with transaction.atomic():
            locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
            locked.previous_secret = locked.secret
            locked.previous_secret_expires_at = self.clock() + PREVIOUS_SECRET_VALID_FOR
            locked.secret = new_secret()
            locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
        return locked.secret

    def send_test(self, *, endpoint: WebhookEndpoint) -> WebhookDelivery:
        """Queue a ``webhook.test`` message to ``endpoint``."""
        now = self.clock()
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint,
                event_type=WEBHOOK_TEST,
                snapshot={"endpoint_id": str(endpoint.pk), "message": "A test message from Parcel Service."},
                next_attempt_at=now + timedelta(seconds=NUDGE_GRACE_S),
                created_at=now,
            )
            transaction.on_commit(lambda: self.queue([(str(delivery.pk), 0)]))
        return delivery

    def redeliver(self, *, delivery: WebhookDelivery) -> WebhookDelivery:
        """Attempt ``delivery``'s message again, now, whatever became of it (the same message, the same id)."""
        now = self.clock()
        with transaction.atomic():
            locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
            locked.status = WebhookDelivery.Status.PENDING
            locked.next_attempt_at = now + timedelta(seconds=NUDGE_GRACE_S)
            locked.save(update_fields=["status", "next_attempt_at"])
            claim = (str(locked.pk), locked.attempts)
            transaction.on_commit(lambda: self.queue([claim]))
        return locked
