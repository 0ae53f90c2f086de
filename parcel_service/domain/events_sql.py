"""The PostgreSQL fast paths of recording tracking events: one statement per event, or per batch.

A conditional ``UPDATE`` moves the parcel only if its status may precede the event's (it takes the row
lock, and PostgreSQL re-checks the condition against a row a concurrent event just changed), and the
event is inserted from its ``RETURNING`` row in the same statement: one round trip and one implicit
transaction instead of ``BEGIN``, lock, insert, update, ``COMMIT``. This is the hottest write; refusals
(404, 409) and other databases take ``ParcelService``'s locked path.

A carrier's batch has its parcels locked already (``ParcelService.record_events``); its events and the
parcels' new state are then written set-wise, every row of each in one statement, from arrays.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Field, QuerySet
from django.db.models.sql import InsertQuery

from ..models import Parcel, TrackingEvent, WebhookEventType
from .outbox import outbox_cte
from .status_machine import predecessors


def insert_parcel_in_one_statement(parcel: Parcel) -> list[Any]:
    """Insert ``parcel`` and queue its ``parcel.created`` webhook messages in one statement; the message ids.

    Raises:
        IntegrityError: A constraint refused the parcel (then nothing at all was written).
    """
    query = InsertQuery(Parcel)
    query.insert_values(Parcel._meta.concrete_fields, [parcel])
    ((insert_sql, params),) = query.get_compiler(connection=connection).as_sql()
    sql = (
        f"WITH created AS ({insert_sql} RETURNING *),"  # noqa: S608 - SQL the ORM compiled, every value a parameter
        f" {outbox_cte(WebhookEventType.PARCEL_CREATED, 'created')} SELECT id FROM outbox"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def record_event_in_one_statement(
    *, parcel_id: uuid.UUID, visible: QuerySet[Parcel], data: Mapping[str, Any], event: TrackingEvent
) -> Parcel | None:
    """Apply ``event`` to its parcel in one statement; the moved parcel, or None when nothing changed.

    The same statement queues the event's ``parcel.status_changed`` webhook messages (``outbox_cte``): their
    ids are the moved parcel's ``webhook_message_ids``.

    The event's ``sequence`` (the parcel's new version) and ``recorded_at`` (the parcel's new
    ``updated_at``, and ``occurred_at`` unless given) are taken under the row lock: ``clock_timestamp()``
    is read when the row is updated, after any wait for a concurrent event, where ``now()`` and the
    application's clock would be read before it. They are copied onto ``event``.

    None means the parcel is not among ``visible`` or its status may not precede the event's: the
    caller's locked path then finds out which (and answers 404 or 409) or applies a status that changed
    meanwhile.
    """
    new_status = data["status"]
    parcel_table, event_table = Parcel._meta.db_table, TrackingEvent._meta.db_table
    assignments = ["status = %s", "version = version + 1", "updated_at = greatest(clock_timestamp(), updated_at)"]
    params: list[Any] = [new_status]
    if "estimated_delivery" in data:
        assignments.append("estimated_delivery = %s")
        params.append(data["estimated_delivery"])
    params += [parcel_id, predecessors(new_status)]
    visibility = ""
    if visible.query.where:  # customers: their own parcels only
        try:
            visible_sql, visible_params = visible.values("pk").query.sql_with_params()
        except EmptyResultSet:  # nothing is visible
            return None
        visibility = f" AND id IN ({visible_sql})"
        params += visible_params
    occurred_at = data.get("occurred_at")
    params += [event.id, new_status, event.location, event.description, occurred_at, event.recorded_by_id]
    # Interpolated are only table names from the models and SQL the ORM compiled; every value is a parameter.
    sql = (
        f"WITH moved AS (UPDATE {parcel_table} SET {', '.join(assignments)}"  # noqa: S608
        f" WHERE id = %s AND status = ANY(%s){visibility} RETURNING *),"
        f" recorded AS (INSERT INTO {event_table}"
        " (id, parcel_id, sequence, status, location, description, occurred_at, recorded_at, recorded_by_id)"
        " SELECT %s, id, version, %s, %s, %s, coalesce(%s, updated_at), updated_at, %s FROM moved RETURNING *),"
        f" {outbox_cte(WebhookEventType.PARCEL_STATUS_CHANGED, 'moved', 'recorded')}"
        " SELECT moved.*, ARRAY(SELECT id FROM outbox) AS webhook_message_ids FROM moved"
    )
    moved = list(Parcel.objects.raw(sql, params))
    if not moved:
        return None
    parcel = moved[0]
    event.sequence, event.recorded_at = parcel.version, parcel.updated_at
    event.occurred_at = occurred_at or parcel.updated_at
    return parcel


def record_events_set_wise(*, parcels: Sequence[Parcel], events: Sequence[TrackingEvent]) -> None:
    """Write locked ``parcels``' new state and their new ``events`` in one statement.

    ``parcels`` carry their new status, version and estimated delivery, worked out under the row locks the
    caller holds; ``events`` their parcel and sequence. The time recorded is ``clock_timestamp()`` when each
    parcel row is written (never before its ``updated_at``), as for a single event: it becomes the parcel's
    ``updated_at`` and its events' ``recorded_at`` (and ``occurred_at`` where none was given), and is copied
    onto the objects.
    """
    parcel_table, event_table = Parcel._meta.db_table, TrackingEvent._meta.db_table
    # Interpolated are only table names from the models; every value is a parameter (an array).
    sql = (
        f"WITH moved AS (UPDATE {parcel_table} AS p SET status = c.status, version = c.version,"  # noqa: S608
        " estimated_delivery = c.estimated_delivery, updated_at = greatest(clock_timestamp(), p.updated_at)"
        " FROM unnest(%s::uuid[], %s::varchar[], %s::integer[], %s::date[])"
        " AS c(id, status, version, estimated_delivery)"
        " WHERE p.id = c.id RETURNING p.id, p.updated_at),"
        f" recorded AS (INSERT INTO {event_table}"
        " (id, parcel_id, sequence, status, location, description, occurred_at, recorded_at, recorded_by_id)"
        " SELECT e.id, e.parcel_id, e.sequence, e.status, e.location, e.description,"
        " coalesce(e.occurred_at, m.updated_at), m.updated_at, e.recorded_by_id"
        " FROM unnest(%s::uuid[], %s::uuid[], %s::integer[], %s::varchar[], %s::varchar[], %s::varchar[],"
        " %s::timestamptz[], %s::bigint[]) AS e(id, parcel_id, sequence, status, location, description,"
        " occurred_at, recorded_by_id) JOIN moved AS m ON m.id = e.parcel_id)"
        " SELECT id, updated_at FROM moved"
    )
    params: list[Any] = [
        [str(parcel.pk) for parcel in parcels],
        [parcel.status for parcel in parcels],
        [parcel.version for parcel in parcels],
        [parcel.estimated_delivery for parcel in parcels],
        [str(event.id) for event in events],
        [str(event.parcel_id) for event in events],
        [event.sequence for event in events],
        [event.status for event in events],
        [event.location for event in events],
        [event.description for event in events],
        [event.occurred_at for event in events],
        [event.recorded_by_id for event in events],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        recorded = dict(cursor.fetchall())
    for parcel in parcels:
        parcel.updated_at = recorded[parcel.pk]
    for event in events:
        event.recorded_at = recorded[event.parcel_id]
        event.occurred_at = event.occurred_at or event.recorded_at


def timelines(parcel_ids: Sequence[uuid.UUID], fields: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The events of many parcels in timeline order: ``{str(parcel id): [(field values…), …]}``.

    One statement that walks the ``(parcel, sequence)`` index once per parcel (joined to the ids, so the
    planner never trades it for a scan of the whole table, as a long ``IN`` list can make it), and reads
    plain rows: a batch reads thousands of them right after it commits.
    """
    model_fields = [cast("Field[Any, Any]", TrackingEvent._meta.get_field(name)) for name in fields]
    columns = ", ".join(f"e.{field.column}" for field in model_fields)
    sql = (
        f"SELECT e.parcel_id::text, {columns} FROM unnest(%s::uuid[]) AS p(id)"  # noqa: S608 - model columns only
        f" JOIN {TrackingEvent._meta.db_table} AS e ON e.parcel_id = p.id ORDER BY e.parcel_id, e.sequence"
    )
    found: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [[str(parcel_id) for parcel_id in parcel_ids]])
        for parcel_id, *values in cursor.fetchall():
            found.setdefault(parcel_id, []).append(tuple(values))
    return found
