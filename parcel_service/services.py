"""Business rules: creating, editing and cancelling parcels, recording tracking events, public tracking.

``ParcelService`` is constructed with its collaborators (cache, clock, tracking-number generator) so
unit tests inject fakes; views obtain the configured instance from ``get_parcel_service()``. Every
write is atomic; state changes lock the parcel row (``SELECT ... FOR UPDATE``, or the row lock of a
conditional ``UPDATE``) so concurrent events are serialised, never lost, and two conflicting terminal
events cannot both win. Cached documents are refreshed only after the transaction commits.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .exceptions import InvalidTransition, ParcelNotEditable, ParcelNotFound, PreconditionFailed
from .models import ADDRESS_FIELDS, Parcel, TrackingEvent, can_see_parcel
from .renderers import dumps
from .serializers import ParcelSerializer
from .status_machine import ParcelStatus, can_transition, predecessors
from .tracking_numbers import TrackingNumberGenerator, normalize

logger = logging.getLogger(__name__)

# Bump these when a cached document changes shape: entries written by the previous release are then
# never read, so a deploy cannot serve the old shape.
TRACKING_CACHE_SHAPE = 1
PARCEL_CACHE_SHAPE = 1
DOCUMENT_CACHE_TTL_S = 300
# Single-flight: one request rebuilds a missing entry; concurrent ones wait this long for its result.
REBUILD_LOCK_TTL_S = 5
SINGLE_FLIGHT_WAIT_S = 0.5
_SINGLE_FLIGHT_POLL_S = 0.01
_MAX_TRACKING_NUMBER_ATTEMPTS = 5

T = TypeVar("T")
# "The caller did not read the cache" (as opposed to None: "it did, and found nothing").
NOT_LOOKED_UP = object()


def tracking_cache_key(tracking_number: str) -> str:
    """Cache key of a parcel's public tracking document (versioned by response shape)."""
    return f"track:v{TRACKING_CACHE_SHAPE}:{tracking_number}"


def parcel_cache_key(parcel_id: uuid.UUID | str) -> str:
    """Cache key of a parcel's rendered detail document (versioned by response shape)."""
    return f"parcel:v{PARCEL_CACHE_SHAPE}:{uuid.UUID(str(parcel_id))}"


def parcel_version_cache_key(parcel_id: uuid.UUID | str) -> str:
    """Cache key of the parcel version its cached documents describe (guards write-through ordering)."""
    return f"parcel-version:{uuid.UUID(str(parcel_id))}"


class ParcelDocument(NamedTuple):
    """A parcel's detail response, pre-rendered: who owns it (for the visibility check), its ETag, its JSON."""

    owner_id: int
    etag: str
    body: bytes


def parcel_columns(data: Mapping[str, Any]) -> dict[str, Any]:
    """Map validated API input to model columns.

    Addresses become their ``sender_*`` / ``recipient_*`` columns (a given address replaces the whole
    address); ``dimensions_mm`` becomes the three dimension columns (``None`` clears them). Keys
    absent from ``data`` are left out, so the result also serves partial updates.

    Args:
        data: Validated input from a create or update serializer.

    Returns:
        Column name to value.
    """
    columns: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("sender", "recipient"):
            columns.update({f"{key}_{field}": value.get(field, "") for field in ADDRESS_FIELDS})
        elif key == "dimensions_mm":
            value = value or {}
            columns.update({f"{axis}_mm": value.get(axis) for axis in ("length", "width", "height")})
        else:
            columns[key] = value
    return columns


