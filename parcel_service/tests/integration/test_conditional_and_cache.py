"""ETags and conditional requests; the cached read path (query counts, freshness, single flight)."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parcel_service.api.documents import (
    DocumentCache,
    parcel_cache_key,
    parcel_version_cache_key,
    tracking_cache_key,
)
from parcel_service.api.services import get_documents
from parcel_service.models import Parcel
from parcel_service.tests.conftest_helpers import client_for
from parcel_service.tests.factories import ParcelFactory, UserFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db


def detail_url(parcel) -> str:
    return reverse("parcel_service:parcel-detail", kwargs={"pk": parcel.pk}) + "/"


def track_url(parcel) -> str:
    return f"/api/v1/track/{parcel.tracking_number}/"


# -- ETags ----------------------------------------------------------------------------------------------


def test_detail_has_a_strong_etag_and_if_none_match_gives_304(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    first = customer_client.get(detail_url(parcel))
    etag = first["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    not_modified = customer_client.get(detail_url(parcel), HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag


@pytest.mark.django_db(transaction=True)  # cache refreshes run on commit
def test_etag_changes_on_every_change_including_events(customer_client, carrier_client, customer):
    parcel = ParcelFactory(owner=customer)
    etags = [customer_client.get(detail_url(parcel))["ETag"]]
    customer_client.patch(detail_url(parcel), {"reference": "x"}, format="json")
    etags.append(customer_client.get(detail_url(parcel))["ETag"])
    carrier_client.post(
        reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk}), {"status": "in_transit"}, format="json"
    )
    etags.append(customer_client.get(detail_url(parcel))["ETag"])
    assert len(set(etags)) == 3
    assert customer_client.get(detail_url(parcel), HTTP_IF_NONE_MATCH=etags[0]).status_code == 200


def test_if_match_with_the_current_etag_lets_the_write_through(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    etag = customer_client.get(detail_url(parcel))["ETag"]
    response = customer_client.patch(detail_url(parcel), {"reference": "ok"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


@pytest.mark.parametrize("if_match", ['"stale"', 'W/"{etag}"', '"{pk}-99"', "garbage"])
def test_if_match_mismatch_is_412_and_nothing_changes(customer_client, customer, if_match):
    parcel = ParcelFactory(owner=customer)
    etag = customer_client.get(detail_url(parcel))["ETag"]
    header = if_match.format(etag=etag.strip('"'), pk=parcel.pk)
    assert_problem(
        customer_client.patch(detail_url(parcel), {"reference": "x"}, format="json", HTTP_IF_MATCH=header),
        412,
        "precondition_failed",
    )
    assert_problem(
        customer_client.post(detail_url(parcel) + "cancel/", HTTP_IF_MATCH=header), 412, "precondition_failed"
    )
    parcel.refresh_from_db()
    assert (parcel.reference, parcel.status, parcel.version) != ("x", "cancelled", 2)
    assert parcel.version == 1


def test_if_match_star_and_no_if_match_proceed(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert (
        customer_client.patch(detail_url(parcel), {"reference": "a"}, format="json", HTTP_IF_MATCH="*").status_code
        == 200
    )
    assert customer_client.post(detail_url(parcel) + "cancel/").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_patches_with_one_etag_one_wins_seven_get_412():
    owner = UserFactory()
    parcel = ParcelFactory(owner=owner)
    etag = parcel.etag
    barrier = threading.Barrier(8)

    def patch(i):
        try:
            client = client_for(owner)
            barrier.wait(timeout=30)
            return client.patch(
                detail_url(parcel), {"reference": f"writer-{i}"}, format="json", HTTP_IF_MATCH=etag
            ).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(patch, range(8)))
    assert statuses == [200] + [412] * 7
    assert Parcel.objects.get(pk=parcel.pk).version == 2


# -- cached reads ---------------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.cache
def test_warm_tracking_lookup_runs_zero_queries(anon_client, django_assert_num_queries):
    parcel = ParcelFactory()
    cold = anon_client.get(track_url(parcel))
    with django_assert_num_queries(0):
        warm = anon_client.get(track_url(parcel))
    assert warm.status_code == 200 and warm.content == cold.content


@pytest.mark.cache
def test_warm_tracking_lookup_runs_zero_queries_on_any_cache(anon_client, django_assert_num_queries):
    parcel = ParcelFactory()
    anon_client.get(track_url(parcel))
    with django_assert_num_queries(0):
        assert anon_client.get(track_url(parcel)).status_code == 200


@pytest.mark.cache
def test_warm_parcel_detail_runs_only_the_authentication_query(customer_client, customer, django_assert_num_queries):
    from parcel_service.http.authentication import clear_user_cache

    parcel = ParcelFactory(owner=customer)
    customer_client.get(detail_url(parcel))
    clear_user_cache()
    with django_assert_num_queries(1):  # the user and their role, for the JWT
        assert customer_client.get(detail_url(parcel)).status_code == 200
    with django_assert_num_queries(0):  # and with the worker's user cache warm, nothing at all
        assert customer_client.get(detail_url(parcel)).status_code == 200


@pytest.mark.cache
def test_a_cached_parcel_is_still_invisible_to_another_customer(
    customer_client, other_client, carrier_client, customer
):
    parcel = ParcelFactory(owner=customer)
    assert customer_client.get(detail_url(parcel)).status_code == 200  # now cached
    assert_problem(other_client.get(detail_url(parcel)), 404, "not_found")
    assert carrier_client.get(detail_url(parcel)).status_code == 200


@pytest.mark.parametrize("client_name", ["customer_client", "carrier_client"])
def test_list_query_count_guard(request, client_name, customer, django_assert_max_num_queries):
    ParcelFactory.create_batch(30, owner=customer)
    client = request.getfixturevalue(client_name)
    with django_assert_max_num_queries(2):
        assert client.get("/api/v1/parcels/?page_size=25").status_code == 200


def statements_of(request_call):
    """Run a request with the worker's user cache warm; return (response, the SQL statements it ran)."""
    request_call()  # warms the user cache, the connection and the caches
    with CaptureQueriesContext(connection) as queries:
        response = request_call()
    return response, [query["sql"] for query in queries.captured_queries]


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_a_create_is_one_statement(customer_client):
    from .test_parcels_api import LIST_URL, valid_body

    response, statements = statements_of(lambda: customer_client.post(LIST_URL, valid_body(), format="json"))
    assert response.status_code == 201
    if connection.vendor == "postgresql":  # the parcel and its webhook messages (the outbox), in one statement
        assert len(statements) == 1 and statements[0].startswith("WITH created AS (INSERT INTO"), statements
        assert "parcel_service_webhookdelivery" in statements[0]
    else:  # in a transaction: the parcel, then the endpoints to queue messages for (none here)
        assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "SELECT", "COMMIT"], statements


