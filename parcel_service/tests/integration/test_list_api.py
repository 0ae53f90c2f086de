"""Parcel listing: scoping, filters, ordering, cursor pagination, constant query count, no COUNT(*)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcel_service.tests.factories import ParcelFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

LIST_URL = reverse("parcel_service:parcel-list") + "/"


def ids(response):
    return [p["id"] for p in response.json()["results"]]


def test_customer_lists_only_their_parcels(customer_client, customer, other_customer):
    mine = ParcelFactory.create_batch(3, owner=customer)
    ParcelFactory.create_batch(2, owner=other_customer)
    response = customer_client.get(LIST_URL)
    assert response.status_code == 200
    assert set(response.json()) == {"next", "previous", "results"}
    assert set(ids(response)) == {str(p.pk) for p in mine}


@pytest.mark.parametrize("client_name", ["carrier_client", "staff_client"])
def test_carriers_and_staff_list_everything(request, client_name, customer, other_customer):
    ParcelFactory.create_batch(2, owner=customer)
    ParcelFactory.create_batch(2, owner=other_customer)
    assert len(ids(request.getfixturevalue(client_name).get(LIST_URL))) == 4


def test_list_requires_authentication(anon_client):
    assert_problem(anon_client.get(LIST_URL), 401, "not_authenticated")


def test_default_order_is_newest_first_and_cursor_walks_every_parcel_once(customer_client, customer):
    now = timezone.now()
    parcels = [ParcelFactory(owner=customer, created_at=now - timedelta(minutes=i)) for i in range(7)]
    seen, url = [], f"{LIST_URL}?page_size=3"
    while url:
        response = customer_client.get(url)
        seen += ids(response)
        url = response.json()["next"]
    assert seen == [str(p.pk) for p in parcels]


def test_ordering_ascending_by_created_at(customer_client, customer):
    now = timezone.now()
    old = ParcelFactory(owner=customer, created_at=now - timedelta(days=1))
    new = ParcelFactory(owner=customer, created_at=now)
    assert ids(customer_client.get(f"{LIST_URL}?ordering=created_at")) == [str(old.pk), str(new.pk)]


def test_filters_status_repeatable_reference_and_dates(customer_client, customer):
    now = timezone.now()
    a = ParcelFactory(owner=customer, status="in_transit", reference="A", created_at=now - timedelta(days=2))
    b = ParcelFactory(owner=customer, status="delivered", reference="B", created_at=now)
    ParcelFactory(owner=customer, status="pending", reference="C", created_at=now)
    assert set(ids(customer_client.get(f"{LIST_URL}?status=in_transit&status=delivered"))) == {str(a.pk), str(b.pk)}
    assert ids(customer_client.get(f"{LIST_URL}?reference=B")) == [str(b.pk)]
    after = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert str(a.pk) not in ids(customer_client.get(f"{LIST_URL}?created_after={after}"))
    assert ids(customer_client.get(f"{LIST_URL}?created_before={after}")) == [str(a.pk)]


def test_search_by_tracking_number_reference_and_recipient_name(customer_client, customer):
    a = ParcelFactory(owner=customer, recipient_name="Grace Hopper", reference="INV-77")
    ParcelFactory(owner=customer, recipient_name="Alan Turing", reference="INV-88")
    assert ids(customer_client.get(f"{LIST_URL}?search=hopper")) == [str(a.pk)]
    assert ids(customer_client.get(f"{LIST_URL}?search=INV-77")) == [str(a.pk)]
    assert ids(customer_client.get(f"{LIST_URL}?search={a.tracking_number.lower()}")) == [str(a.pk)]


@pytest.mark.parametrize(
    "query",
    [
        "created_before=0007-01-16T20%3A25%3A30.489637-17%3A21",  # an offset PostgreSQL itself would refuse
        "created_after=0001-01-01T00%3A00%3A00%2B10%3A00",  # before year 1 in UTC
        "created_before=9999-12-31T23%3A00%3A00-10%3A00",  # after year 9999 in UTC
    ],
)
def test_extreme_but_valid_datetimes_are_answered_not_500(customer_client, customer, query):
    ParcelFactory(owner=customer)
    assert customer_client.get(f"{LIST_URL}?{query}").status_code == 200


def test_page_size_is_clamped_to_100(customer_client, customer):
    ParcelFactory.create_batch(101, owner=customer)
    assert len(ids(customer_client.get(f"{LIST_URL}?page_size=500"))) == 100


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("status=teleported", "/query/status"),
        ("ordering=owner", "/query/ordering"),
        ("created_after=yesterday", "/query/created_after"),
        ("created_before=", "/query/created_before"),
        ("page_size=0", "/query/page_size"),
        ("page_size=ten", "/query/page_size"),
        ("page_size=-5", "/query/page_size"),
        ("cursor=not-a-cursor", "/query/cursor"),
        ("search=a%00b", "/query/search"),
    ],
)
def test_invalid_query_parameters_are_400_with_query_pointers(customer_client, query, pointer):
    assert_problem(customer_client.get(f"{LIST_URL}?{query}"), 400, "validation_error", pointer)


@pytest.mark.parametrize("client_name", ["customer_client", "carrier_client"])
def test_query_count_is_the_same_for_page_sizes_5_and_100_and_never_counts(request, client_name, customer):
    from parcel_service.http.authentication import clear_user_cache

    ParcelFactory.create_batch(120, owner=customer)
    client = request.getfixturevalue(client_name)
    counts = {}
    for size in (5, 100):
        clear_user_cache()  # measure the worst case: the user is loaded too
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{LIST_URL}?page_size={size}")
        assert len(ids(response)) == size
        counts[size] = len(queries)
        assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts[5] == counts[100] == 2  # the user (with role) and one page
