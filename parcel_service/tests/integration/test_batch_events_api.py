"""Carrier batch events: per-item results, list order, all-or-nothing only for the envelope, caches, concurrency."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcel_service.api.documents import parcel_cache_key, tracking_cache_key
from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.conftest_helpers import api_key_client, client_for, issue_api_key
from parcel_service.tests.factories import ParcelFactory, UserFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

BATCH_URL = "/api/v1/events/batch/"
UNKNOWN_NUMBER = "RR473124829GB"  # valid S10, no parcel has it
BAD_CHECK_DIGIT = "CP123456784NL"


def post(client, events, **extra):
    return client.post(BATCH_URL, {"events": events}, format="json", **extra)


def data_statements(queries):
    """The statements that read or write rows (not BEGIN, COMMIT or the test's savepoints)."""
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(control)]


def timeline(parcel):
    return list(TrackingEvent.objects.filter(parcel=parcel).order_by("sequence").values_list("sequence", "status"))


def test_a_mixed_batch_answers_each_item_and_applies_exactly_the_good_ones(carrier_client, carrier):
    moving = ParcelFactory()
    twice = ParcelFactory()
    delivered = ParcelFactory(status="delivered")
    events = [
        {"tracking_number": moving.tracking_number, "status": "in_transit", "location": "Hub A"},
        {"tracking_number": UNKNOWN_NUMBER, "status": "in_transit"},
        {"tracking_number": BAD_CHECK_DIGIT, "status": "in_transit"},
        {"tracking_number": delivered.tracking_number, "status": "in_transit"},
        {"tracking_number": twice.tracking_number, "status": "in_transit", "estimated_delivery": "2026-12-24"},
        {"tracking_number": twice.tracking_number.lower(), "status": "out_for_delivery"},
        {"tracking_number": twice.tracking_number, "status": "pending"},  # not after out_for_delivery
    ]
    response = post(carrier_client, events)
    assert response.status_code == 200
    body = response.json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, 201),
        (1, 404),
        (2, 400),
        (3, 409),
        (4, 201),
        (5, 201),
        (6, 409),
    ]
    assert body["summary"] == {"created": 3, "failed": 4}
    results = body["results"]
    assert results[0]["parcel_id"] == str(moving.pk) and results[0]["event"]["location"] == "Hub A"
    assert set(results[0]["event"]) == {"id", "status", "location", "description", "occurred_at", "recorded_at"}
    assert results[1]["problem"]["code"] == "not_found"
    assert results[2]["problem"]["code"] == "invalid_tracking_number"
    assert [e["pointer"] for e in results[2]["problem"]["errors"]] == ["/events/2/tracking_number"]
    assert results[3]["problem"]["code"] == results[6]["problem"]["code"] == "invalid_transition"
    assert all(r["problem"]["request_id"] == response["X-Request-ID"] for r in results if "problem" in r)

    moving.refresh_from_db()
    twice.refresh_from_db()
    delivered.refresh_from_db()
    assert (moving.status, moving.version) == ("in_transit", 2)
    assert (twice.status, twice.version, str(twice.estimated_delivery)) == ("out_for_delivery", 3, "2026-12-24")
    assert (delivered.status, delivered.version) == ("delivered", 1)
    assert timeline(moving) == [(2, "in_transit")]
    assert timeline(twice) == [(2, "in_transit"), (3, "out_for_delivery")]
    assert TrackingEvent.objects.count() == 3
    assert TrackingEvent.objects.filter(recorded_by=carrier).count() == 3
    # The parcel's updated_at is when its (last) event was recorded, taken under the lock.
    assert TrackingEvent.objects.get(pk=results[5]["event"]["id"]).recorded_at == twice.updated_at


def test_an_item_answers_exactly_what_a_single_event_would(carrier_client):
    parcel = ParcelFactory()
    occurred = "2026-11-30T23:00:00-01:00"
    item = {"status": "in_transit", "location": "Utrecht", "description": "Sorted", "occurred_at": occurred}
    result = post(carrier_client, [{"tracking_number": parcel.tracking_number, **item}]).json()["results"][0]
    event = TrackingEvent.objects.get()
    single = {
        "id": str(event.id),
        "status": "in_transit",
        "location": "Utrecht",
        "description": "Sorted",
        "occurred_at": "2026-12-01T00:00:00Z",
        "recorded_at": event.recorded_at.isoformat().replace("+00:00", "Z"),
    }
    assert result["event"] == single
    listed = carrier_client.get(f"/api/v1/parcels/{parcel.pk}/events/").json()
    assert listed == [single]


def test_an_item_without_occurred_at_happened_when_it_was_recorded(carrier_client):
    parcel = ParcelFactory()
    event = post(carrier_client, [{"tracking_number": parcel.tracking_number, "status": "in_transit"}]).json()
    event = event["results"][0]["event"]
    assert event["occurred_at"] == event["recorded_at"]


