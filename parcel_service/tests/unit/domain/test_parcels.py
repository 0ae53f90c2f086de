"""ParcelService with injected fakes: a fixed clock, a scripted S10 generator, a private document cache."""

import uuid
from datetime import UTC, datetime
from itertools import chain, repeat

import pytest
from django.db import IntegrityError, connection

from parcel_service.api.documents import DocumentCache
from parcel_service.domain.errors import InvalidTransition, ParcelNotEditable, PreconditionFailed
from parcel_service.domain.outbox import Outbox
from parcel_service.domain.parcels import ParcelService, parcel_columns
from parcel_service.http.cache import LocalMemoryCache
from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.factories import ParcelFactory, UserFactory, address

pytestmark = pytest.mark.django_db(transaction=True)

FIXED_NOW = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)


def make_service(numbers=None):
    sequence = iter(numbers or ["CP123456785NL", "RR473124829GB"])
    return ParcelService(
        clock=lambda: FIXED_NOW,
        tracking_numbers=lambda: next(sequence),
        observer=DocumentCache(cache=LocalMemoryCache(f"unit-{uuid.uuid4()}", {})),
        outbox=Outbox(notify=lambda message_ids: None),  # no endpoints here: nothing to queue
    )


def create_data(**overrides):
    data = {"reference": "", "sender": address(), "recipient": address("B"), "weight_grams": 10, "dimensions_mm": None}
    data.update(overrides)
    return data


def test_create_uses_the_injected_clock_and_generator():
    owner = UserFactory()
    parcel = make_service().create(owner=owner, data=create_data())
    assert parcel.tracking_number == "CP123456785NL"
    assert parcel.created_at == parcel.updated_at == FIXED_NOW


def test_create_retries_on_a_tracking_number_collision():
    owner = UserFactory()
    ParcelFactory(tracking_number="CP123456785NL")
    parcel = make_service(["CP123456785NL", "RR473124829GB"]).create(owner=owner, data=create_data())
    assert parcel.tracking_number == "RR473124829GB"
    assert Parcel.objects.count() == 2


def test_create_gives_up_after_repeated_collisions():
    owner = UserFactory()
    ParcelFactory(tracking_number="CP123456785NL")
    service = make_service(list(chain(repeat("CP123456785NL", 10))))
    with pytest.raises(IntegrityError):
        service.create(owner=owner, data=create_data())


def test_create_does_not_retry_other_integrity_errors():
    owner = UserFactory()
    with pytest.raises(IntegrityError):
        make_service().create(owner=owner, data=create_data(weight_grams=0))  # the check constraint


def test_parcel_columns_flattens_addresses_and_dimensions():
    columns = parcel_columns({"sender": address("S"), "dimensions_mm": {"length": 1, "width": 2, "height": 3}})
    assert columns["sender_name"] == "S"
    assert (columns["length_mm"], columns["width_mm"], columns["height_mm"]) == (1, 2, 3)
    assert parcel_columns({"dimensions_mm": None}) == {"length_mm": None, "width_mm": None, "height_mm": None}


def test_update_with_a_stale_version_is_refused():
    parcel = ParcelFactory()
    with pytest.raises(PreconditionFailed):
        make_service().update(parcel=parcel, data={"reference": "x"}, expected_version=7)


def test_update_with_the_current_version_succeeds():
    parcel = ParcelFactory()
    updated = make_service().update(parcel=parcel, data={"reference": "x"}, expected_version=1)
    assert (updated.reference, updated.version) == ("x", 2)


def test_cancel_of_a_non_pending_parcel_is_refused():
    parcel = ParcelFactory(status="in_transit")
    with pytest.raises(ParcelNotEditable):
        make_service().cancel(parcel=parcel, actor=parcel.owner)


