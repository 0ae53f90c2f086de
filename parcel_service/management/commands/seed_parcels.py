"""``manage.py seed_parcels``: a large, deterministic, valid dataset for benchmarks.

Creates ``--owners`` customers ``bench-owner-0`` .. ``bench-owner-<M-1>``, a customer ``bench-shipper`` who
owns ``--shipper-share`` of the parcels and a carrier ``bench-carrier`` (member of ``carriers``, recorded as
the author of every seeded event), then tops the seeded parcels up to ``--parcels``, each with
``--events-per-parcel`` chronological tracking events that follow the status machine.

Seeded parcels carry the reference ``seed-<index>`` (zero-padded), which is how a second run finds what
exists: the command only adds the missing indexes, so running it twice with the same arguments leaves the
same counts, and running it with a larger ``--parcels`` tops the dataset up. Everything about parcel
``i`` (tracking number, owner rotation, status, dates, addresses) is derived from ``i``; only the clock
anchor of "the last year" is the time of the run.

On PostgreSQL rows are streamed with ``COPY ... FROM STDIN`` in chunks (one transaction per chunk, so an
interrupted run leaves whole parcels with all their events) and the tables are ``ANALYZE``-d at the end;
on other databases (SQLite in the test suite) ``bulk_create`` does the same work more slowly.

Refuses to run with production settings unless ``--force``.
"""

from __future__ import annotations

import io
import multiprocessing
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections, transaction
from django.utils import timezone

from parcel_service.domain.status_machine import ParcelStatus
from parcel_service.domain.tracking_numbers import check_digit
from parcel_service.models import CARRIERS_GROUP, Parcel, TrackingEvent

REFERENCE_PREFIX = "seed-"
OWNER_PREFIX = "bench-owner-"
SHIPPER_USERNAME = "bench-shipper"
CARRIER_USERNAME = "bench-carrier"
TRACKING_PREFIX = "BM"
TRACKING_COUNTRY = "NL"
SERIAL_SPACE = 10**8
# Odd and not a multiple of 5, hence coprime with 10^8: i -> (i * A + B) mod 10^8 is a bijection on
# [0, 10^8), so distinct indexes give distinct serials, spread pseudo-randomly over the whole range.
SERIAL_MULTIPLIER = 73_939_133
SERIAL_OFFSET = 19_730_527
DEFAULT_CHUNK = 50_000
# Loads at least this large (and larger than the table) drop and rebuild the secondary indexes.
REBUILD_THRESHOLD = 200_000
# Child processes rendering COPY text, and how many chunks may be rendered ahead of the one being copied.
RENDERERS = 2
AHEAD = 3
DEFAULT_SHIPPER_SHARE = 100_000
DAY_S = 86_400
HOUR_S = 3_600

S = ParcelStatus
# Final status -> (weight, journey). A journey shorter than --events-per-parcel is padded in front with
# repeated in_transit scans; a longer one is cut to its first events (every prefix starts from pending
# with in_transit, so it is still a legal path).
JOURNEYS: tuple[tuple[int, tuple[ParcelStatus, ...]], ...] = (
    (55, (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED)),
    (16, (S.IN_TRANSIT,)),
    (8, (S.IN_TRANSIT, S.OUT_FOR_DELIVERY)),
    (6, (S.IN_TRANSIT, S.AVAILABLE_FOR_PICKUP)),
    (4, (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED)),
    (4, (S.IN_TRANSIT, S.AVAILABLE_FOR_PICKUP, S.DELIVERED)),
    (3, (S.IN_TRANSIT, S.EXCEPTION)),
    (2, (S.IN_TRANSIT, S.EXCEPTION, S.RETURNED)),
    (1, (S.IN_TRANSIT, S.LOST)),
    (1, (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.IN_TRANSIT)),
)
FIRST_NAMES = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Linus", "Frances", "Ken", "Radia")
LAST_NAMES = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Torvalds", "Allen", "Perlman")
CITIES = (
    ("Amsterdam", "1012 LG", "NL"),
    ("Rotterdam", "3011 AD", "NL"),
    ("Utrecht", "3511 AB", "NL"),
    ("Berlin", "10117", "DE"),
    ("Hamburg", "20095", "DE"),
    ("Brussels", "1000", "BE"),
    ("Antwerp", "2000", "BE"),
    ("Paris", "75001", "FR"),
    ("Lyon", "69001", "FR"),
    ("Copenhagen", "1050", "DK"),
    ("Vienna", "1010", "AT"),
    ("Madrid", "28013", "ES"),
)
STREETS = ("Damrak", "Hoofdstraat", "Kerkstraat", "Unter den Linden", "Rue de Rivoli", "Gran Via", "Stroget")
HUBS = ("Amsterdam hub", "Utrecht sorting centre", "Eindhoven depot", "Cologne hub", "Antwerp depot", "")