class ParcelService:
    """The parcel workflow. Stateless apart from its injected collaborators.

    Args:
        cache: A Django cache that also has ``set_many_if_newer`` (both backends in ``parcel_service.cache``).
        clock: Returns the current time (aware).
        tracking_numbers: Returns a fresh S10 tracking number.
    """

    def __init__(
        self,
        *,
        cache: BaseCache,
        clock: Callable[[], datetime],
        tracking_numbers: Callable[[], str],
    ) -> None:
        self.cache = cache
        self.clock = clock
        self.tracking_numbers = tracking_numbers

    # -- writes -----------------------------------------------------------------------------------------

    def create(self, *, owner: Any, data: Mapping[str, Any]) -> Parcel:
        """Create a pending parcel with a fresh, unique S10 tracking number.

        Args:
            owner: The customer the parcel belongs to.
            data: Validated ``ParcelCreateSerializer`` data.

        Returns:
            The saved parcel.

        Raises:
            IntegrityError: No unique tracking number after several attempts (practically impossible with
                10^8 random serials), or another constraint failed.
        """
        now = self.clock()
        columns = parcel_columns(data)
        for attempt in range(1, _MAX_TRACKING_NUMBER_ATTEMPTS + 1):
            parcel = Parcel(
                owner=owner, tracking_number=self.tracking_numbers(), created_at=now, updated_at=now, **columns
            )
            try:
                # One INSERT is atomic by itself: outside a transaction it commits alone (one round trip,
                # measured as the largest saving on this path); inside one, a savepoint keeps a collision
                # from poisoning the caller's transaction.
                with transaction.atomic() if connection.in_atomic_block else nullcontext():
                    parcel.save(force_insert=True)
                break
            except IntegrityError:
                collided = Parcel.objects.filter(tracking_number=parcel.tracking_number).exists()
                if not collided or attempt == _MAX_TRACKING_NUMBER_ATTEMPTS:
                    raise
                logger.info("tracking number collision, retrying (attempt %d)", attempt)
        # Nothing cached can describe a parcel that did not exist (misses are not cached): nothing to refresh.
        return parcel

    def update(self, *, parcel: Parcel, data: Mapping[str, Any], expected_version: int | None = None) -> Parcel:
        """Edit a parcel that is still ``pending``.

        Args:
            parcel: The parcel, already resolved with the caller's visibility.
            data: Validated ``ParcelUpdateSerializer`` data (only the fields to change).
            expected_version: The version the client last saw (from ``If-Match``), or None to skip the check.

        Returns:
            The updated parcel.

        Raises:
            PreconditionFailed: ``expected_version`` is not the current version.
            ParcelNotEditable: The parcel is no longer pending.
        """
        with transaction.atomic():
            locked = self._lock(parcel.pk, expected_version)
            if locked.status != ParcelStatus.PENDING:
                raise ParcelNotEditable()
            if not data:  # nothing to change: not a change, so the version (and ETag) stay
                return locked
            for column, value in parcel_columns(data).items():
                setattr(locked, column, value)
            self._bump(locked)
            locked.save()
            self._refresh_after_commit(locked)
        return locked

    def cancel(self, *, parcel: Parcel, actor: Any, expected_version: int | None = None) -> Parcel:
        """Cancel a pending parcel, recording a ``cancelled`` event.

        Args:
            parcel: The parcel, already resolved with the caller's visibility.
            actor: The user cancelling it.
            expected_version: The version the client last saw (from ``If-Match``), or None.

        Returns:
            The cancelled parcel.

        Raises:
            PreconditionFailed: ``expected_version`` is not the current version.
            ParcelNotEditable: The parcel is no longer pending.
        """
        with transaction.atomic():
            locked = self._lock(parcel.pk, expected_version)
            if locked.status != ParcelStatus.PENDING:
                raise ParcelNotEditable("Only pending parcels can be cancelled.")
            now = self._bump(locked)
            TrackingEvent.objects.create(
                parcel=locked,
                status=ParcelStatus.CANCELLED,
                description="Cancelled by the sender.",
                occurred_at=now,
                recorded_at=now,
                recorded_by=actor,
            )
            locked.status = ParcelStatus.CANCELLED
            locked.save(update_fields=["status", "version", "updated_at"])
            self._refresh_after_commit(locked)
        return locked

    def record_event(
        self, *, parcel_id: uuid.UUID | str, visible: QuerySet[Parcel], actor: Any, data: Mapping[str, Any]
    ) -> TrackingEvent:
        """Record a carrier's tracking event and move the parcel through the status machine.

        The parcel row is locked for the duration, so concurrent events on one parcel are applied one
        after another against the status each actually follows, always within the caller's visibility.
        On PostgreSQL an allowed event is one statement (``_record_event_in_one_statement``); a refused
        one, and every event elsewhere, goes through ``SELECT ... FOR UPDATE`` in a transaction.

        Args:
            parcel_id: The parcel's id.
            visible: The parcels the caller may see (``Parcel.objects.visible_to(user)``).
            actor: The carrier or staff user recording the event.
            data: Validated ``TrackingEventCreateSerializer`` data: ``status`` and optionally ``location``,
                ``description``, ``occurred_at`` (default now) and ``estimated_delivery``.

        Returns:
            The recorded event.

        Raises:
            ParcelNotFound: No such parcel among ``visible``.
            InvalidTransition: The status machine does not allow ``data["status"]`` after the current status.
        """
        if connection.vendor == "postgresql":
            recorded = self._record_event_in_one_statement(parcel_id=parcel_id, visible=visible, actor=actor, data=data)
            if recorded is not None:
                return recorded
        # Without PostgreSQL, and whenever the one statement changed nothing: under the row lock, the
        # transition is applied after all (the status changed meanwhile) or refused with why (404 or 409).
        new_status = data["status"]
        with transaction.atomic():
            locked = self._lock(parcel_id, visible=visible)
            if not can_transition(locked.status, new_status):
                raise InvalidTransition(f"A {locked.status} parcel cannot become {new_status}.")
            event = self._new_event(locked.pk, actor, data, now=self._bump(locked))
            event.parcel = locked
            event.save(force_insert=True)
            locked.status = new_status
            update_fields = ["status", "version", "updated_at"]
            if "estimated_delivery" in data:
                locked.estimated_delivery = data["estimated_delivery"]
                update_fields.append("estimated_delivery")
            locked.save(update_fields=update_fields)
            self._refresh_after_commit(locked)
        return event

    def _record_event_in_one_statement(
        self, *, parcel_id: uuid.UUID | str, visible: QuerySet[Parcel], actor: Any, data: Mapping[str, Any]
    ) -> TrackingEvent | None:
        """Record an event with one PostgreSQL statement, or change nothing and return None.

        A conditional ``UPDATE`` moves the parcel only if its status may precede the event's (it takes
        the row lock, and PostgreSQL re-checks the condition against a row a concurrent event just
        changed), and the event is inserted from its ``RETURNING`` row in the same statement: one round
        trip and one implicit transaction instead of five round trips (``BEGIN``, lock, insert, update,
        ``COMMIT``). This is the hottest write; the locked path in ``record_event`` stays for refusals.
        """
        try:
            parcel_uuid = uuid.UUID(str(parcel_id))
        except ValueError:  # not an id at all: the locked path answers
            return None
        new_status = data["status"]
        now = self.clock()
        parcel_table, event_table = Parcel._meta.db_table, TrackingEvent._meta.db_table
        assignments, params = ["status = %s", "version = version + 1", "updated_at = %s"], [new_status, now]
        if "estimated_delivery" in data:
            assignments.append("estimated_delivery = %s")
            params.append(data["estimated_delivery"])
        params += [parcel_uuid, predecessors(new_status)]
        visibility = ""
        if visible.query.where:  # customers: their own parcels only
            try:
                visible_sql, visible_params = visible.values("pk").query.sql_with_params()
            except EmptyResultSet:  # nothing is visible
                return None
            visibility = f" AND id IN ({visible_sql})"
            params += visible_params
        event = self._new_event(parcel_uuid, actor, data, now=now)
        params += [
            event.id,
            new_status,
            event.location,
            event.description,
            event.occurred_at,
            now,
            event.recorded_by_id,
        ]
        # Interpolated are only table names from the models and SQL the ORM compiled; every value is a parameter.
        sql = (
            f"WITH moved AS (UPDATE {parcel_table} SET {', '.join(assignments)}"  # noqa: S608
            f" WHERE id = %s AND status = ANY(%s){visibility} RETURNING *),"
            f" recorded AS (INSERT INTO {event_table}"
            " (id, parcel_id, status, location, description, occurred_at, recorded_at, recorded_by_id)"
            " SELECT %s, id, %s, %s, %s, %s, %s, %s FROM moved)"
            " SELECT * FROM moved"
        )
        moved = list(Parcel.objects.raw(sql, params))
        if not moved:
            return None
        event.parcel = moved[0]
        self._refresh_after_commit(moved[0])
        return event

    @staticmethod
    def _new_event(parcel_id: Any, actor: Any, data: Mapping[str, Any], *, now: datetime) -> TrackingEvent:
        """The unsaved event ``data`` describes, recorded by ``actor`` at ``now``."""
        return TrackingEvent(
            id=uuid.uuid4(),
            parcel_id=parcel_id,
            status=data["status"],
            location=data.get("location", ""),
            description=data.get("description", ""),
            occurred_at=data.get("occurred_at") or now,
            recorded_at=now,
            recorded_by=actor,
        )

    # -- reads ------------------------------------------------------------------------------------------

    def track(self, *, tracking_number: str, cached: bytes | object | None = NOT_LOOKED_UP) -> bytes | None:
        """Return the public tracking document for a tracking number, as JSON bytes.

        Served from the cache when warm; built from the database and cached on a miss. The document
        holds exactly ``tracking_number, status, estimated_delivery, updated_at, events`` — nothing
        about people or addresses.

        Args:
            tracking_number: As the client typed it (case and spaces are normalised).
            cached: The cache entry when the caller already read it (``tracking_cache_key``; None for a miss).

        Returns:
            The JSON document, or None when no parcel has this tracking number.

        Raises:
            InvalidTrackingNumber: Malformed, or the check digit is wrong.
        """
        canonical = normalize(tracking_number)
        if cached is not NOT_LOOKED_UP and cached is not None:
            return cached  # type: ignore[return-value]
        return self._cached(
            tracking_cache_key(canonical),
            lambda: self._tracking_document(canonical),
            single_flight=True,
            known_miss=cached is None,
        )

    def parcel_document(self, *, parcel_id: uuid.UUID | str, user: Any) -> ParcelDocument | None:
        """Return a parcel's detail response, pre-rendered, if ``user`` may see it.

        Served from the cache when warm (no query beyond authentication); on a miss built from the
        database and cached. The cached copy is shared by everyone who may see the parcel, so
        visibility is checked here on every read, with the same rule as ``Parcel.objects.visible_to``.

        Args:
            parcel_id: The parcel's id.
            user: The caller.

        Returns:
            The document, or None when the parcel does not exist or is not the caller's to see.
        """
        # No single flight here: a parcel's detail is read by its owner and a few carriers, not by a crowd,
        # and the lock would cost two extra cache round trips on every miss (measured).
        document = self._cached(parcel_cache_key(parcel_id), lambda: self._parcel_document(parcel_id))
        if document is None or not can_see_parcel(user, document.owner_id):
            return None
        return document

    # -- helpers ----------------------------------------------------------------------------------------

    def _cached(
        self, key: str, build: Callable[[], T | None], *, single_flight: bool = False, known_miss: bool = False
    ) -> T | None:
        """Read-through cache, with optional single-flight rebuilds.

        With ``single_flight``, on a miss the request that wins ``cache.add`` on a short-lived lock key
        rebuilds the entry; concurrent requests for the same key wait up to ``SINGLE_FLIGHT_WAIT_S`` for
        it instead of all hitting the database (a burst on one public tracking number costs one query).
        With the cache unavailable (``add`` answers None) every request simply builds its own answer.
        ``known_miss`` skips the first read when the caller has just read the entry and found nothing.
        """
        value = None if known_miss else self.cache.get(key)
        if value is not None:
            return value
        lock_key = f"{key}:rebuild"
        acquired = self.cache.add(lock_key, 1, REBUILD_LOCK_TTL_S) if single_flight else None
        if acquired is False:
            deadline = time.monotonic() + SINGLE_FLIGHT_WAIT_S
            while time.monotonic() < deadline:
                time.sleep(_SINGLE_FLIGHT_POLL_S)
                value = self.cache.get(key)
                if value is not None:
                    return value
        try:
            value = build()
            if value is not None:
                # add(), not set(): if a writer refreshed the entry meanwhile, its newer copy wins.
                self.cache.add(key, value, DOCUMENT_CACHE_TTL_S)
        finally:
            if acquired:
                self.cache.delete(lock_key)
        return value

    def _lock(
        self, parcel_id: Any, expected_version: int | None = None, *, visible: QuerySet[Parcel] | None = None
    ) -> Parcel:
        try:
            locked = (Parcel.objects if visible is None else visible).select_for_update().get(pk=parcel_id)
        except (Parcel.DoesNotExist, ValidationError):  # no such parcel, or not even an id
            raise ParcelNotFound() from None
        if expected_version is not None and locked.version != expected_version:
            raise PreconditionFailed()
        return locked

    def _bump(self, parcel: Parcel) -> datetime:
        now = self.clock()
        parcel.version += 1
        parcel.updated_at = now
        return now

    def _parcel_document(self, parcel_id: uuid.UUID | str) -> ParcelDocument | None:
        parcel = Parcel.objects.filter(pk=parcel_id).first()
        return None if parcel is None else self._render_parcel(parcel)

    @staticmethod
    def _render_parcel(parcel: Parcel) -> ParcelDocument:
        return ParcelDocument(owner_id=parcel.owner_id, etag=parcel.etag, body=dumps(ParcelSerializer(parcel).data))

    def _tracking_document(self, tracking_number: str) -> bytes | None:
        # One query: the parcel LEFT JOIN its events (a row per event, or one row of NULLs without events).
        rows = list(
            Parcel.objects.filter(tracking_number=tracking_number)
            .order_by("events__occurred_at", "events__recorded_at")
            .values_list(
                "tracking_number",
                "status",
                "estimated_delivery",
                "updated_at",
                "events__status",
                "events__location",
                "events__description",
                "events__occurred_at",
            )
        )
        if not rows:
            return None
        number, status, estimated_delivery, updated_at = rows[0][:4]
        events = [
            {"status": row[4], "location": row[5], "description": row[6], "occurred_at": row[7]}
            for row in rows
            if row[4] is not None
        ]
        return dumps(
            {
                "tracking_number": number,
                "status": status,
                "estimated_delivery": estimated_delivery,
                "updated_at": updated_at,
                "events": events,
            }
        )

    @staticmethod
    def _render_tracking(parcel_id: Any, fields: Mapping[str, Any]) -> bytes:
        events = list(
            TrackingEvent.objects.filter(parcel_id=parcel_id)
            .order_by("occurred_at", "recorded_at")
            .values("status", "location", "description", "occurred_at")
        )
        return dumps({**fields, "events": events})

    def _refresh_after_commit(self, parcel: Parcel) -> None:
        parcel_document = self._render_parcel(parcel)
        tracking_fields = {
            "tracking_number": parcel.tracking_number,
            "status": parcel.status,
            "estimated_delivery": parcel.estimated_delivery,
            "updated_at": parcel.updated_at,
        }

        def refresh() -> None:
            # Write-through after commit, never before: a reader never sees an uncommitted change, and a
            # reader that built a stale copy before the commit can only add() it, which fails once this
            # fresh copy is in place. The parcel's own fields are known; only its events are read.
            # Guarded by the parcel's version: a writer that stalled between its commit and this write
            # (a descheduled worker, a GC pause) cannot replace the documents of a later change.
            tracking_document = self._render_tracking(parcel.pk, tracking_fields)
            self.cache.set_many_if_newer(
                parcel_version_cache_key(parcel.pk),
                parcel.version,
                {
                    parcel_cache_key(parcel.pk): parcel_document,
                    tracking_cache_key(parcel.tracking_number): tracking_document,
                },
                DOCUMENT_CACHE_TTL_S,
            )

        transaction.on_commit(refresh)


@lru_cache(maxsize=1)
def get_parcel_service() -> ParcelService:
    """The configured service: the default cache, the wall clock and the S10 generator from settings."""
    return ParcelService(
        cache=caches["default"],
        clock=timezone.now,
        tracking_numbers=TrackingNumberGenerator(settings.TRACKING_NUMBER_PREFIX, settings.TRACKING_NUMBER_COUNTRY),
    )