@pytest.mark.django_db(transaction=True)
def test_a_cold_tracking_lookup_is_one_query(anon_client):
    parcel = ParcelFactory()

    def cold_lookup():
        cache.clear()
        return anon_client.get(track_url(parcel))

    response, statements = statements_of(cold_lookup)
    assert response.status_code == 200
    assert len(statements) == 1, statements  # the parcel LEFT JOIN its events


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the refresh runs
def test_an_event_costs_one_statement_and_the_timeline_read(carrier_client):
    parcel = ParcelFactory(status="in_transit")
    url = reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk})
    locations = iter(["Hub 1", "Van 7"])
    response, statements = statements_of(
        lambda: carrier_client.post(url, {"status": "in_transit", "location": next(locations)}, format="json")
    )
    assert response.status_code == 201
    if connection.vendor == "postgresql":
        assert len(statements) == 2, statements
        # Lock, transition, event and webhook messages (the outbox): one round trip.
        assert statements[0].startswith("WITH moved AS (UPDATE") and "parcel_service_webhookdelivery" in statements[0]
    else:  # the locked path: BEGIN, lock (SQLite has no FOR UPDATE: it locks the database), insert, update,
        # the endpoints to queue webhook messages for, COMMIT
        assert [s.split()[0] for s in statements[:-1]] == ["BEGIN", "SELECT", "INSERT", "UPDATE", "SELECT", "COMMIT"]
    assert "parcel_service_trackingevent" in statements[-1]  # the tracking document's timeline, after commit
    parcel.refresh_from_db()
    assert (parcel.status, parcel.version, parcel.events.count()) == ("in_transit", 3, 2)
    assert response.json()["id"] == str(parcel.events.get(location="Van 7").pk)


@pytest.mark.django_db(transaction=True)  # cache refreshes run on commit
def test_write_then_read_through_a_warm_cache_is_never_stale(customer_client, carrier_client, anon_client, customer):
    parcel = ParcelFactory(owner=customer)
    events_url = reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk})
    for i in range(100):
        anon_client.get(track_url(parcel))  # keep both entries warm
        customer_client.get(detail_url(parcel))
        if i % 2:
            customer_client.patch(detail_url(parcel), {"reference": f"r{i}"}, format="json") if i < 3 else None
            response = carrier_client.post(events_url, {"status": "exception", "location": f"l{i}"}, format="json")
            expected_status, expected_location = "exception", f"l{i}"
        else:
            response = carrier_client.post(events_url, {"status": "in_transit", "location": f"l{i}"}, format="json")
            expected_status, expected_location = "in_transit", f"l{i}"
        assert response.status_code == 201
        tracked = anon_client.get(track_url(parcel)).json()
        detail = customer_client.get(detail_url(parcel))
        assert tracked["status"] == expected_status
        assert tracked["events"][-1]["location"] == expected_location
        assert len(tracked["events"]) == i + 1
        assert detail.json()["status"] == expected_status
        assert detail["ETag"] == f'"{parcel.pk}-{i + 2}"'


