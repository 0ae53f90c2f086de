"""The parcel workflow: create, edit and cancel parcels, record tracking events (one, or a carrier's batch).

``ParcelService`` is built with its collaborators (clock, tracking-number generator, and whatever must
hear about a change, such as the document cache) so unit tests inject fakes. Every write is atomic;
state changes lock the parcel row (``SELECT ... FOR UPDATE``, or the row lock of the one-statement
PostgreSQL path in ``events_sql``) so concurrent events are serialised, never lost, and two conflicting
terminal events cannot both win. Nothing here knows HTTP, DRF or how documents are rendered.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from opentelemetry import trace

from ..metrics import PARCELS_CREATED, TRACKING_EVENTS
from ..models import ADDRESS_FIELDS, Parcel, TrackingEvent
from .errors import InvalidTransition, ParcelNotEditable, ParcelNotFound, ParcelServiceError, PreconditionFailed
from .events_sql import insert_parcel_in_one_statement, record_event_in_one_statement, record_events_set_wise
from .outbox import Outbox
from .status_machine import ParcelStatus, can_transition

logger = logging.getLogger(__name__)

_MAX_TRACKING_NUMBER_ATTEMPTS = 5

# A span per workflow step, under the request's (no-ops unless parcel_service.http.tracing exports spans). A
# refusal (404, 409) is an answer, not a failure of the step: the span's status is left alone.
_tracer = trace.get_tracer(__name__)
_SPAN_OPTIONS: dict[str, Any] = {"record_exception": False, "set_status_on_exception": False}


def _describe_span(**attributes: object) -> None:
    """Attach ``parcel.*`` attributes to the current step's span: ids and statuses only, never personal data."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({f"parcel.{name}": str(value) for name, value in attributes.items()})


class ParcelObserver(Protocol):
    """Told of every committed-to-be change, inside its transaction (it may defer work to ``on_commit``)."""

    def parcel_changed(self, parcel: Parcel) -> None:
        """``parcel`` (its new state, version bumped) is being changed by the current transaction."""

    def parcels_changed(self, parcels: Sequence[Parcel]) -> None:
        """``parcel_changed`` for several parcels changed by one transaction (each listed once, as it ends up)."""


def check_event_status(new: str) -> None:
    """Refuse a status no tracking event may carry.

    Raises:
        InvalidTransition: ``new`` is ``cancelled``: cancelling is the sender's act (API.md), through ``cancel``.
    """
    if new == ParcelStatus.CANCELLED:
        raise InvalidTransition("Only the sender can cancel a parcel (POST /cancel/), not a tracking event.")


def check_transition(current: str, new: str) -> None:
    """Refuse a tracking event with status ``new`` on a parcel in ``current``: the one rule every event path applies.

    Raises:
        InvalidTransition: ``check_event_status`` refuses ``new``, or the status machine does not allow it.
    """
    check_event_status(new)
    if not can_transition(current, new):
        raise InvalidTransition.between(current, new)


