"""The ``seed_parcels`` benchmark command: valid rows, exact counts, idempotent top-ups, refusal on prod.

Runs on whatever database the suite uses: ``bulk_create`` on SQLite, the ``COPY`` path on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from parcel_service.domain.status_machine import ParcelStatus, can_transition
from parcel_service.domain.tracking_numbers import is_valid
from parcel_service.management.commands.seed_parcels import (
    CARRIER_USERNAME,
    SHIPPER_USERNAME,
    _copy_text,
    journey,
    tracking_number_for,
)
from parcel_service.models import CARRIERS_GROUP, Parcel, TrackingEvent

pytestmark = pytest.mark.django_db


def seed(**options: object) -> str:
    out = StringIO()
    call_command("seed_parcels", stdout=out, **options)
    return out.getvalue()


def test_seeds_valid_parcels_and_events() -> None:
    seed(parcels=120, events_per_parcel=3, owners=4, shipper_share=30, chunk_size=50, password="bench-pw-123")

    assert Parcel.objects.count() == 120
    assert TrackingEvent.objects.count() == 360
    users = get_user_model().objects
    assert users.filter(username__startswith="bench-owner-").count() == 4
    shipper = users.get(username=SHIPPER_USERNAME)
    carrier = users.get(username=CARRIER_USERNAME)
    assert shipper.check_password("bench-pw-123")
    assert carrier.groups.filter(name=CARRIERS_GROUP).exists()
    assert Parcel.objects.filter(owner=shipper).count() == 30
    per_owner = Counter(Parcel.objects.exclude(owner=shipper).values_list("owner__username", flat=True))
    assert sum(per_owner.values()) == 90 and len(per_owner) == 4  # the other 90 spread over the 4 owners

    numbers = list(Parcel.objects.values_list("tracking_number", flat=True))
    assert len(set(numbers)) == 120
    assert all(is_valid(number) for number in numbers)
    now = timezone.now()
    statuses = set()
    for parcel in Parcel.objects.prefetch_related("events"):
        events = sorted(parcel.events.all(), key=lambda e: (e.occurred_at, e.recorded_at))
        assert len(events) == 3
        current = ParcelStatus.PENDING
        for event in events:
            assert can_transition(current, event.status), (current, event.status)
            assert event.recorded_by_id == carrier.id
            current = event.status
        assert parcel.status == current
        statuses.add(current)
        assert parcel.version == 1 + len(events)
        assert parcel.updated_at == events[-1].recorded_at
        assert parcel.created_at < events[0].occurred_at <= events[-1].occurred_at <= now
        assert now - parcel.created_at < timedelta(days=366)
        assert parcel.reference.startswith("seed-")
        parcel.full_clean(exclude=["tracking_number"])  # model validation: choices, lengths, ranges
    assert len(statuses) >= 3


def test_idempotent_and_tops_up() -> None:
    options = {"events_per_parcel": 2, "owners": 3, "chunk_size": 7}
    seed(parcels=40, shipper_share=10, **options)
    first = set(Parcel.objects.values_list("tracking_number", flat=True))

    assert "nothing to add" in seed(parcels=40, shipper_share=10, **options)
    assert Parcel.objects.count() == 40
    assert TrackingEvent.objects.count() == 80
    assert get_user_model().objects.filter(username__startswith="bench-").count() == 5

    seed(parcels=100, shipper_share=25, **options)
    assert Parcel.objects.count() == 100
    assert TrackingEvent.objects.count() == 200
    assert Parcel.objects.filter(owner__username=SHIPPER_USERNAME).count() == 25
    assert first <= set(Parcel.objects.values_list("tracking_number", flat=True))
    assert len(set(Parcel.objects.values_list("tracking_number", flat=True))) == 100


def test_default_shipper_share_is_a_tenth() -> None:
    seed(parcels=50, owners=2)
    assert Parcel.objects.filter(owner__username=SHIPPER_USERNAME).count() == 5
    assert TrackingEvent.objects.count() == 150


def test_refuses_production_settings_unless_forced(settings) -> None:
    settings.SETTINGS_MODULE = "core_project.settings.prod"
    with pytest.raises(CommandError, match="production"):
        seed(parcels=5, owners=1)
    assert not Parcel.objects.exists()

    seed(parcels=5, owners=1, force=True)
    assert Parcel.objects.count() == 5


def test_rejects_bad_arguments() -> None:
    with pytest.raises(CommandError):
        seed(parcels=10, owners=0)
    with pytest.raises(CommandError):
        seed(parcels=10, shipper_share=11)


def test_tracking_numbers_distinct_and_valid_across_the_serial_space() -> None:
    numbers = [tracking_number_for(i) for i in range(0, 10**8, 99_991)]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid(n) and n.startswith("BM") and n.endswith("NL") for n in numbers)
    with pytest.raises(ValueError):
        tracking_number_for(10**8)


@pytest.mark.parametrize("roll", range(0, 100, 7))
@pytest.mark.parametrize("length", [0, 1, 2, 3, 5])
def test_journeys_are_legal(roll: int, length: int) -> None:
    path = journey(roll, length)
    assert len(path) == length
    current = ParcelStatus.PENDING
    for status in path:
        assert can_transition(current, status)
        current = status


@pytest.mark.postgres
def test_copy_path_on_postgres() -> None:
    assert connection.vendor == "postgresql"
    seed(parcels=300, owners=5, chunk_size=100)
    assert Parcel.objects.filter(reference__startswith="seed-").count() == 300
    assert TrackingEvent.objects.count() == 900


@pytest.mark.postgres
def test_large_load_drops_and_rebuilds_indexes_and_foreign_keys(monkeypatch) -> None:
    from parcel_service.management.commands import seed_parcels

    def index_names() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'parcel_service_parcel'")
            return {row[0] for row in cursor.fetchall()}

    before = index_names()
    monkeypatch.setattr(seed_parcels, "REBUILD_THRESHOLD", 100)  # take the bulk path with a small load
    seed(parcels=300, owners=5, chunk_size=100)
    assert Parcel.objects.filter(reference__startswith="seed-").count() == 300
    assert TrackingEvent.objects.count() == 900
    assert index_names() == before  # every secondary index is back
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'parcel_service_trackingevent'::regclass "
            "AND contype = 'f'"
        )
        assert cursor.fetchone()[0] == 2  # parcel and recorded_by foreign keys restored


def test_copy_text_renders_nulls_empty_strings_numbers_and_timestamps():
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    text = _copy_text([("a b", None, 5, moment), ("x", "", 0, None)])
    # COPY's text format: tab-separated, \N for NULL, an empty field for an empty string.
    assert text == "a b\t\\N\t5\t2026-01-02T03:04:05+00:00\nx\t\t0\t\\N\n"
