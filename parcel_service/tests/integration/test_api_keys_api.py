"""API keys: issuing, listing and revoking them; authenticating with one, within its scopes and its user's role."""

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from parcel_service.api.services import get_api_key_service
from parcel_service.http.api_keys import KeyRecord, record_cache_key
from parcel_service.models import CARRIERS_GROUP, ApiKey, Parcel, TrackingEvent
from parcel_service.tests.conftest_helpers import api_key_client, issue_api_key
from parcel_service.tests.factories import ParcelFactory, address

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"
PARCELS_URL = "/api/v1/parcels/"


def key_url(api_key) -> str:
    return f"{KEYS_URL}{api_key.pk}/"


def parcel_url(parcel) -> str:
    return f"{PARCELS_URL}{parcel.pk}/"


def parcel_body() -> dict:
    return {"sender": address(), "recipient": address("B"), "weight_grams": 500}


# A change refreshes the key records when it commits, so these tests commit for real.
commits = pytest.mark.django_db(transaction=True)


# Issuing, listing, revoking


def test_a_user_creates_a_key_and_only_that_response_carries_it(customer_client, customer):
    response = customer_client.post(KEYS_URL, {"name": "Shop", "scopes": ["parcels:read", "parcels:write"]})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at", "key"}
    assert body["key"][:8] == body["prefix"] and len(body["key"]) == 41
    assert (body["scopes"], body["last_used_at"], body["revoked_at"]) == (["parcels:read", "parcels:write"], None, None)
    stored = ApiKey.objects.get()
    assert stored.user == customer and str(stored.pk) == body["id"]
    assert body["key"] not in stored.hashed_key and stored.hashed_key.startswith("sha512$$")
    listed = customer_client.get(KEYS_URL).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]] and "key" not in listed[0]


def test_the_new_key_works_at_once(customer_client):
    key = customer_client.post(KEYS_URL, {"name": "Shop", "scopes": ["parcels:read"]}).json()["key"]
    assert api_key_client(key).get(PARCELS_URL).status_code == 200


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "Shop", "scopes": ["parcels:delete"]}, "/scopes/0"),
        ({"name": "Shop", "scopes": []}, "/scopes"),
        ({"name": "Shop", "scopes": "parcels:read"}, "/scopes"),
        ({"name": "", "scopes": ["parcels:read"]}, "/name"),
        ({"name": "x" * 51, "scopes": ["parcels:read"]}, "/name"),
        ({"scopes": ["parcels:read"]}, "/name"),
    ],
)
def test_an_invalid_key_request_is_a_400_with_a_pointer(customer_client, body, pointer):
    assert_problem(customer_client.post(KEYS_URL, body), 400, "validation_error", pointer)
    assert not ApiKey.objects.exists()


def test_an_unknown_field_in_a_key_request_is_refused(customer_client):
    response = customer_client.post(KEYS_URL, {"name": "Shop", "scopes": ["parcels:read"], "user": 1})
    assert_problem(response, 400, "unknown_field", "/user")


def test_the_key_list_shows_only_your_keys_newest_first_and_never_a_key(customer, other_customer, customer_client):
    issue_api_key(other_customer, name="theirs")
    first, _ = issue_api_key(customer, name="first")
    issue_api_key(customer, name="second")
    ApiKey.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=1))
    page = customer_client.get(KEYS_URL, {"page_size": 1}).json()
    assert [item["name"] for item in page["results"]] == ["second"]
    assert customer_client.get(page["next"]).json()["results"][0]["name"] == "first"
    assert_problem(customer_client.get(KEYS_URL, {"page_size": 0}), 400, "validation_error", "/query/page_size")


def test_anonymous_users_cannot_touch_keys(anon_client, customer):
    api_key, _ = issue_api_key(customer)
    assert_problem(anon_client.get(KEYS_URL), 401, "not_authenticated")
    assert_problem(anon_client.post(KEYS_URL, {"name": "x", "scopes": ["parcels:read"]}), 401, "not_authenticated")
    assert_problem(anon_client.delete(key_url(api_key)), 401, "not_authenticated")