@pytest.mark.cache
@pytest.mark.django_db(transaction=True)  # cache refreshes run on commit
def test_the_document_written_through_after_an_event_equals_one_rebuilt_from_the_database(carrier_client):
    parcel = ParcelFactory(status="in_transit")
    events_url = reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk})
    service = get_documents()
    bodies = [
        {"status": "in_transit", "location": "Hub A", "occurred_at": "2026-01-02T10:00:00+02:00"},
        # Backdated before the first, with another offset: still listed second, the order events were recorded.
        {"status": "in_transit", "location": "Hub 0", "occurred_at": "2026-01-01T23:30:00-05:00"},
        {"status": "out_for_delivery", "description": "On the van"},
        {"status": "delivered", "estimated_delivery": None},
    ]
    for body in bodies:
        assert carrier_client.post(events_url, body, format="json").status_code == 201
        written = cache.get(tracking_cache_key(parcel.tracking_number))
        assert written == service._tracking_document(parcel.tracking_number)
    document = json.loads(written)
    assert [e["location"] for e in document["events"]] == ["Hub A", "Hub 0", "", ""]
    assert document["events"][1]["occurred_at"] == "2026-01-02T04:30:00Z"
    assert document["status"] == "delivered"


@pytest.mark.cache
@pytest.mark.django_db(transaction=True)  # cache refreshes run on commit
def test_a_late_write_through_never_replaces_a_newer_one(carrier_client, monkeypatch):
    # Event A commits, but its worker stalls before writing the cache through; event B commits and writes
    # its documents; then A's write arrives. The cache must keep B's (newer) documents.
    parcel = ParcelFactory(status="in_transit")
    events_url = reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk})
    held = []
    on_commit = transaction.on_commit

    def hold_refresh(func, *args, **kwargs):
        if "parcel_changed" in func.__qualname__:
            held.append(func)
        else:
            on_commit(func, *args, **kwargs)

    monkeypatch.setattr(transaction, "on_commit", hold_refresh)
    first = carrier_client.post(events_url, {"status": "in_transit", "location": "A"}, format="json")
    monkeypatch.setattr(transaction, "on_commit", on_commit)
    second = carrier_client.post(events_url, {"status": "out_for_delivery", "location": "B"}, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert len(held) == 1
    held[0]()  # A's write-through, late

    service = get_documents()
    parcel.refresh_from_db()
    assert cache.get(parcel_cache_key(parcel.pk)) == service._parcel_document(parcel.pk)
    assert cache.get(parcel_cache_key(parcel.pk)).etag == parcel.etag
    assert cache.get(tracking_cache_key(parcel.tracking_number)) == service._tracking_document(parcel.tracking_number)
    assert cache.get(parcel_version_cache_key(parcel.pk)) == parcel.version


@pytest.mark.cache
def test_concurrent_misses_on_one_key_cost_one_rebuild(monkeypatch):
    service = get_documents()
    calls = []

    def slow_build(self, tracking_number):
        calls.append(tracking_number)
        time.sleep(0.2)
        return b'{"tracking_number":"%s"}' % tracking_number.encode()

    monkeypatch.setattr(DocumentCache, "_tracking_document", slow_build)
    barrier = threading.Barrier(10)

    def lookup(_):
        barrier.wait(timeout=10)
        return service.track(tracking_number="RR473124829GB")

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lookup, range(10)))
    assert len(calls) == 1
    assert set(results) == {b'{"tracking_number":"RR473124829GB"}'}


@pytest.mark.cache
def test_cache_keys_are_versioned_by_response_shape(monkeypatch, anon_client):
    from parcel_service.api import documents

    parcel = ParcelFactory()
    old_key = documents.tracking_cache_key(parcel.tracking_number)
    anon_client.get(track_url(parcel))
    monkeypatch.setattr(documents, "TRACKING_CACHE_SHAPE", documents.TRACKING_CACHE_SHAPE + 1)
    assert documents.tracking_cache_key(parcel.tracking_number) != old_key
    service = get_documents()
    service.cache.set(old_key, b'{"old":"shape"}')
    assert b"old" not in anon_client.get(track_url(parcel)).content
