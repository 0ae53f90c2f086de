"""Tracking events: who may record them, the status machine, the timeline."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.factories import ParcelFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db


def events_url(parcel) -> str:
    return reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk}) + "/"


def test_carrier_records_an_event_and_the_parcel_moves(carrier_client, carrier):
    parcel = ParcelFactory()
    response = carrier_client.post(
        events_url(parcel),
        {"status": "in_transit", "location": "Utrecht", "estimated_delivery": "2026-12-01"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "status", "location", "description", "occurred_at", "recorded_at"}
    assert body["status"] == "in_transit"
    parcel.refresh_from_db()
    assert (parcel.status, str(parcel.estimated_delivery), parcel.version) == ("in_transit", "2026-12-01", 2)
    assert TrackingEvent.objects.get().recorded_by == carrier


def test_staff_records_events_too(staff_client):
    parcel = ParcelFactory()
    assert staff_client.post(events_url(parcel), {"status": "in_transit"}, format="json").status_code == 201


def test_customer_posting_an_event_gets_403_even_on_their_own_parcel(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(
        customer_client.post(events_url(parcel), {"status": "in_transit"}, format="json"), 403, "permission_denied"
    )
    assert not TrackingEvent.objects.exists()


def test_anonymous_posting_an_event_gets_401(anon_client):
    parcel = ParcelFactory()
    assert_problem(
        anon_client.post(events_url(parcel), {"status": "in_transit"}, format="json"), 401, "not_authenticated"
    )


def test_illegal_transition_is_409_and_writes_nothing(carrier_client):
    parcel = ParcelFactory(status="delivered")
    response = carrier_client.post(events_url(parcel), {"status": "in_transit"}, format="json")
    assert_problem(response, 409, "invalid_transition")
    parcel.refresh_from_db()
    assert (parcel.status, parcel.version) == ("delivered", 1)
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize("who", ["carrier_client", "staff_client"])
def test_a_cancelled_event_is_409_for_everyone_so_only_the_sender_cancels(who, request):
    # Finding: a carrier cancelled anyone's parcel by posting {"status": "cancelled"} as an event.
    parcel = ParcelFactory()
    body = {"status": "cancelled", "description": "Cancelled by the sender."}
    response = request.getfixturevalue(who).post(events_url(parcel), body, format="json")
    assert_problem(response, 409, "invalid_transition")
    parcel.refresh_from_db()
    assert parcel.status == "pending" and parcel.version == 1
    assert not TrackingEvent.objects.filter(parcel=parcel).exists()


def test_a_repeated_non_terminal_status_is_another_scan(carrier_client):
    parcel = ParcelFactory(status="in_transit")
    assert (
        carrier_client.post(
            events_url(parcel), {"status": "in_transit", "location": "Hub 2"}, format="json"
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("body", "pointer", "code"),
    [
        ({"status": "teleported"}, "/status", "invalid_choice"),
        ({}, "/status", "required"),
        ({"status": "in_transit", "location": "x" * 129}, "/location", "max_length"),
        ({"status": "in_transit", "description": "x" * 501}, "/description", "max_length"),
        ({"status": "in_transit", "occurred_at": "yesterday"}, "/occurred_at", "invalid"),
        ({"status": "in_transit", "estimated_delivery": "2026-13-45"}, "/estimated_delivery", "invalid"),
        ({"status": "in_transit", "location": "Hub\x00"}, "/location", "null_characters_not_allowed"),
    ],
)
def test_invalid_event_bodies_are_400_with_a_pointer(carrier_client, body, pointer, code):
    parcel = ParcelFactory()
    problem = assert_problem(
        carrier_client.post(events_url(parcel), body, format="json"), 400, "validation_error", pointer
    )
    assert code in [e["code"] for e in problem["errors"]]
    assert not TrackingEvent.objects.exists()


def test_event_more_than_five_minutes_in_the_future_is_refused(carrier_client):
    parcel = ParcelFactory()
    future = (timezone.now() + timedelta(minutes=6)).isoformat()
    assert_problem(
        carrier_client.post(events_url(parcel), {"status": "in_transit", "occurred_at": future}, format="json"),
        400,
        "validation_error",
        "/occurred_at",
    )


def test_event_with_unknown_field_is_rejected(carrier_client):
    parcel = ParcelFactory()
    response = carrier_client.post(events_url(parcel), {"status": "in_transit", "recorded_by": 1}, format="json")
    assert_problem(response, 400, "unknown_field", "/recorded_by")


def test_events_are_listed_in_the_order_they_were_recorded_whatever_their_occurred_at(
    customer_client, carrier_client, customer
):
    # API.md "One timeline, one status": a backdated delivery scan still lists last, as the status it set.
    parcel = ParcelFactory(owner=customer)
    carrier_client.post(events_url(parcel), {"status": "in_transit"}, format="json")
    delivered = {"status": "delivered", "occurred_at": "2001-01-01T00:00:00Z"}
    assert carrier_client.post(events_url(parcel), delivered, format="json").status_code == 201
    response = customer_client.get(events_url(parcel))
    assert response.status_code == 200
    assert [e["status"] for e in response.json()] == ["in_transit", "delivered"]
    assert response.json()[-1]["occurred_at"] == "2001-01-01T00:00:00Z"
    tracking = customer_client.get(f"/api/v1/track/{parcel.tracking_number}/").json()
    assert [e["status"] for e in tracking["events"]] == ["in_transit", "delivered"]
    assert tracking["status"] == "delivered"


def test_another_customers_events_are_404(other_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(other_client.get(events_url(parcel)), 404, "not_found")


def test_event_on_unknown_parcel_is_404_for_carrier(carrier_client):
    parcel = ParcelFactory.build()
    assert_problem(carrier_client.post(events_url(parcel), {"status": "in_transit"}, format="json"), 404, "not_found")
    assert not Parcel.objects.exists()