def test_a_key_cannot_mint_list_or_revoke_keys(customer):
    api_key, key = issue_api_key(customer)
    client = api_key_client(key)
    response = client.post(KEYS_URL, {"name": "child", "scopes": ["parcels:read"]})
    assert_problem(response, 403, "insufficient_scope")
    assert_problem(client.get(KEYS_URL), 403, "insufficient_scope")
    assert_problem(client.delete(key_url(api_key)), 403, "insufficient_scope")
    assert ApiKey.objects.count() == 1 and not ApiKey.objects.get().revoked


@commits
def test_the_owner_revokes_a_key_and_it_is_refused_on_the_next_request(customer, customer_client):
    api_key, key = issue_api_key(customer, "parcels:read")
    client = api_key_client(key)
    assert client.get(PARCELS_URL).status_code == 200  # the key's record is now cached
    assert customer_client.delete(key_url(api_key)).status_code == 204
    assert_problem(client.get(PARCELS_URL), 401, "authentication_failed")
    listed = customer_client.get(KEYS_URL).json()["results"][0]
    assert listed["revoked_at"] is not None
    # Revoking again changes nothing, not even the time.
    assert customer_client.delete(key_url(api_key)).status_code == 204
    assert customer_client.get(KEYS_URL).json()["results"][0]["revoked_at"] == listed["revoked_at"]


@commits
def test_another_customer_cannot_revoke_your_key_but_staff_can(customer, other_client, staff_client):
    api_key, key = issue_api_key(customer)
    assert_problem(other_client.delete(key_url(api_key)), 404, "not_found")
    assert api_key_client(key).get(PARCELS_URL).status_code == 200
    assert staff_client.delete(key_url(api_key)).status_code == 204
    assert_problem(api_key_client(key).get(PARCELS_URL), 401, "authentication_failed")


def test_staff_list_only_their_own_keys(customer, staff, staff_client):
    issue_api_key(customer, name="customer's")
    issue_api_key(staff, name="staff's")
    assert [item["name"] for item in staff_client.get(KEYS_URL).json()["results"]] == ["staff's"]


@pytest.mark.cache  # asserts what the shared cache holds
@commits
def test_a_late_cache_write_cannot_bring_a_revoked_key_back(customer):
    # A request that read the key from the database just before the revocation committed, and stores what it
    # read just after: the revocation's marker still wins.
    api_key, key = issue_api_key(customer)
    client = api_key_client(key)
    assert client.get(PARCELS_URL).status_code == 200
    stale = cache.get(record_cache_key(api_key.prefix))
    assert isinstance(stale, KeyRecord)
    get_api_key_service().revoke(api_key=api_key)
    cache.add(record_cache_key(api_key.prefix), stale)
    assert_problem(client.get(PARCELS_URL), 401, "authentication_failed")


# Authenticating with a key


