"""The service's own metrics move when their events happen, and /metrics shows them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY
from rest_framework.throttling import SimpleRateThrottle

from parcel_service.tests.factories import ParcelFactory

from .test_parcels_api import LIST_URL, valid_body

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Moved:
    """How much each named sample moved between entering and leaving the block."""

    def __init__(self, *samples: tuple) -> None:
        self.samples = samples

    def __enter__(self) -> "Moved":
        self.before = [sample(name, **labels) for name, labels in self.samples]
        return self

    def __exit__(self, *exc) -> None:
        self.by = [
            sample(name, **labels) - before for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


def test_a_created_parcel_is_counted_once_committed(customer_client, django_capture_on_commit_callbacks):
    with Moved(("parcels_created_total", {})) as moved, django_capture_on_commit_callbacks(execute=True):
        assert customer_client.post(LIST_URL, valid_body(), format="json").status_code == 201
    assert moved.by == [1]


def test_a_rolled_back_create_is_not_counted(customer_client):
    # The test's transaction never commits: nothing was created for good.
    with Moved(("parcels_created_total", {})) as moved:
        assert customer_client.post(LIST_URL, valid_body(), format="json").status_code == 201
    assert moved.by == [0]


def test_tracking_events_are_counted_by_the_status_they_set(
    carrier_client, customer_client, customer, django_capture_on_commit_callbacks
):
    moving = ParcelFactory(status="pending")
    cancelling = ParcelFactory(status="pending", owner=customer)
    labels = [("tracking_events_total", {"status": s}) for s in ("in_transit", "cancelled", "delivered")]
    with Moved(*labels) as moved, django_capture_on_commit_callbacks(execute=True):
        assert carrier_client.post(f"{LIST_URL}{moving.pk}/events/", {"status": "in_transit"}).status_code == 201
        assert carrier_client.post(f"{LIST_URL}{moving.pk}/events/", {"status": "in_transit"}).status_code == 201
        assert customer_client.post(f"{LIST_URL}{cancelling.pk}/cancel/").status_code == 200
        # Refused: not an event.
        assert carrier_client.post(f"{LIST_URL}{cancelling.pk}/events/", {"status": "delivered"}).status_code == 409
    assert moved.by == [2, 1, 0]


def test_an_idempotent_replay_is_counted(customer_client):
    with Moved(("idempotent_replays_total", {})) as moved:
        for _ in range(3):
            response = customer_client.post(LIST_URL, valid_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-7")
            assert response.status_code == 201
    assert moved.by == [2]


@pytest.mark.cache  # throttle counters live in the cache
def test_throttled_requests_are_counted_by_scope(anon_client, customer_client, monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/min", "user": "3/min", "auth": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    parcel = ParcelFactory()
    scopes = [("parcel_throttled_requests_total", {"scope": s}) for s in ("anon", "user")]
    with Moved(*scopes) as moved:
        assert [anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").status_code for _ in range(3)][-1] == 429
        assert [customer_client.get(LIST_URL).status_code for _ in range(5)][-2:] == [429, 429]
    assert moved.by == [1, 2]


@pytest.mark.cache
def test_document_reads_are_counted_as_hits_and_misses_per_kind(anon_client, customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    kinds = [
        ("parcel_cache_requests_total", {"kind": kind, "result": result})
        for kind in ("tracking", "parcel")
        for result in ("hit", "miss")
    ]
    with Moved(*kinds) as moved:
        for _ in range(3):
            assert anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").status_code == 200
            assert customer_client.get(f"{LIST_URL}{parcel.pk}/").status_code == 200
    assert moved.by == [2, 1, 2, 1]


def test_the_breaker_gauge_is_1_while_redis_is_down_and_0_once_it_answers_again(dead_redis, anon_client):
    parcel = ParcelFactory()
    dead_redis.breaker.reset()
    assert anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").status_code == 200
    assert sample("parcel_cache_breaker_open") == 1
    dead_redis.breaker.reset()  # what the first successful operation after the outage does
    assert sample("parcel_cache_breaker_open") == 0


def test_every_sql_statement_is_counted_and_timed(customer_client):
    ParcelFactory.create_batch(3)
    samples = [("parcel_db_queries_total", {}), ("parcel_db_query_duration_seconds_count", {})]
    with Moved(*samples) as moved, CaptureQueriesContext(connection) as queries:
        assert customer_client.get(LIST_URL).status_code == 200
    assert len(queries) > 0
    assert moved.by == [len(queries), len(queries)]


def test_the_metrics_page_lists_the_services_own_metrics(anon_client):
    page = anon_client.get("/metrics").content.decode()
    for name in (
        "parcels_created_total",
        "tracking_events_total",
        "idempotent_replays_total",
        "parcel_throttled_requests_total",
        'parcel_cache_requests_total{kind="tracking",result="hit"}',
        "parcel_cache_breaker_open",
        "parcel_db_queries_total",
        "parcel_db_query_duration_seconds_bucket",
    ):
        assert name in page, name
