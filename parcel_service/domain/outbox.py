"""The webhook outbox: a change's messages are rows written in the change's own transaction.

For every active endpoint that subscribes to the change's type and may see the parcel (its owner's, or any
parcel for a staff owner), one ``WebhookDelivery`` row holds a snapshot of the rows the message describes.
A rolled-back change therefore sends nothing, and a committed one is found by the dispatcher even if the
nudge to the workers after commit is lost. On PostgreSQL the rows come from one ``INSERT … SELECT`` (or from
the change's own statement, see ``outbox_cte``); elsewhere the endpoints are read and the rows bulk-created.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from ..models import Parcel, TrackingEvent, WebhookDelivery, WebhookEndpoint, WebhookEventType

# The Celery task that delivers queued messages, by name: the domain never imports the delivery engine.
DELIVER_TASK = "parcel_service.webhooks.deliver"

# New messages are due this long after they were written: the nudge after commit queues them at once, and the
# dispatcher only takes up those whose nudge was lost (broker down, process killed between commit and publish).
NUDGE_GRACE_S = 10

Notify = Callable[[list[str]], None]
Change = tuple[Parcel, TrackingEvent | None]

_DELIVERY_COLUMNS = (
    "id, endpoint_id, event_type, parcel_id, snapshot, status, attempts, next_attempt_at, last_error, created_at"
)


def snapshot_of(instance: Model) -> dict[str, Any]:
    """``instance``'s columns as JSON values, keyed as PostgreSQL's ``to_jsonb`` of its row keys them."""
    return {field.attname: _jsonable(getattr(instance, field.attname)) for field in instance._meta.concrete_fields}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def change_snapshot(parcel: Parcel, event: TrackingEvent | None) -> dict[str, Any]:
    """What a message stores: the parcel row and, for a status change, the event row."""
    snapshot = {"parcel": snapshot_of(parcel)}
    if event is not None:
        snapshot["event"] = snapshot_of(event)
    return snapshot


def _tables() -> dict[str, str]:
    return {
        "delivery": WebhookDelivery._meta.db_table,
        "endpoint": WebhookEndpoint._meta.db_table,
        "user": get_user_model()._meta.db_table,
    }


def subscribers_sql(event_type_param: str, owner_column: str) -> str:
    """SQL joining the endpoints that receive a message about a parcel owned by ``owner_column``.

    Active endpoints of active users, subscribed to the type in ``event_type_param`` (a jsonb array), that may
    see the parcel: their owner's, or any for staff. ``Outbox`` applies the same rule in Python off PostgreSQL.
    """
    tables = _tables()
    return (
        f" JOIN {tables['endpoint']} AS w ON w.is_active AND w.events @> {event_type_param}"
        f" JOIN {tables['user']} AS u ON u.id = w.owner_id AND u.is_active AND (u.is_staff OR u.id = {owner_column})"
    )


def outbox_cte(event_type: str, parcel_cte: str, event_cte: str | None = None) -> str:
    """A CTE named ``outbox`` that queues ``event_type`` messages; it returns their ids.

    ``parcel_cte`` (and ``event_cte``) name CTEs of the same statement, one row each: the parcel (and the event)
    as the change left them.
    """
    snapshot = "jsonb_build_object('parcel', to_jsonb(m)" + (", 'event', to_jsonb(r))" if event_cte else ")")
    source = f"{parcel_cte} AS m" + (f" CROSS JOIN {event_cte} AS r" if event_cte else "")
    return (
        f"outbox AS (INSERT INTO {_tables()['delivery']} ({_DELIVERY_COLUMNS})"  # noqa: S608 - names from models
        f" SELECT gen_random_uuid(), w.id, '{WebhookEventType(event_type).value}', m.id, {snapshot}, 'pending', 0,"
        f" clock_timestamp() + interval '{NUDGE_GRACE_S} seconds', '', clock_timestamp() FROM {source}"
        + subscribers_sql(f"'{json.dumps([WebhookEventType(event_type).value])}'::jsonb", "m.owner_id")
        + " RETURNING id)"
    )


def _owners_heard(event_type: str, owner_ids: set[Any]) -> set[Any]:
    """Which of these owners' parcels some endpoint receives ``event_type`` messages about (one query)."""
    # Interpolated are table names from the models only (subscribers_sql); the values are parameters.
    audience = subscribers_sql("%s::jsonb", "c.owner_id")
    sql = f"SELECT DISTINCT c.owner_id FROM unnest(%s::bigint[]) AS c(owner_id){audience}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [sorted(owner_ids), json.dumps([event_type])])
        return {row[0] for row in cursor.fetchall()}


