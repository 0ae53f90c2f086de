"""Pre-rendered documents in the cache: a parcel's detail response and its public tracking document.

Reads are served from the cache when warm and rebuilt from the database on a miss (the public tracking
document with single flight, so a burst on one number costs one query). Writes go through: after a
change commits, both documents are rendered and stored, guarded by the parcel's version so a writer
that stalled cannot replace a later change's documents.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from django.db import connection, transaction
from opentelemetry import trace

from ..domain.events_sql import timelines
from ..domain.tracking_numbers import normalize
from ..http.cache import VersionGuardedCache
from ..http.renderers import dumps
from ..metrics import CACHE_REQUESTS
from ..models import Parcel, TrackingEvent, can_see_parcel
from .serializers import ParcelSerializer

# Bump these when a cached document changes shape: entries written by the previous release are then
# never read, so a deploy cannot serve the old shape.
TRACKING_CACHE_SHAPE = 1
PARCEL_CACHE_SHAPE = 1
DOCUMENT_CACHE_TTL_S = 300
# Single-flight: one request rebuilds a missing entry; concurrent ones wait this long for its result.
REBUILD_LOCK_TTL_S = 5
SINGLE_FLIGHT_WAIT_S = 0.5
_SINGLE_FLIGHT_POLL_S = 0.01

T = TypeVar("T")
# "The caller did not read the cache" (as opposed to None: "it did, and found nothing").
NOT_LOOKED_UP = object()
# The tracking document's event fields, oldest event first.
TRACKING_EVENT_FIELDS = ("status", "location", "description", "occurred_at")

_tracer = trace.get_tracer(__name__)
# Bound once: looking a labelled child up costs more than counting with it, on the hottest read.
_HITS = {kind: CACHE_REQUESTS.labels(kind, "hit") for kind in ("tracking", "parcel")}
_MISSES = {kind: CACHE_REQUESTS.labels(kind, "miss") for kind in ("tracking", "parcel")}


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


# One instance renders every parcel: building a serializer per parcel costs more than rendering it (a batch of
# events renders a thousand).
_PARCEL = ParcelSerializer()


def _compact(document: bytes) -> bytes:
    """``document`` in a bytes object of its own size.

    orjson returns its whole output buffer, at least 4 KiB, however short the JSON (measured with orjson 3.13:
    20,000 documents of 300 bytes held 78 MiB, copies 7 MiB). A batch of events holds two documents per
    parcel until one Redis call writes them all: 8 MiB of a 1000-event batch's 20 MiB peak, without this copy.
    """
    return bytes(memoryview(document))


def render_parcel(parcel: Parcel) -> ParcelDocument:
    """The detail response of ``parcel`` as it is now."""
    body = _compact(dumps(_PARCEL.to_representation(parcel)))
    return ParcelDocument(owner_id=parcel.owner_id, etag=parcel.etag, body=body)


def render_tracking(parcel: Mapping[str, Any], events: list[dict[str, Any]]) -> bytes:
    """The public tracking document: exactly these keys, nothing about people or addresses (API.md)."""
    return _compact(
        dumps(
            {
                "tracking_number": parcel["tracking_number"],
                "status": parcel["status"],
                "estimated_delivery": parcel["estimated_delivery"],
                "updated_at": parcel["updated_at"],
                "events": events,
            }
        )
    )


def read_timelines(parcel_ids: Sequence[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    """The public tracking events of many parcels, oldest first, by parcel id (as a string); one query."""
    if connection.vendor == "postgresql":
        rows = timelines(parcel_ids, TRACKING_EVENT_FIELDS)
        return {
            parcel_id: [dict(zip(TRACKING_EVENT_FIELDS, values, strict=True)) for values in events]
            for parcel_id, events in rows.items()
        }
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    events = TrackingEvent.objects.filter(parcel_id__in=parcel_ids).order_by("parcel_id", "sequence")
    for parcel_id, *values in events.values_list("parcel_id", *TRACKING_EVENT_FIELDS):
        found[str(parcel_id)].append(dict(zip(TRACKING_EVENT_FIELDS, values, strict=True)))
    return found


def _tracking_fields(parcel: Parcel) -> dict[str, Any]:
    """The parcel's own fields in its public tracking document."""
    return {
        "tracking_number": parcel.tracking_number,
        "status": parcel.status,
        "estimated_delivery": parcel.estimated_delivery,
        "updated_at": parcel.updated_at,
    }


