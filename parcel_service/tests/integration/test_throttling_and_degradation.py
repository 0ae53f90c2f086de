"""Throttling (429 problem+json with Retry-After) and behaviour with Redis unreachable."""

import logging
import time

import pytest
from rest_framework.throttling import SimpleRateThrottle

from parcel_service.models import Parcel
from parcel_service.tests.factories import ParcelFactory

from .helpers import assert_problem
from .test_parcels_api import LIST_URL, valid_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(monkeypatch):
    # DRF reads the rates once, at import: patch the class attribute it consults.
    rates = {"anon": "3/min", "user": "4/min", "auth": "2/min", "api_key": "5/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.cache  # throttle counters live in the cache
def test_anonymous_tracking_is_throttled_per_ip_with_retry_after(anon_client, tight_rates):
    parcel = ParcelFactory()
    statuses = [anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = anon_client.get(f"/api/v1/track/{parcel.tracking_number}/")
    assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    other_ip = anon_client.get(f"/api/v1/track/{parcel.tracking_number}/", REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 200


@pytest.mark.cache  # throttle counters live in the cache
def test_login_brute_force_hits_429(anon_client, customer, tight_rates):
    statuses = [
        anon_client.post(
            "/api/v1/auth/token/", {"username": "alice", "password": f"guess{i}"}, format="json"
        ).status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]


@pytest.mark.cache  # throttle counters live in the cache
def test_authenticated_users_are_throttled_per_user(customer_client, other_client, tight_rates):
    statuses = [customer_client.get(LIST_URL).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert other_client.get(LIST_URL).status_code == 200


def test_health_probes_are_never_throttled(anon_client, tight_rates):
    assert {anon_client.get("/api/v1/health/").status_code for _ in range(10)} == {200}


def test_with_redis_unreachable_every_endpoint_still_answers(
    dead_redis, customer_client, carrier_client, anon_client, caplog, tight_rates
):
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    created = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert created.status_code == 201
    parcel = Parcel.objects.get(pk=created.json()["id"])
    assert customer_client.get(f"{LIST_URL}{parcel.pk}/").status_code == 200
    assert customer_client.patch(f"{LIST_URL}{parcel.pk}/", {"reference": "x"}, format="json").status_code == 200
    assert (
        carrier_client.post(f"{LIST_URL}{parcel.pk}/events/", {"status": "in_transit"}, format="json").status_code
        == 201
    )
    for _ in range(5):  # throttling fails open: well past the 3/min anonymous limit
        assert anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").json()["status"] == "in_transit"
    assert customer_client.get(LIST_URL).status_code == 200
    ready = anon_client.get("/api/v1/health/ready/")
    assert ready.status_code == 200
    assert ready.json() == {"status": "degraded", "checks": {"database": "ok", "cache": "unavailable"}}
    assert time.monotonic() - started < 5
    warnings = [r for r in caplog.records if r.name == "parcel_service.http.cache" and r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one line for the outage, not one per request or per operation


@pytest.mark.cache
def test_counter_opens_a_window_on_the_first_request_and_counts_within_it():
    from parcel_service.http.throttling import count_request

    assert count_request("throttle-unit", 60)[0] == 1
    assert count_request("throttle-unit", 60)[0] == 2
    count, remaining, _ = count_request("throttle-unit", 60)
    assert count == 3 and 0 < remaining <= 60


@pytest.mark.redis
def test_redis_counter_reports_the_window_left_for_retry_after():
    from django.core.cache import cache

    cache.set("prefetched-entry", b"doc")
    cache.count_in_window("throttle-ttl", 30)
    count, remaining, prefetched = cache.count_in_window("throttle-ttl", 30, "prefetched-entry")
    assert count == 2 and 28 < remaining <= 30
    assert prefetched == b"doc"  # read in the same round trip


def test_counter_fails_open_while_redis_is_down(dead_redis):
    from parcel_service.http.throttling import count_request

    assert count_request("throttle-dead", 60) is None


def test_the_redis_counter_fails_open_and_fast_while_redis_is_down(dead_redis):
    assert dead_redis.count_in_window("throttle-dead-direct", 60) is None  # the failure opens the breaker
    assert dead_redis.breaker.is_open
    started = time.monotonic()
    assert dead_redis.count_in_window("throttle-dead-direct", 60, "prefetch") is None  # no I/O while open
    assert time.monotonic() - started < 0.05


def test_readiness_ping_reports_a_dead_redis_and_opens_the_breaker(dead_redis):
    assert dead_redis.ping() is False
    assert dead_redis.breaker.is_open


@pytest.mark.redis
def test_readiness_ping_asks_redis_even_with_the_breaker_open():
    from django.core.cache import cache

    cache.breaker.trip(ConnectionError("an earlier outage"))
    assert cache.ping() is True  # a real answer, not the breaker's verdict
    assert not cache.breaker.is_open
