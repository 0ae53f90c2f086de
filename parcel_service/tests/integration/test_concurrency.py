"""Row locks on PostgreSQL: concurrent events are all recorded; conflicting terminal events have one winner."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from parcel_service.api.services import get_parcel_service
from parcel_service.domain.errors import InvalidTransition
from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.factories import ParcelFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def test_forty_concurrent_events_on_one_parcel_are_all_recorded():
    parcel = ParcelFactory(status="in_transit")
    carrier = UserFactory(carrier=True)
    barrier = Barrier(40)

    @_in_thread
    def scan(i):
        barrier.wait(timeout=30)
        return get_parcel_service().record_event(
            parcel_id=parcel.pk,
            visible=Parcel.objects.all(),
            actor=carrier,
            data={"status": "in_transit", "location": f"hub {i}"},
        )

    with ThreadPoolExecutor(max_workers=40) as pool:
        events = list(pool.map(scan, range(40)))
    assert len(events) == 40
    assert TrackingEvent.objects.filter(parcel=parcel).count() == 40
    assert Parcel.objects.get(pk=parcel.pk).version == 41  # every event bumped the version exactly once


def test_conflicting_terminal_events_have_exactly_one_winner():
    parcel = ParcelFactory(status="in_transit")
    carrier = UserFactory(carrier=True)
    barrier = Barrier(2)

    @_in_thread
    def finish(status):
        barrier.wait(timeout=30)
        try:
            get_parcel_service().record_event(
                parcel_id=parcel.pk, visible=Parcel.objects.all(), actor=carrier, data={"status": status}
            )
            return status
        except InvalidTransition:
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(finish, ["delivered", "lost"]))
    winners = [o for o in outcomes if o]
    assert len(winners) == 1
    assert Parcel.objects.get(pk=parcel.pk).status == winners[0]
    assert TrackingEvent.objects.filter(parcel=parcel).count() == 1
