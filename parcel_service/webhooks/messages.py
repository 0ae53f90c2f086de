"""A webhook message's body and Standard Webhooks headers, from its outbox row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Model
from standardwebhooks.webhooks import Webhook

from ..api.serializers import ParcelSerializer, TrackingEventSerializer
from ..http.renderers import dumps
from ..models import WEBHOOK_TEST, Parcel, TrackingEvent, WebhookDelivery, WebhookEndpoint

_PARCEL = ParcelSerializer()
_EVENT = TrackingEventSerializer()


def _from_snapshot(model: type[Model], row: Mapping[str, Any]) -> Any:
    """The model instance a snapshot row (``outbox.snapshot_of`` or PostgreSQL's ``to_jsonb``) describes."""
    return model(**{field.attname: field.to_python(row.get(field.attname)) for field in model._meta.concrete_fields})


def message_data(delivery: WebhookDelivery) -> dict[str, Any]:
    """``data`` of the message: the parcel as ``GET /parcels/{id}/`` renders it, its ``version``, and the event."""
    if delivery.event_type == WEBHOOK_TEST:
        return dict(delivery.snapshot)
    parcel: Parcel = _from_snapshot(Parcel, delivery.snapshot["parcel"])
    data = {**_PARCEL.to_representation(parcel), "version": parcel.version}
    if "event" in delivery.snapshot:
        event: TrackingEvent = _from_snapshot(TrackingEvent, delivery.snapshot["event"])
        data["event"] = _EVENT.to_representation(event)
    return data


def message_body(delivery: WebhookDelivery) -> bytes:
    """The JSON body: ``type``, ``timestamp`` (when the change was recorded) and ``data``; the same on every attempt."""
    return dumps({"type": delivery.event_type, "timestamp": delivery.created_at, "data": message_data(delivery)})


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and a rotated-out one until it expires."""
    current = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        current.append(endpoint.previous_secret)
    return current


def signed_headers(*, message_id: str, body: bytes, secrets_: list[str], now: datetime) -> dict[str, str]:
    """Standard Webhooks headers for one attempt: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``."""
    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(message_id, now, text) for secret in secrets_)
    return {
        "Content-Type": "application/json",
        "User-Agent": "parcel-service-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
