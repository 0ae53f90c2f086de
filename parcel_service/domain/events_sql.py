"""The PostgreSQL fast path of recording a tracking event: one statement instead of five round trips.

A conditional ``UPDATE`` moves the parcel only if its status may precede the event's (it takes the row
lock, and PostgreSQL re-checks the condition against a row a concurrent event just changed), and the
event is inserted from its ``RETURNING`` row in the same statement: one round trip and one implicit
transaction instead of ``BEGIN``, lock, insert, update, ``COMMIT``. This is the hottest write; refusals
(404, 409) and other databases take ``ParcelService``'s locked path.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

from ..models import Parcel, TrackingEvent
from .status_machine import predecessors


def record_event_in_one_statement(
    *, parcel_id: uuid.UUID, visible: QuerySet[Parcel], data: Mapping[str, Any], event: TrackingEvent
) -> Parcel | None:
    """Apply ``event`` to its parcel in one statement; the moved parcel, or None when nothing changed.

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
        " SELECT %s, id, version, %s, %s, %s, coalesce(%s, updated_at), updated_at, %s FROM moved)"
        " SELECT * FROM moved"
    )
    moved = list(Parcel.objects.raw(sql, params))
    if not moved:
        return None
    parcel = moved[0]
    event.sequence, event.recorded_at = parcel.version, parcel.updated_at
    event.occurred_at = occurred_at or parcel.updated_at
    return parcel