@pytest.mark.parametrize("scheme", ["Api-Key", "api-key", "API-KEY"])
def test_the_api_key_scheme_is_case_insensitive(customer, scheme):
    _, key = issue_api_key(customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    assert client.get(PARCELS_URL).status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        "Api-Key",
        "Api-Key ",
        "Api-Key not-a-key",
        "Api-Key abcdefgh.tooshort",
        "Api-Key abcdefgh.0123456789abcdef0123456789abcdef",  # well-formed, unknown
        "Api-Key abcdefgh.0123456789abcdef0123456789abcdef extra",
    ],
)
def test_a_malformed_or_unknown_key_is_401(db, credentials):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=credentials)
    response = client.get(PARCELS_URL)
    assert_problem(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_known_prefix_with_the_wrong_secret_is_401(customer):
    _, key = issue_api_key(customer)
    forged = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    assert_problem(api_key_client(forged).get(PARCELS_URL), 401, "authentication_failed")


def test_an_expired_key_is_401(customer):
    api_key, key = issue_api_key(customer)
    ApiKey.objects.filter(pk=api_key.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    assert_problem(api_key_client(key).get(PARCELS_URL), 401, "authentication_failed")


@commits
def test_a_deactivated_users_key_is_refused_at_once(customer):
    _, key = issue_api_key(customer)
    client = api_key_client(key)
    assert client.get(PARCELS_URL).status_code == 200
    customer.is_active = False
    customer.save()
    assert_problem(client.get(PARCELS_URL), 401, "user_not_found")


@commits
def test_a_deleted_users_key_is_refused_at_once(customer):
    _, key = issue_api_key(customer)
    client = api_key_client(key)
    assert client.get(PARCELS_URL).status_code == 200
    customer.delete()
    assert_problem(client.get(PARCELS_URL), 401, "authentication_failed")


def test_a_key_acts_as_its_user(customer):
    _, key = issue_api_key(customer, "parcels:read", "parcels:write")
    client = api_key_client(key)
    created = client.post(PARCELS_URL, parcel_body())
    assert created.status_code == 201
    assert Parcel.objects.get().owner == customer
    ParcelFactory()  # someone else's
    assert [p["id"] for p in client.get(PARCELS_URL).json()["results"]] == [created.json()["id"]]


# Scopes


def test_a_read_only_key_reads_but_cannot_write(customer):
    parcel = ParcelFactory(owner=customer)
    _, key = issue_api_key(customer, "parcels:read")
    client = api_key_client(key)
    assert client.get(PARCELS_URL).status_code == 200
    assert client.get(parcel_url(parcel)).status_code == 200
    assert client.get(f"{parcel_url(parcel)}events/").status_code == 200
    assert_problem(client.post(PARCELS_URL, parcel_body()), 403, "insufficient_scope")
    assert_problem(client.patch(parcel_url(parcel), {"reference": "x"}), 403, "insufficient_scope")
    assert_problem(client.post(f"{parcel_url(parcel)}cancel/"), 403, "insufficient_scope")
    parcel.refresh_from_db()
    assert (parcel.reference, parcel.status) != ("x", "cancelled")


def test_a_write_only_key_writes_but_cannot_read(customer):
    parcel = ParcelFactory(owner=customer)
    _, key = issue_api_key(customer, "parcels:write")
    client = api_key_client(key)
    assert client.patch(parcel_url(parcel), {"reference": "x"}).status_code == 200
    assert client.post(f"{parcel_url(parcel)}cancel/").status_code == 200
    assert_problem(client.get(parcel_url(parcel)), 403, "insufficient_scope")
    assert_problem(client.get(PARCELS_URL), 403, "insufficient_scope")


def test_a_carrier_key_without_events_write_cannot_post_events(carrier):
    parcel = ParcelFactory()
    _, key = issue_api_key(carrier, "parcels:read", "parcels:write")
    response = api_key_client(key).post(f"{parcel_url(parcel)}events/", {"status": "in_transit"})
    assert_problem(response, 403, "insufficient_scope")
    assert not TrackingEvent.objects.exists()


def test_a_carrier_key_with_events_write_posts_events(carrier):
    parcel = ParcelFactory()
    _, key = issue_api_key(carrier, "events:write")
    assert api_key_client(key).post(f"{parcel_url(parcel)}events/", {"status": "in_transit"}).status_code == 201
    assert TrackingEvent.objects.get().recorded_by == carrier


def test_a_customers_key_with_events_write_still_cannot_post_events(customer):
    parcel = ParcelFactory(owner=customer)
    _, key = issue_api_key(customer, "events:write", "parcels:read")
    response = api_key_client(key).post(f"{parcel_url(parcel)}events/", {"status": "in_transit"})
    assert_problem(response, 403, "permission_denied")
    assert not TrackingEvent.objects.exists()


def test_a_carrier_key_sees_every_parcel_as_its_user_does(carrier):
    ParcelFactory()
    ParcelFactory()
    _, key = issue_api_key(carrier, "parcels:read")
    assert len(api_key_client(key).get(PARCELS_URL).json()["results"]) == 2


@commits
def test_a_carrier_removed_from_carriers_loses_carrier_rights_at_once(carrier):
    parcel = ParcelFactory()
    _, key = issue_api_key(carrier, "events:write")
    client = api_key_client(key)
    assert client.post(f"{parcel_url(parcel)}events/", {"status": "in_transit"}).status_code == 201
    carrier.groups.remove(Group.objects.get(name=CARRIERS_GROUP))
    assert_problem(client.post(f"{parcel_url(parcel)}events/", {"status": "in_transit"}), 403, "permission_denied")


@commits
def test_a_group_losing_its_members_takes_their_keys_carrier_rights_at_once(carrier):
    parcel = ParcelFactory()
    _, key = issue_api_key(carrier, "events:write")
    client = api_key_client(key)
    assert client.post(f"{parcel_url(parcel)}events/", {"status": "in_transit"}).status_code == 201
    Group.objects.get(name=CARRIERS_GROUP).user_set.clear()
    assert_problem(client.post(f"{parcel_url(parcel)}events/", {"status": "in_transit"}), 403, "permission_denied")


def test_jwt_requests_are_not_limited_by_scopes(customer, customer_client):
    issue_api_key(customer, "parcels:read")
    assert customer_client.post(PARCELS_URL, parcel_body()).status_code == 201


# Cost, usage, throttling, logs


@pytest.mark.cache  # asserts what the shared cache saves
def test_a_warm_detail_read_with_a_key_costs_no_query(customer, django_assert_num_queries):
    parcel = ParcelFactory(owner=customer)
    _, key = issue_api_key(customer, "parcels:read")
    client = api_key_client(key)
    assert client.get(parcel_url(parcel)).status_code == 200  # loads the key's record and the document
    with django_assert_num_queries(0):
        assert client.get(parcel_url(parcel)).status_code == 200


@pytest.mark.cache  # asserts what the shared cache saves
def test_last_used_at_is_written_at_most_once_a_minute(customer, django_assert_num_queries):
    api_key, key = issue_api_key(customer, "parcels:read")
    client = api_key_client(key)
    assert client.get(KEYS_URL + "x").status_code == 404  # not a DRF view: nothing authenticates
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=None)
    client.get(PARCELS_URL)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=None)
    client.get(PARCELS_URL)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None  # within the minute: not written again