class Outbox:
    """Writes a change's webhook messages in the current transaction; nudges the workers after it commits.

    Args:
        notify: Called after commit with the new message ids (queues their delivery). Best effort: the
            dispatcher finds whatever it did not queue.
    """

    def __init__(self, *, notify: Notify) -> None:
        self.notify = notify

    def parcel_created(self, parcel: Parcel) -> None:
        """Queue ``parcel.created`` for ``parcel``."""
        self.write(WebhookEventType.PARCEL_CREATED, [(parcel, None)])

    def parcel_updated(self, parcel: Parcel) -> None:
        """Queue ``parcel.updated`` for ``parcel`` as edited."""
        self.write(WebhookEventType.PARCEL_UPDATED, [(parcel, None)])

    def events_recorded(self, changes: Sequence[tuple[Parcel, TrackingEvent]]) -> None:
        """Queue ``parcel.status_changed`` for each recorded event (its parcel as that event left it)."""
        self.write(WebhookEventType.PARCEL_STATUS_CHANGED, changes)

    def written(self, message_ids: Iterable[Any]) -> None:
        """Messages a statement of the change wrote itself (``outbox_cte``): nudge the workers after commit."""
        ids = [str(message_id) for message_id in message_ids]
        if ids:
            transaction.on_commit(lambda: self.notify(ids))

    def write(self, event_type: str, changes: Sequence[Change]) -> None:
        """Queue one ``event_type`` message per change for every endpoint that subscribes to it and may see it."""
        if not changes:
            return
        if connection.vendor == "postgresql":
            ids = self._insert_set_wise(event_type, changes)
        else:
            ids = self._insert_rows(event_type, changes)
        self.written(ids)

    @staticmethod
    def _insert_set_wise(event_type: str, changes: Sequence[Change]) -> list[Any]:
        if len(changes) > 1:
            # Snapshots only for parcels someone hears of: a carrier's batch of 1,000 events spent 18 % of its time
            # building snapshots and inserting them into a join with no endpoint subscribed. The INSERT below
            # applies the same rule again, in the statement that writes. One change's snapshot costs less than
            # the round trip that would spare it.
            heard = _owners_heard(event_type, {parcel.owner_id for parcel, _ in changes})
            changes = [(parcel, event) for parcel, event in changes if parcel.owner_id in heard]
            if not changes:
                return []
        sql = (
            f"INSERT INTO {_tables()['delivery']} ({_DELIVERY_COLUMNS})"  # noqa: S608 - names from the models
            " SELECT gen_random_uuid(), w.id, %s, c.parcel_id, c.snapshot, 'pending', 0,"
            f" clock_timestamp() + interval '{NUDGE_GRACE_S} seconds', '', clock_timestamp()"
            " FROM unnest(%s::uuid[], %s::bigint[], %s::jsonb[]) AS c(parcel_id, owner_id, snapshot)"
            + subscribers_sql("%s::jsonb", "c.owner_id")
            + " RETURNING id"
        )
        params: list[Any] = [
            event_type,
            [str(parcel.pk) for parcel, _ in changes],
            [parcel.owner_id for parcel, _ in changes],
            [json.dumps(change_snapshot(parcel, event)) for parcel, event in changes],
            json.dumps([event_type]),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    @staticmethod
    def _insert_rows(event_type: str, changes: Sequence[Change]) -> list[Any]:
        active = WebhookEndpoint.objects.filter(is_active=True, owner__is_active=True).select_related("owner")
        endpoints = [
            (endpoint.pk, endpoint.owner_id, endpoint.owner.is_staff)
            for endpoint in active
            if event_type in endpoint.events
        ]
        if not endpoints:
            return []
        now = timezone.now()
        rows = [
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_type=event_type,
                parcel_id=parcel.pk,
                snapshot=change_snapshot(parcel, event),
                next_attempt_at=now + timedelta(seconds=NUDGE_GRACE_S),
                created_at=now,
            )
            for parcel, event in changes
            for endpoint_id, owner_id, is_staff in endpoints
            if is_staff or owner_id == parcel.owner_id
        ]
        WebhookDelivery.objects.bulk_create(rows)
        return [row.pk for row in rows]