class DocumentCache:
    """Read-through and write-through cache of the pre-rendered documents.

    Args:
        cache: A Django cache that also has ``set_many_if_newer`` and ``set_many_if_newer_batch`` (both backends
            in ``http.cache``).
    """

    def __init__(self, *, cache: VersionGuardedCache) -> None:
        self.cache = cache

    def track(self, *, tracking_number: str, cached: bytes | object | None = NOT_LOOKED_UP) -> bytes | None:
        """The public tracking document for a tracking number, as JSON bytes; None when no parcel has it.

        Args:
            tracking_number: As the client typed it (case and spaces are normalised).
            cached: The cache entry when the caller already read it (``tracking_cache_key``; None for a miss).

        Raises:
            InvalidTrackingNumber: Malformed, or the check digit is wrong.
        """
        canonical = normalize(tracking_number)
        if isinstance(cached, bytes):
            _HITS["tracking"].inc()
            return cached
        return self._cached(
            "tracking",
            tracking_cache_key(canonical),
            lambda: self._tracking_document(canonical),
            single_flight=True,
            known_miss=cached is None,
        )

    def parcel_document(self, *, parcel_id: uuid.UUID | str, user: Any) -> ParcelDocument | None:
        """A parcel's detail response, pre-rendered, if ``user`` may see it (else None).

        The cached copy is shared by everyone who may see the parcel, so visibility is checked here on
        every read, with the same rule as ``Parcel.objects.visible_to``.
        """
        # No single flight here: a parcel's detail is read by its owner and a few carriers, not by a crowd,
        # and the lock would cost two extra cache round trips on every miss (measured).
        document = self._cached("parcel", parcel_cache_key(parcel_id), lambda: self._parcel_document(parcel_id))
        if document is None or not can_see_parcel(user, document.owner_id):
            return None
        return document

    def parcel_changed(self, parcel: Parcel) -> None:
        """Render ``parcel``'s detail now and write both documents through once the transaction commits."""
        parcel_document = render_parcel(parcel)
        fields = _tracking_fields(parcel)

        @_tracer.start_as_current_span("document.write_through")
        def refresh() -> None:
            # Write-through after commit, never before: a reader never sees an uncommitted change, and a
            # reader that built a stale copy before the commit can only add() it, which fails once this
            # fresh copy is in place. The parcel's own fields are known; only its events are read.
            # Guarded by the parcel's version: a writer that stalled between its commit and this write
            # (a descheduled worker, a GC pause) cannot replace the documents of a later change.
            events = list(
                TrackingEvent.objects.filter(parcel_id=parcel.pk).order_by("sequence").values(*TRACKING_EVENT_FIELDS)
            )
            written = self.cache.set_many_if_newer(
                parcel_version_cache_key(parcel.pk),
                parcel.version,
                {
                    parcel_cache_key(parcel.pk): parcel_document,
                    tracking_cache_key(parcel.tracking_number): render_tracking(fields, events),
                },
                DOCUMENT_CACHE_TTL_S,
            )
            span = trace.get_current_span()
            if span.is_recording():
                span.set_attributes(
                    {"parcel.id": str(parcel.pk), "parcel.version": parcel.version, "document.written": written}
                )

        transaction.on_commit(refresh)

    def parcels_changed(self, parcels: Sequence[Parcel]) -> None:
        """``parcel_changed`` for many parcels (a batch of events), in one query and one cache round trip.

        After the commit one query reads their timelines and one script writes every document through, each
        guarded by its parcel's version.
        """
        rendered = [(parcel.pk, parcel.version, render_parcel(parcel), _tracking_fields(parcel)) for parcel in parcels]

        def refresh() -> None:
            timelines = read_timelines([parcel_id for parcel_id, *_ in rendered])
            self.cache.set_many_if_newer_batch(
                [
                    (
                        parcel_version_cache_key(parcel_id),
                        version,
                        {
                            parcel_cache_key(parcel_id): parcel_document,
                            tracking_cache_key(fields["tracking_number"]): render_tracking(
                                fields, timelines.get(str(parcel_id), [])
                            ),
                        },
                    )
                    for parcel_id, version, parcel_document, fields in rendered
                ],
                DOCUMENT_CACHE_TTL_S,
            )

        transaction.on_commit(refresh)

    def _cached(
        self,
        kind: str,
        key: str,
        build: Callable[[], T | None],
        *,
        single_flight: bool = False,
        known_miss: bool = False,
    ) -> T | None:
        """Read-through cache, with optional single-flight rebuilds.

        With ``single_flight``, on a miss the request that wins ``cache.add`` on a short-lived lock key
        rebuilds the entry; concurrent requests for the same key wait up to ``SINGLE_FLIGHT_WAIT_S`` for
        it instead of all hitting the database. With the cache unavailable (``add`` answers None) every
        request simply builds its own answer. ``known_miss`` skips the first read when the caller has
        just read the entry and found nothing. ``kind`` (``tracking``, ``parcel``) labels the hit or miss.
        """
        value = None if known_miss else self.cache.get(key)
        if value is not None:
            _HITS[kind].inc()
            return value
        _MISSES[kind].inc()
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
            with _tracer.start_as_current_span("document.rebuild", attributes={"document.kind": kind}):
                value = build()
            if value is not None:
                # add(), not set(): if a writer refreshed the entry meanwhile, its newer copy wins.
                self.cache.add(key, value, DOCUMENT_CACHE_TTL_S)
        finally:
            if acquired:
                self.cache.delete(lock_key)
        return value

    @staticmethod
    def _parcel_document(parcel_id: uuid.UUID | str) -> ParcelDocument | None:
        parcel = Parcel.objects.filter(pk=parcel_id).first()
        return None if parcel is None else render_parcel(parcel)

    @staticmethod
    def _tracking_document(tracking_number: str) -> bytes | None:
        # One query: the parcel LEFT JOIN its events (a row per event, or one row of NULLs without events).
        parcel_fields = ("tracking_number", "status", "estimated_delivery", "updated_at")
        rows = list(
            Parcel.objects.filter(tracking_number=tracking_number)
            .order_by("events__sequence")
            .values(*parcel_fields, *(f"events__{field}" for field in TRACKING_EVENT_FIELDS))
        )
        if not rows:
            return None
        events = [
            {field: row[f"events__{field}"] for field in TRACKING_EVENT_FIELDS}
            for row in rows
            if row["events__status"] is not None
        ]
        return render_tracking(rows[0], events)