@pytest.mark.cache  # asserts what the shared cache saves
def test_a_wrong_secret_does_not_hold_back_last_used_at(customer):
    # Someone who knows only the prefix (it is in logs) sends forged keys; the real key still records its use.
    api_key, key = issue_api_key(customer, "parcels:read")
    forged = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    assert api_key_client(forged).get(PARCELS_URL).status_code == 401
    api_key_client(key).get(PARCELS_URL)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


@pytest.mark.cache  # throttle counters live in the cache
def test_each_key_has_its_own_rate_limit_instead_of_the_users(customer, customer_client, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "2/min", "api_key": "3/min"})
    _, first_key = issue_api_key(customer, "parcels:read")
    _, second_key = issue_api_key(customer, "parcels:read")
    first, second = api_key_client(first_key), api_key_client(second_key)
    assert [first.get(PARCELS_URL).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert_problem(first.get(PARCELS_URL), 429, "throttled")
    assert second.get(PARCELS_URL).status_code == 200
    # The keys' requests did not use up the user's own (JWT) limit.
    assert [customer_client.get(PARCELS_URL).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.cache  # throttle counters live in the cache
def test_guessing_a_keys_secret_does_not_spend_its_rate_limit(customer, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"anon": "100/min", "user": "100/min", "api_key": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    _, key = issue_api_key(customer, "parcels:read")
    forged = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    assert {api_key_client(forged).get(PARCELS_URL).status_code for _ in range(5)} == {401}
    assert [api_key_client(key).get(PARCELS_URL).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_access_line_names_the_key_by_its_prefix_never_the_key(customer, customer_client, caplog):
    api_key, key = issue_api_key(customer, "parcels:read")
    caplog.set_level(logging.INFO, logger="parcel_service.access")
    api_key_client(key).get(PARCELS_URL)
    customer_client.get(PARCELS_URL)
    by_key, by_jwt = [r for r in caplog.records if r.name == "parcel_service.access"]
    assert (by_key.api_key_prefix, by_key.user_id) == (api_key.prefix, customer.pk)
    assert not hasattr(by_jwt, "api_key_prefix")
    assert all(key not in str(r.__dict__) for r in caplog.records)


def test_with_the_cache_down_keys_are_checked_against_the_database(customer, dead_redis):
    api_key, key = issue_api_key(customer, "parcels:read")
    client = api_key_client(key)
    assert client.get(PARCELS_URL).status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(revoked=True, revoked_at=timezone.now())
    assert_problem(client.get(PARCELS_URL), 401, "authentication_failed")
