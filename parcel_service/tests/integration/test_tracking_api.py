"""Public tracking: anyone may look a parcel up by tracking number; nothing about people is returned."""

import pytest
from django.urls import reverse

from parcel_service.tests.factories import ParcelFactory, TrackingEventFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db


def track_url(tracking_number: str) -> str:
    return reverse("parcel_service:track", kwargs={"tracking_number": tracking_number}) + "/"


def test_anyone_tracks_a_parcel_and_sees_only_the_allowlisted_keys(anon_client):
    parcel = ParcelFactory(recipient_name="Secret Person")
    TrackingEventFactory(parcel=parcel, location="Utrecht")
    response = anon_client.get(track_url(parcel.tracking_number))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"tracking_number", "status", "estimated_delivery", "updated_at", "events"}
    assert set(body["events"][0]) == {"status", "location", "description", "occurred_at"}
    assert "Secret Person" not in response.content.decode()
    assert body["updated_at"].endswith("Z")


def test_tracking_is_case_insensitive_and_ignores_spaces(anon_client):
    parcel = ParcelFactory()
    spaced = f"  {parcel.tracking_number.lower()[:6]} {parcel.tracking_number.lower()[6:]} "
    response = anon_client.get(f"/api/v1/track/{spaced}")
    assert response.status_code == 200
    assert response.json()["tracking_number"] == parcel.tracking_number


@pytest.mark.parametrize(
    "bad", ["CP123456784NL", "CP12345678NL", "hello", "..", "CP1234567%0085NL", "x" * 300, "%C5%BFP123456785NL"]
)
def test_malformed_or_bad_check_digit_is_400(anon_client, bad):
    assert_problem(anon_client.get(f"/api/v1/track/{bad}/"), 400, "invalid_tracking_number")


def test_path_traversal_in_a_tracking_number_is_a_problem_404(anon_client):
    assert_problem(anon_client.get("/api/v1/track/..%2F..%2Fetc%2Fpasswd/"), 404, "not_found")


def test_unknown_valid_number_is_404(anon_client):
    assert_problem(anon_client.get(track_url("RR473124829GB")), 404, "not_found")


def test_tracking_ignores_a_bad_token(anon_client):
    parcel = ParcelFactory()
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert anon_client.get(track_url(parcel.tracking_number)).status_code == 200