PARCEL_COLUMNS: tuple[str, ...] = (
    "id",
    "tracking_number",
    "owner_id",
    "status",
    "reference",
    "sender_name",
    "sender_company",
    "sender_street",
    "sender_street2",
    "sender_city",
    "sender_postal_code",
    "sender_country",
    "sender_email",
    "sender_phone",
    "recipient_name",
    "recipient_company",
    "recipient_street",
    "recipient_street2",
    "recipient_city",
    "recipient_postal_code",
    "recipient_country",
    "recipient_email",
    "recipient_phone",
    "weight_grams",
    "length_mm",
    "width_mm",
    "height_mm",
    "estimated_delivery",
    "version",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "parcel_id",
    "sequence",
    "status",
    "location",
    "description",
    "occurred_at",
    "recorded_at",
    "recorded_by_id",
)


def tracking_number_for(index: int) -> str:
    """Return the seeded S10 tracking number of parcel ``index``.

    Args:
        index: The parcel's seed index, ``0 <= index < 10**8``.

    Returns:
        A valid, unique (per index) tracking number such as ``BM123456785NL``.
    """
    if not 0 <= index < SERIAL_SPACE:
        raise ValueError("seed index out of range")
    serial = f"{(index * SERIAL_MULTIPLIER + SERIAL_OFFSET) % SERIAL_SPACE:08d}"
    return f"{TRACKING_PREFIX}{serial}{check_digit(serial)}{TRACKING_COUNTRY}"


def reference_for(index: int) -> str:
    """Return the reference that marks parcel ``index`` as seeded (zero-padded so it sorts by index)."""
    return f"{REFERENCE_PREFIX}{index:08d}"


def journey(weights_roll: int, events_per_parcel: int) -> tuple[ParcelStatus, ...]:
    """Return the statuses of a parcel's events, oldest first.

    Args:
        weights_roll: A number in ``[0, 100)`` choosing the journey by the weights of ``JOURNEYS``.
        events_per_parcel: How many events the parcel gets.

    Returns:
        ``events_per_parcel`` statuses forming a legal path from ``pending``.
    """
    if events_per_parcel == 0:
        return ()
    chosen = JOURNEYS[-1][1]
    for weight, path in JOURNEYS:
        if weights_roll < weight:
            chosen = path
            break
        weights_roll -= weight
    if len(chosen) >= events_per_parcel:
        return chosen[:events_per_parcel]
    return (S.IN_TRANSIT,) * (events_per_parcel - len(chosen)) + chosen