def test_a_cancelled_item_is_refused_whoever_posts_it(staff_client):
    parcel = ParcelFactory()
    result = post(staff_client, [{"tracking_number": parcel.tracking_number, "status": "cancelled"}]).json()
    assert result["results"][0]["status"] == 409
    assert result["results"][0]["problem"]["code"] == "invalid_transition"
    parcel.refresh_from_db()
    assert (parcel.status, parcel.version) == ("pending", 1)


def test_an_invalid_item_is_its_own_400_with_pointers_into_the_batch(carrier_client):
    parcel = ParcelFactory()
    future = (timezone.now() + timedelta(minutes=10)).isoformat()
    events = [
        {"tracking_number": parcel.tracking_number, "status": "in_transit", "occurred_at": future},
        {"tracking_number": parcel.tracking_number, "status": "flying"},
        {"tracking_number": parcel.tracking_number, "status": "in_transit", "colour": "red"},
        {"status": "in_transit"},
        {"tracking_number": 12, "status": "in_transit"},
        {"tracking_number": parcel.tracking_number, "status": "in_transit"},
    ]
    results = post(carrier_client, events).json()["results"]
    problems = [r.get("problem") for r in results]
    assert [r["status"] for r in results] == [400, 400, 400, 400, 400, 201]
    assert [(p["code"], [e["pointer"] for e in p["errors"]]) for p in problems[:5]] == [
        ("validation_error", ["/events/0/occurred_at"]),
        ("validation_error", ["/events/1/status"]),
        ("unknown_field", ["/events/2/colour"]),
        ("validation_error", ["/events/3/tracking_number"]),
        ("validation_error", ["/events/4/tracking_number"]),
    ]
    assert problems[0]["errors"][0]["code"] == "in_future"
    assert timeline(parcel) == [(2, "in_transit")]


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": "CP123456785NL"},
        {"events": {"tracking_number": "CP123456785NL", "status": "in_transit"}},
        {"events": [{"status": "in_transit"}, "in_transit"]},
        {"events": [None]},
        {},
        [{"status": "in_transit"}],
        {"events": [{"status": "in_transit"}], "carrier": "x"},
    ],
)
def test_a_body_that_is_not_a_list_of_objects_is_a_plain_400_and_applies_nothing(carrier_client, body):
    parcel = ParcelFactory()
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        for item in body["events"]:
            if isinstance(item, dict):
                item["tracking_number"] = parcel.tracking_number
    response = carrier_client.post(BATCH_URL, body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert not TrackingEvent.objects.exists()


def test_more_than_a_thousand_items_is_a_plain_400(carrier_client):
    parcel = ParcelFactory()
    events = [{"tracking_number": parcel.tracking_number, "status": "in_transit"}] * 1001
    assert_problem(post(carrier_client, events), 400, "validation_error", "/events")
    assert not TrackingEvent.objects.exists()


def test_a_thousand_items_are_accepted(carrier_client):
    parcel = ParcelFactory(status="in_transit")
    body = post(carrier_client, [{"tracking_number": parcel.tracking_number, "status": "in_transit"}] * 1000).json()
    assert body["summary"] == {"created": 1000, "failed": 0}
    assert Parcel.objects.get(pk=parcel.pk).version == 1001


def test_a_body_over_the_size_limit_is_413(carrier_client):
    parcel = ParcelFactory()
    events = [{"tracking_number": parcel.tracking_number, "status": "in_transit", "description": "x" * 500}] * 2500
    response = post(carrier_client, events)
    assert_problem(response, 413, "request_too_large")
    assert not TrackingEvent.objects.exists()


def test_customers_cannot_post_batches(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    response = post(customer_client, [{"tracking_number": parcel.tracking_number, "status": "in_transit"}])
    assert_problem(response, 403, "permission_denied")
    assert not TrackingEvent.objects.exists()


def test_anonymous_batches_are_401(anon_client):
    response = post(anon_client, [{"tracking_number": UNKNOWN_NUMBER, "status": "in_transit"}])
    assert_problem(response, 401, "not_authenticated")


def test_a_carrier_key_needs_events_write(carrier):
    parcel = ParcelFactory()
    item = [{"tracking_number": parcel.tracking_number, "status": "in_transit"}]
    _, read_only = issue_api_key(carrier, "parcels:read", "parcels:write")
    _, scanner = issue_api_key(carrier, "events:write")
    assert_problem(post(api_key_client(read_only), item), 403, "insufficient_scope")
    assert post(api_key_client(scanner), item).json()["summary"] == {"created": 1, "failed": 0}


def test_a_customers_key_with_events_write_cannot_post_batches(customer):
    parcel = ParcelFactory(owner=customer)
    _, key = issue_api_key(customer, "events:write")
    response = post(api_key_client(key), [{"tracking_number": parcel.tracking_number, "status": "in_transit"}])
    assert_problem(response, 403, "permission_denied")
    assert not TrackingEvent.objects.exists()


def test_a_batch_with_an_idempotency_key_is_replayed_not_applied_twice(carrier_client):
    parcel = ParcelFactory()
    events = [{"tracking_number": parcel.tracking_number, "status": "in_transit"}]
    first = post(carrier_client, events, HTTP_IDEMPOTENCY_KEY="scan-run-1")
    again = post(carrier_client, events, HTTP_IDEMPOTENCY_KEY="scan-run-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert TrackingEvent.objects.count() == 1
    other = post(carrier_client, [{**events[0], "location": "elsewhere"}], HTTP_IDEMPOTENCY_KEY="scan-run-1")
    assert_problem(other, 422, "idempotency_key_mismatch")


@pytest.mark.postgres  # elsewhere bulk writes are split by the database's limit on parameters
def test_the_statements_of_a_batch_do_not_grow_with_its_size(carrier_client):
    def statements(size):
        parcels = [ParcelFactory() for _ in range(size)]
        events = [{"tracking_number": p.tracking_number, "status": "in_transit"} for p in parcels]
        events += [{"tracking_number": p.tracking_number, "status": "out_for_delivery"} for p in parcels]
        # Creating 500 parcels can outlast the worker's user cache (AUTH_USER_CACHE_TTL_S): warm it again.
        assert carrier_client.get("/api/v1/parcels/", {"page_size": 1}).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            assert post(carrier_client, events).json()["summary"]["created"] == 2 * size
        return data_statements(queries)

    statements(1)  # the carrier's user is loaded once per worker
    small, large = statements(2), statements(500)
    # Lock the parcels; write the parcels and all their events; queue their webhook messages (the outbox).
    assert len(small) == len(large) == 3


@pytest.mark.cache
@pytest.mark.django_db(transaction=True)  # caches are written through when the batch commits
def test_a_batch_writes_every_changed_parcels_documents_through(carrier_client, carrier, anon_client):
    parcels = [ParcelFactory(owner=carrier) for _ in range(3)]
    for parcel in parcels:  # cached, as a reader would have left them
        assert carrier_client.get(f"/api/v1/parcels/{parcel.pk}/").json()["status"] == "pending"
        assert anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").json()["status"] == "pending"
    events = [{"tracking_number": p.tracking_number, "status": "in_transit", "location": "Hub"} for p in parcels]
    events.append({"tracking_number": parcels[0].tracking_number, "status": "out_for_delivery"})
    with CaptureQueriesContext(connection) as queries:
        assert post(carrier_client, events).status_code == 200
    # The lock, the writes (one statement on PostgreSQL, two elsewhere), the webhook outbox (an INSERT … SELECT on
    # PostgreSQL, a read of the endpoints elsewhere), and after the commit one read of the timelines.
    assert len(data_statements(queries)) == (4 if connection.vendor == "postgresql" else 5)
    for parcel, status in zip(parcels, ["out_for_delivery", "in_transit", "in_transit"], strict=True):
        document = cache.get(parcel_cache_key(parcel.pk))
        assert json.loads(document.body)["status"] == status
        assert document.etag == Parcel.objects.get(pk=parcel.pk).etag
        tracking = json.loads(cache.get(tracking_cache_key(parcel.tracking_number)))
        assert tracking["status"] == status
        assert [e["status"] for e in tracking["events"]] == [e for _, e in timeline(parcel)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_over_the_same_parcels_in_opposite_orders_never_deadlock_nor_lose_an_event():
    parcels = [ParcelFactory(status="in_transit") for _ in range(50)]
    carrier = UserFactory(carrier=True)
    forwards = [{"tracking_number": p.tracking_number, "status": "in_transit"} for p in parcels]
    backwards = [{"tracking_number": p.tracking_number, "status": "exception"} for p in reversed(parcels)]
    rounds = 20

    def run(events):
        client = client_for(carrier)
        statuses = []
        try:
            for _ in range(rounds):
                barrier.wait(timeout=30)
                response = post(client, events)
                statuses.append((response.status_code, response.json().get("summary")))
        finally:
            connection.close()
        return statuses

    barrier = Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run, [forwards, backwards]))
    for statuses in outcomes:
        assert statuses == [(200, {"created": 50, "failed": 0})] * rounds
    for parcel in parcels:
        events = timeline(parcel)
        assert [sequence for sequence, _ in events] == list(range(2, 2 + 2 * rounds))  # none lost, none doubled
        parcel.refresh_from_db()
        assert parcel.version == 1 + 2 * rounds
        assert parcel.status == events[-1][1]


def test_a_batch_whose_items_all_fail_validation_answers_each_and_touches_nothing(carrier_client):
    events = [{"tracking_number": BAD_CHECK_DIGIT, "status": "in_transit"}, {"status": "in_transit"}]
    with CaptureQueriesContext(connection) as queries:
        body = post(carrier_client, events).json()
    assert [r["status"] for r in body["results"]] == [400, 400]
    assert body["summary"] == {"created": 0, "failed": 2}
    assert not [sql for sql in data_statements(queries) if "parcel_service" in sql]