def test_record_event_refuses_an_illegal_transition_and_writes_nothing():
    parcel = ParcelFactory(status="lost")
    with pytest.raises(InvalidTransition):
        make_service().record_event(
            parcel_id=parcel.pk, visible=Parcel.objects.all(), actor=None, data={"status": "delivered"}
        )
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    ("current", "wanted", "message"),
    [
        ("in_transit", "pending", "An in_transit parcel cannot become pending."),
        ("exception", "pending", "An exception parcel cannot become pending."),
        ("delivered", "in_transit", "A delivered parcel cannot become in_transit."),
    ],
)
def test_an_illegal_transition_says_why_with_the_right_article(current, wanted, message):
    parcel = ParcelFactory(status=current)
    with pytest.raises(InvalidTransition) as refused:
        make_service().record_event(
            parcel_id=parcel.pk, visible=Parcel.objects.all(), actor=None, data={"status": wanted}
        )
    assert refused.value.detail == message


def test_record_event_defaults_occurred_at_to_when_it_was_recorded_under_the_lock():
    parcel = ParcelFactory()
    event = make_service().record_event(
        parcel_id=parcel.pk, visible=Parcel.objects.all(), actor=None, data={"status": "in_transit"}
    )
    parcel.refresh_from_db()
    assert event.occurred_at == event.recorded_at == parcel.updated_at
    assert event.sequence == parcel.version == 2
    if connection.vendor != "postgresql":
        # The locked path reads the injected clock once it holds the lock; PostgreSQL's one statement reads
        # the database's clock_timestamp() as it updates the locked row.
        assert event.recorded_at == FIXED_NOW


def test_a_cancelled_event_is_refused_even_on_a_pending_parcel():
    parcel = ParcelFactory()
    with pytest.raises(InvalidTransition):
        make_service().record_event(
            parcel_id=parcel.pk, visible=Parcel.objects.all(), actor=None, data={"status": "cancelled"}
        )
    assert not TrackingEvent.objects.exists()
    assert Parcel.objects.get(pk=parcel.pk).status == "pending"


def test_record_event_outside_the_callers_visibility_is_not_found():
    from parcel_service.domain.errors import ParcelNotFound

    parcel = ParcelFactory()
    with pytest.raises(ParcelNotFound):
        make_service().record_event(
            parcel_id=parcel.pk, visible=Parcel.objects.none(), actor=None, data={"status": "in_transit"}
        )
    assert not TrackingEvent.objects.exists()


def test_record_event_honours_a_scoped_visibility():
    from parcel_service.domain.errors import ParcelNotFound

    parcel, stranger = ParcelFactory(), UserFactory()
    with pytest.raises(ParcelNotFound):
        make_service().record_event(
            parcel_id=parcel.pk, visible=Parcel.objects.visible_to(stranger), actor=None, data={"status": "in_transit"}
        )
    assert not TrackingEvent.objects.exists()
    event = make_service().record_event(
        parcel_id=parcel.pk, visible=Parcel.objects.visible_to(parcel.owner), actor=None, data={"status": "in_transit"}
    )
    parcel.refresh_from_db()
    assert (parcel.status, parcel.version) == ("in_transit", 2)
    assert list(TrackingEvent.objects.values_list("pk", flat=True)) == [event.pk]


def test_record_event_sets_or_clears_the_estimated_delivery_only_when_given():
    from datetime import date

    parcel = ParcelFactory(estimated_delivery=date(2026, 12, 1))
    service = make_service()
    all_parcels = Parcel.objects.all()
    service.record_event(parcel_id=parcel.pk, visible=all_parcels, actor=None, data={"status": "in_transit"})
    parcel.refresh_from_db()
    assert parcel.estimated_delivery == date(2026, 12, 1)
    data = {"status": "in_transit", "estimated_delivery": None}
    event = service.record_event(parcel_id=parcel.pk, visible=all_parcels, actor=None, data=data)
    parcel.refresh_from_db()
    assert parcel.estimated_delivery is None
    assert event.parcel.estimated_delivery is None and event.parcel.version == parcel.version == 3


def test_record_event_for_something_that_is_not_an_id_is_not_found():
    from parcel_service.domain.errors import ParcelNotFound

    with pytest.raises(ParcelNotFound):
        make_service().record_event(
            parcel_id="not-a-uuid", visible=Parcel.objects.all(), actor=None, data={"status": "in_transit"}
        )