@dataclass(frozen=True)
class SeedPlan:
    """What one run adds: parcels ``start`` .. ``stop - 1`` and which of them the shipper owns."""

    start: int
    stop: int
    shipper_new: int
    owner_ids: tuple[int, ...]
    shipper_id: int
    carrier_id: int
    events_per_parcel: int
    anchor: datetime

    def is_shippers(self, index: int) -> bool:
        """Whether new parcel ``index`` goes to the shipper: ``shipper_new`` of them, evenly spread."""
        total = self.stop - self.start
        offset = index - self.start
        return (offset + 1) * self.shipper_new // total != offset * self.shipper_new // total


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def generate(plan: SeedPlan, start: int, stop: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Build the parcel and event rows of parcels ``start`` .. ``stop - 1`` (in ``PARCEL_COLUMNS`` order).

    Args:
        plan: The run's plan.
        start: First index of the chunk.
        stop: One past the last index of the chunk.

    Returns:
        ``(parcel_rows, event_rows)``.
    """
    parcels: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    owners = plan.owner_ids
    events_per_parcel = plan.events_per_parcel
    # Leave room for every event before the anchor (at most ~31 h apart, first at most 25 h after creation).
    newest_s = max(6 * DAY_S, (events_per_parcel + 1) * 31 * HOUR_S)
    spread_s = 365 * DAY_S - newest_s
    for index in range(start, stop):
        rng = random.Random(index * 2_654_435_761 + 97)  # noqa: S311 - reproducible test data, not secrets
        rnd = rng.random
        owner = plan.shipper_id if plan.is_shippers(index) else owners[int(rnd() * len(owners))]
        created = plan.anchor - timedelta(seconds=newest_s + int(rnd() * spread_s))
        path = journey(int(rnd() * 100), events_per_parcel)
        status = path[-1] if path else S.PENDING
        parcel_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        moment = created
        for position, event_status in enumerate(path):
            moment += timedelta(seconds=HOUR_S + int(rnd() * 24 * HOUR_S))
            recorded = moment + timedelta(seconds=1 + int(rnd() * 119))
            events.append(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    parcel_id,
                    position + 2,  # the parcel's version after this event (it was created at 1)
                    event_status.value,
                    HUBS[int(rnd() * len(HUBS))],
                    "",
                    moment,
                    recorded,
                    plan.carrier_id,
                )
            )
        updated = events[-1][EVENT_COLUMNS.index("recorded_at")] if path else created
        estimated = None
        if status in (S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERY_FAILED):
            estimated = (updated + timedelta(days=1 + int(rnd() * 3))).date()
        sender_city, sender_postal, sender_country = CITIES[int(rnd() * 3)]
        city, postal, country = CITIES[int(rnd() * len(CITIES))]
        recipient = f"{FIRST_NAMES[int(rnd() * len(FIRST_NAMES))]} {LAST_NAMES[int(rnd() * len(LAST_NAMES))]}"
        dimensions: tuple[int | None, int | None, int | None] = (None, None, None)
        if int(rnd() * 10) < 7:
            dimensions = (100 + int(rnd() * 900), 100 + int(rnd() * 600), 20 + int(rnd() * 400))
        parcels.append(
            (
                parcel_id,
                tracking_number_for(index),
                owner,
                status.value,
                reference_for(index),
                "Bench Shipping BV",
                "Bench Shipping BV",
                f"{STREETS[index % 3]} {1 + index % 200}",
                "",
                sender_city,
                sender_postal,
                sender_country,
                "dispatch@bench.example",
                "+31 20 555 0100",
                recipient,
                "",
                f"{STREETS[int(rnd() * len(STREETS))]} {1 + int(rnd() * 300)}",
                "",
                city,
                postal,
                country,
                "",
                "",
                100 + int(rnd() * 29_900),
                *dimensions,
                estimated,
                1 + len(path),
                created,
                updated,
            )
        )
    return parcels, events


def _copy_text(rows: Sequence[tuple[Any, ...]]) -> str:
    """Render rows in PostgreSQL's COPY text format (values are generated, so none needs escaping)."""
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        write(
            "\t".join(
                (
                    "\\N"
                    if value is None
                    else _ts(value) if isinstance(value, datetime) else value if isinstance(value, str) else str(value)
                )
                for value in row
            )
        )
        write("\n")
    return buffer.getvalue()


def render_chunk(plan: SeedPlan, start: int, stop: int) -> tuple[str, str]:
    """Generate parcels ``start`` .. ``stop - 1`` and render them as COPY text (runs in the child process)."""
    parcel_rows, event_rows = generate(plan, start, stop)
    return _copy_text(parcel_rows), _copy_text(event_rows)


def _copy(cursor: Any, table: str, columns: Sequence[str], text: str) -> None:
    sql = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'
    raw = getattr(cursor, "cursor", cursor)
    if hasattr(raw, "copy_expert"):  # psycopg2
        raw.copy_expert(sql, io.StringIO(text), size=1 << 20)
    else:  # psycopg 3
        with raw.copy(sql) as copy:
            copy.write(text)


def _check_columns() -> None:
    """Fail loudly if the model gained a required column this command does not fill."""
    for model, columns in ((Parcel, PARCEL_COLUMNS), (TrackingEvent, EVENT_COLUMNS)):
        for field in model._meta.concrete_fields:
            if field.column in columns:
                continue
            if not (field.null or field.has_default() or getattr(field, "db_default", None) is not None):
                raise CommandError(f"seed_parcels does not fill {model.__name__}.{field.column}; update it.")
    missing = set(PARCEL_COLUMNS) - {f.column for f in Parcel._meta.concrete_fields}
    missing |= set(EVENT_COLUMNS) - {f.column for f in TrackingEvent._meta.concrete_fields}
    if missing:
        raise CommandError(f"seed_parcels writes columns the models no longer have: {sorted(missing)}")


class Command(BaseCommand):
    """Seed (or top up) a deterministic benchmark dataset of parcels and tracking events."""

    help = "Seed a large benchmark dataset (bench-* users, seed-* parcels). Idempotent; refuses prod settings."

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the command's options."""
        parser.add_argument("--parcels", type=int, required=True, help="Total seeded parcels wanted.")
        parser.add_argument("--events-per-parcel", type=int, default=3, help="Tracking events per parcel.")
        parser.add_argument("--owners", type=int, default=100, help="Customers bench-owner-0..M-1.")
        parser.add_argument(
            "--shipper-share",
            type=int,
            default=None,
            help=f"Seeded parcels owned by {SHIPPER_USERNAME} (default min({DEFAULT_SHIPPER_SHARE}, parcels/10)).",
        )
        parser.add_argument(
            "--password", default=None, help=f"Set this password on {SHIPPER_USERNAME} and {CARRIER_USERNAME}."
        )
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="Parcels per COPY/transaction.")
        parser.add_argument("--force", action="store_true", help="Run even with production settings.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the users, then add the missing seeded parcels and their events."""
        if str(getattr(settings, "SETTINGS_MODULE", "")).endswith(".prod") and not options["force"]:
            raise CommandError("Refusing to seed with production settings (pass --force for a dedicated bench DB).")
        parcels, per_parcel, owners = options["parcels"], options["events_per_parcel"], options["owners"]
        if parcels < 0 or per_parcel < 0 or owners < 1 or parcels > SERIAL_SPACE or options["chunk_size"] < 1:
            raise CommandError("Need --parcels in [0, 10^8], --events-per-parcel >= 0, --owners >= 1.")
        share = options["shipper_share"]
        share = min(DEFAULT_SHIPPER_SHARE, parcels // 10) if share is None else share
        if not 0 <= share <= parcels:
            raise CommandError("--shipper-share must be between 0 and --parcels.")
        _check_columns()
        started = time.monotonic()

        owner_ids, shipper_id, carrier_id = self._users(owners, options["password"])
        seeded = Parcel.objects.filter(reference__startswith=REFERENCE_PREFIX)
        existing = seeded.count()
        if existing:
            last = seeded.order_by("-reference").values_list("reference", flat=True).first()
            if last != reference_for(existing - 1):
                raise CommandError(f"Seeded parcels are not contiguous ({existing} rows, last {last}); reseed.")
        if existing >= parcels:
            self.stdout.write(f"{existing} seeded parcels exist (wanted {parcels}); nothing to add.")
            return
        shipper_has = seeded.filter(owner_id=shipper_id).count()
        plan = SeedPlan(
            start=existing,
            stop=parcels,
            shipper_new=max(0, min(share - shipper_has, parcels - existing)),
            owner_ids=owner_ids,
            shipper_id=shipper_id,
            carrier_id=carrier_id,
            events_per_parcel=per_parcel,
            anchor=timezone.now().replace(microsecond=0),
        )
        if connection.vendor == "postgresql":
            self._copy_all(plan, options["chunk_size"], started, options["verbosity"])
        else:
            for chunk_start, chunk_stop in _chunks(plan.start, plan.stop, options["chunk_size"]):
                parcel_rows, event_rows = generate(plan, chunk_start, chunk_stop)
                with transaction.atomic():
                    Parcel.objects.bulk_create(
                        [Parcel(**dict(zip(PARCEL_COLUMNS, row, strict=True))) for row in parcel_rows], batch_size=500
                    )
                    TrackingEvent.objects.bulk_create(
                        [TrackingEvent(**dict(zip(EVENT_COLUMNS, row, strict=True))) for row in event_rows],
                        batch_size=500,
                    )
        added = plan.stop - plan.start
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {added} parcels ({plan.shipper_new} for {SHIPPER_USERNAME}) and {added * per_parcel} "
                f"events in {time.monotonic() - started:.1f}s; {plan.stop} seeded parcels in total."
            )
        )

    def _copy_all(self, plan: SeedPlan, chunk_size: int, started: float, verbosity: int) -> None:
        """Stream the plan into PostgreSQL with COPY, rendering the next chunk in a child process meanwhile.

        A large load (at least ``REBUILD_THRESHOLD`` parcels and more than the table holds) runs as one
        transaction that drops the secondary indexes and foreign keys first and rebuilds them at the end:
        maintaining seven B-trees on random keys and checking millions of foreign keys row by row is what
        makes a big COPY slow. The drop is transactional, so an interrupted run rolls back to the intact
        table. Smaller loads commit chunk by chunk with the indexes in place.
        """
        rebuild = plan.stop - plan.start >= REBUILD_THRESHOLD and plan.stop - plan.start > plan.start
        tables = (Parcel._meta.db_table, TrackingEvent._meta.db_table)
        chunks = list(_chunks(plan.start, plan.stop, chunk_size))
        if not connection.in_atomic_block:
            # The forked renderers never touch the database; closing first means they do not even inherit the
            # socket. (Inside a caller's transaction, e.g. a test, the connection must stay open.)
            connections.close_all()
        context = multiprocessing.get_context("fork")
        with context.Pool(processes=RENDERERS) as pool, transaction.atomic() if rebuild else nullcontext():
            pending = [pool.apply_async(render_chunk, (plan, *chunk)) for chunk in chunks[:AHEAD]]
            indexes: list[str] = []
            if rebuild:
                indexes = self._drop_secondary_indexes(tables)
            for number, (_chunk_start, chunk_stop) in enumerate(chunks):
                parcel_text, event_text = pending.pop(0).get(timeout=600)
                if number + AHEAD < len(chunks):
                    pending.append(pool.apply_async(render_chunk, (plan, *chunks[number + AHEAD])))
                with transaction.atomic(), connection.cursor() as cursor:
                    # A chunk's COPY takes longer than the service's statement_timeout.
                    cursor.execute("SET LOCAL statement_timeout = 0")
                    cursor.execute("SET LOCAL synchronous_commit = off")
                    _copy(cursor, tables[0], PARCEL_COLUMNS, parcel_text)
                    _copy(cursor, tables[1], EVENT_COLUMNS, event_text)
                if verbosity >= 2 or chunk_stop % 200_000 == 0:
                    self.stdout.write(f"  {chunk_stop} parcels ({time.monotonic() - started:.1f}s)")
                    self.stdout.flush()
            if indexes:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                    for definition in indexes:
                        cursor.execute(definition)
                self.stdout.write(f"  rebuilt indexes and foreign keys ({time.monotonic() - started:.1f}s)")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
            for table in tables:
                cursor.execute(f'ANALYZE "{table}"')

    def _drop_secondary_indexes(self, tables: Sequence[str]) -> list[str]:
        """Drop the secondary indexes and foreign keys of ``tables``; return the statements that recreate them.

        Foreign keys are re-added (and so validated) in one pass over the table at the end, which is far
        cheaper than millions of per-row trigger checks.
        """
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute(
                """
                SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])
                """,
                [list(tables)],
            )
            foreign_keys = cursor.fetchall()
            for table, name, _definition in foreign_keys:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[])
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                """,
                [list(tables)],
            )
            found = cursor.fetchall()
            for name, _definition in found:
                cursor.execute(f"DROP INDEX {name}")
        recreate = [definition for _name, definition in found]
        recreate += [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in foreign_keys
        ]
        return recreate

    def _users(self, owners: int, password: str | None) -> tuple[tuple[int, ...], int, int]:
        """Create the bench users that are missing; (re)set the shipper's and carrier's password if given."""
        user_model = get_user_model()
        names = [f"{OWNER_PREFIX}{k}" for k in range(owners)]
        have = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
        user_model.objects.bulk_create(
            (
                [
                    user_model(username=name, email=f"{name}@bench.example", password=make_password(None))
                    for name in names
                ]
                if len(have) < owners
                else []
            ),
            ignore_conflicts=True,
        )
        by_name = dict(user_model.objects.filter(username__in=names).values_list("username", "id"))
        owner_ids = tuple(by_name[name] for name in names)
        carriers, _ = Group.objects.get_or_create(name=CARRIERS_GROUP)
        role_ids = []
        for username in (SHIPPER_USERNAME, CARRIER_USERNAME):
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@bench.example"}
            )
            if created:
                user.set_unusable_password()
            if password is not None and not user.check_password(password):
                user.set_password(password)
            if created or password is not None:
                user.save()
            role_ids.append(user.id)
        carrier = user_model.objects.get(pk=role_ids[1])
        carrier.groups.add(carriers)
        return owner_ids, role_ids[0], role_ids[1]


def _chunks(start: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    """Yield ``(chunk_start, chunk_stop)`` pairs covering ``start`` .. ``stop - 1``."""
    for chunk_start in range(start, stop, size):
        yield chunk_start, min(chunk_start + size, stop)