def parcel_columns(data: Mapping[str, Any]) -> dict[str, Any]:
    """Map validated API input to model columns.

    Addresses become their ``sender_*`` / ``recipient_*`` columns (a given address replaces the whole
    address); ``dimensions_mm`` becomes the three dimension columns (``None`` clears them). Keys absent
    from ``data`` are left out, so the result also serves partial updates.
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
        clock: Returns the current time (aware).
        tracking_numbers: Returns a fresh S10 tracking number.
        observer: Hears of every change inside its transaction (the document cache's write-through).
        outbox: Writes every change's webhook messages in its transaction.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        tracking_numbers: Callable[[], str],
        observer: ParcelObserver,
        outbox: Outbox,
    ) -> None:
        self.clock = clock
        self.tracking_numbers = tracking_numbers
        self.observer = observer
        self.outbox = outbox

    @_tracer.start_as_current_span("parcel.create", **_SPAN_OPTIONS)
    def create(self, *, owner: Any, data: Mapping[str, Any]) -> Parcel:
        """Create a pending parcel with a fresh, unique S10 tracking number.

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
                # One statement is atomic by itself: outside a transaction it commits alone (one round trip,
                # measured as the largest saving on this path); inside one, a savepoint keeps a collision
                # from poisoning the caller's transaction.
                with transaction.atomic() if connection.in_atomic_block else nullcontext():
                    self._insert(parcel)
                break
            except IntegrityError:
                collided = Parcel.objects.filter(tracking_number=parcel.tracking_number).exists()
                if not collided or attempt == _MAX_TRACKING_NUMBER_ATTEMPTS:
                    raise
                logger.info("tracking number collision, retrying (attempt %d)", attempt)
        _describe_span(id=str(parcel.pk), status=parcel.status)
        transaction.on_commit(PARCELS_CREATED.inc)
        # Nothing cached can describe a parcel that did not exist (misses are not cached): nothing to refresh.
        return parcel

    def _insert(self, parcel: Parcel) -> None:
        """Insert ``parcel`` with its ``parcel.created`` messages: on PostgreSQL one statement, else a transaction."""
        if connection.vendor == "postgresql":
            self.outbox.written(insert_parcel_in_one_statement(parcel))
            return
        with transaction.atomic():
            parcel.save(force_insert=True)
            self.outbox.parcel_created(parcel)

    def update(self, *, parcel: Parcel, data: Mapping[str, Any], expected_version: int | None = None) -> Parcel:
        """Edit a parcel that is still ``pending`` (``expected_version`` from ``If-Match``, None to skip the check).

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
            self.observer.parcel_changed(locked)
            self.outbox.parcel_updated(locked)
        return locked

    @_tracer.start_as_current_span("parcel.cancel", **_SPAN_OPTIONS)
    def cancel(self, *, parcel: Parcel, actor: Any, expected_version: int | None = None) -> Parcel:
        """Cancel a pending parcel, recording a ``cancelled`` event.

        Raises:
            PreconditionFailed: ``expected_version`` is not the current version.
            ParcelNotEditable: The parcel is no longer pending.
        """
        with transaction.atomic():
            locked = self._lock(parcel.pk, expected_version)
            _describe_span(id=str(locked.pk), **{"status.from": locked.status, "status.to": ParcelStatus.CANCELLED})
            if locked.status != ParcelStatus.PENDING:
                raise ParcelNotEditable("Only pending parcels can be cancelled.")
            now = self._bump(locked)
            event = TrackingEvent.objects.create(
                parcel=locked,
                sequence=locked.version,
                status=ParcelStatus.CANCELLED,
                description="Cancelled by the sender.",
                occurred_at=now,
                recorded_at=now,
                recorded_by=actor,
            )
            locked.status = ParcelStatus.CANCELLED
            locked.save(update_fields=["status", "version", "updated_at"])
            self.observer.parcel_changed(locked)
            self.outbox.events_recorded([(locked, event)])
            transaction.on_commit(TRACKING_EVENTS.labels(ParcelStatus.CANCELLED).inc)
        return locked

    @_tracer.start_as_current_span("parcel.record_event", **_SPAN_OPTIONS)
    def record_event(
        self, *, parcel_id: uuid.UUID | str, visible: QuerySet[Parcel], actor: Any, data: Mapping[str, Any]
    ) -> TrackingEvent:
        """Record a carrier's tracking event and move the parcel through the status machine.

        The parcel row is locked for the duration, so concurrent events on one parcel are applied one
        after another against the status each actually follows, always within the caller's visibility.
        On PostgreSQL an allowed event is one statement (``events_sql``); a refused one, and every event
        elsewhere, goes through ``SELECT ... FOR UPDATE`` in a transaction. Either way the event's
        ``sequence`` and ``recorded_at`` are taken under the lock, so the timeline's last event is the
        parcel's status. A ``cancelled`` event is refused: cancelling is ``cancel``'s alone.

        Args:
            parcel_id: The parcel's id.
            visible: The parcels the caller may see (``Parcel.objects.visible_to(user)``).
            actor: The carrier or staff user recording the event.
            data: Validated event input: ``status`` and optionally ``location``, ``description``,
                ``occurred_at`` (default now) and ``estimated_delivery``.

        Raises:
            ParcelNotFound: No such parcel among ``visible``.
            InvalidTransition: The status machine does not allow ``data["status"]`` after the current status.
        """
        _describe_span(id=str(parcel_id), **{"status.to": data["status"]})
        # Before the one statement, whose status condition would let a pending parcel be cancelled.
        check_event_status(data["status"])
        if connection.vendor == "postgresql":
            recorded = self._record_event_in_one_statement(parcel_id=parcel_id, visible=visible, actor=actor, data=data)
            if recorded is not None:
                return recorded
        # Without PostgreSQL, and whenever the one statement changed nothing: under the row lock, the
        # transition is applied after all (the status changed meanwhile) or refused with why (404 or 409).
        new_status = data["status"]
        with transaction.atomic():
            locked = self._lock(parcel_id, visible=visible)
            # Known on this path only: the one statement returns the parcel as it became.
            _describe_span(**{"status.from": locked.status})
            check_transition(locked.status, new_status)
            event = self._new_event(locked.pk, actor, data, now=self._bump(locked))
            event.parcel, event.sequence = locked, locked.version
            event.save(force_insert=True)
            locked.status = new_status
            update_fields = ["status", "version", "updated_at"]
            if "estimated_delivery" in data:
                locked.estimated_delivery = data["estimated_delivery"]
                update_fields.append("estimated_delivery")
            locked.save(update_fields=update_fields)
            self.observer.parcel_changed(locked)
            self.outbox.events_recorded([(locked, event)])
            transaction.on_commit(TRACKING_EVENTS.labels(new_status).inc)
        return event

    def record_events(
        self, *, items: Sequence[Mapping[str, Any]], visible: QuerySet[Parcel], actor: Any
    ) -> list[TrackingEvent | ParcelServiceError]:
        """Record a carrier's batch of tracking events, each on its own, in list order, in one transaction.

        Each item is what ``record_event`` takes plus the parcel's canonical ``tracking_number``. The
        parcels are found and locked in one query, in id order, so two batches over the same parcels wait
        for each other instead of deadlocking; the status machine then runs here item by item (a second
        item for a parcel follows the first), and the applied events are written set-wise. An item that
        is refused is simply not applied; the others are.

        Returns:
            Per item, in order: the recorded event (with ``parcel`` set), or why it was refused
            (``ParcelNotFound``: no such parcel among ``visible``; ``InvalidTransition``).
        """
        outcomes: list[TrackingEvent | ParcelServiceError] = []
        if not items:
            return outcomes
        with transaction.atomic():
            locked = visible.filter(tracking_number__in={item["tracking_number"] for item in items})
            parcels = {parcel.tracking_number: parcel for parcel in locked.order_by("pk").select_for_update()}
            changed: dict[uuid.UUID, Parcel] = {}
            events: list[TrackingEvent] = []
            # Each event's message describes the parcel as that event left it (a later item moves it on).
            states: list[tuple[Parcel, TrackingEvent]] = []
            for data in items:
                parcel = parcels.get(data["tracking_number"])
                if parcel is None:
                    outcomes.append(ParcelNotFound("No parcel has this tracking number."))
                    continue
                try:
                    check_transition(parcel.status, data["status"])
                except InvalidTransition as refusal:
                    outcomes.append(refusal)
                    continue
                event = self._new_event(parcel.pk, actor, data)
                parcel.version += 1
                parcel.status = data["status"]
                if "estimated_delivery" in data:
                    parcel.estimated_delivery = data["estimated_delivery"]
                event.parcel, event.sequence = parcel, parcel.version
                events.append(event)
                states.append((copy.copy(parcel), event))
                changed[parcel.pk] = parcel
                outcomes.append(event)
            if events:
                self._write_events(list(changed.values()), events)
                self.observer.parcels_changed(list(changed.values()))
                for state, event in states:
                    state.updated_at = event.recorded_at
                self.outbox.events_recorded(states)
        return outcomes

    def _write_events(self, parcels: list[Parcel], events: list[TrackingEvent]) -> None:
        """Store the locked ``parcels``' new state and their new ``events``; stamp both with the time recorded."""
        if connection.vendor == "postgresql":
            record_events_set_wise(parcels=parcels, events=events)
            return
        now = self.clock()
        for parcel in parcels:
            parcel.updated_at = max(now, parcel.updated_at)
        for event in events:
            event.recorded_at = event.parcel.updated_at
            event.occurred_at = event.occurred_at or event.recorded_at
        Parcel.objects.bulk_update(parcels, ["status", "version", "estimated_delivery", "updated_at"])
        TrackingEvent.objects.bulk_create(events)

    def _record_event_in_one_statement(
        self, *, parcel_id: uuid.UUID | str, visible: QuerySet[Parcel], actor: Any, data: Mapping[str, Any]
    ) -> TrackingEvent | None:
        try:
            parcel_uuid = uuid.UUID(str(parcel_id))
        except ValueError:  # not an id at all: the locked path answers
            return None
        event = self._new_event(parcel_uuid, actor, data)
        moved = record_event_in_one_statement(parcel_id=parcel_uuid, visible=visible, data=data, event=event)
        if moved is None:
            return None
        event.parcel = moved
        self.observer.parcel_changed(moved)
        # An extra column of the statement's result (outbox_cte), which the ORM set as an attribute.
        self.outbox.written(moved.webhook_message_ids)  # type: ignore[attr-defined]
        transaction.on_commit(TRACKING_EVENTS.labels(event.status).inc)
        return event

    @staticmethod
    def _new_event(
        parcel_id: Any, actor: Any, data: Mapping[str, Any], *, now: datetime | None = None
    ) -> TrackingEvent:
        """The unsaved event ``data`` describes, recorded by ``actor`` at ``now`` (None: the statement sets it)."""
        event = TrackingEvent(
            id=uuid.uuid4(),
            parcel_id=parcel_id,
            status=data["status"],
            location=data.get("location", ""),
            description=data.get("description", ""),
            recorded_by=actor,
        )
        occurred_at = data.get("occurred_at") or now
        if occurred_at is not None:  # else the one statement sets it, with recorded_at, under the row lock
            event.occurred_at = occurred_at
        if now is not None:
            event.recorded_at = now
        return event

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
