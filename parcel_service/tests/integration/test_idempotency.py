"""Idempotency-Key on POST /parcels/ and POST /parcels/{id}/events/."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from parcel_service.models import IdempotencyRecord, Parcel, TrackingEvent
from parcel_service.tests.conftest_helpers import client_for
from parcel_service.tests.factories import ParcelFactory, UserFactory

from .helpers import assert_problem
from .test_parcels_api import LIST_URL, valid_body

pytestmark = pytest.mark.django_db


def events_url(parcel) -> str:
    return reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk}) + "/"


def test_replay_returns_the_identical_response_and_creates_one_parcel(customer_client):
    first = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert "Idempotent-Replayed" not in first
    assert Parcel.objects.count() == 1


def test_same_key_with_a_different_body_is_422(customer_client):
    customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    response = customer_client.post(LIST_URL, valid_body(weight_grams=2), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert_problem(response, 422, "idempotency_key_mismatch")
    assert Parcel.objects.count() == 1


def test_key_order_in_the_body_does_not_change_the_fingerprint(customer_client):
    body = valid_body()
    customer_client.post(LIST_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    reordered = dict(reversed(list(body.items())))
    assert (
        customer_client.post(LIST_URL, reordered, format="json", HTTP_IDEMPOTENCY_KEY="k")["Idempotent-Replayed"]
        == "true"
    )


def test_a_corrected_retry_after_a_400_succeeds(customer_client):
    bad = customer_client.post(LIST_URL, valid_body(weight_grams=0), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400
    good = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201 and "Idempotent-Replayed" not in good
    assert Parcel.objects.count() == 1


def test_another_users_identical_key_is_independent(customer_client, other_client):
    customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = other_client.post(LIST_URL, valid_body(weight_grams=9), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert Parcel.objects.count() == 2


def test_a_key_in_flight_is_409(customer_client, customer):
    now = timezone.now()
    IdempotencyRecord.objects.create(
        user=customer,
        key="k",
        fingerprint=_fingerprint_of(valid_body()),
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )
    response = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert_problem(response, 409, "idempotency_key_in_use")
    assert Parcel.objects.count() == 0


def _fingerprint_of(body):
    import hashlib

    import orjson

    digest = hashlib.sha256()
    for part in (b"POST", LIST_URL.encode(), orjson.dumps(body, option=orjson.OPT_SORT_KEYS)):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def test_expired_keys_are_ignored_and_purged(customer_client, customer):
    customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("purge_idempotency_keys")
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["x" * 256, "tab\there", "ünïcode"])
def test_malformed_keys_are_400(customer_client, key):
    response = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert_problem(response, 400, "validation_error", "/header/Idempotency-Key")
    assert Parcel.objects.count() == 0


def test_event_posts_are_idempotent_too(carrier_client):
    parcel = ParcelFactory()
    first = carrier_client.post(
        events_url(parcel), {"status": "in_transit"}, format="json", HTTP_IDEMPOTENCY_KEY="scan-1"
    )
    again = carrier_client.post(
        events_url(parcel), {"status": "in_transit"}, format="json", HTTP_IDEMPOTENCY_KEY="scan-1"
    )
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert TrackingEvent.objects.count() == 1


def test_a_409_outcome_is_not_stored(carrier_client):
    parcel = ParcelFactory(status="delivered")
    response = carrier_client.post(
        events_url(parcel), {"status": "in_transit"}, format="json", HTTP_IDEMPOTENCY_KEY="s"
    )
    assert response.status_code == 409
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twelve_concurrent_requests_with_one_key_create_exactly_one_parcel():
    user = UserFactory()
    barrier = Barrier(12)

    def attempt(_):
        try:
            client = client_for(user)
            barrier.wait(timeout=30)
            return client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="burst")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(attempt, range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert Parcel.objects.count() == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    originals = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r]
    assert len(originals) == 1
