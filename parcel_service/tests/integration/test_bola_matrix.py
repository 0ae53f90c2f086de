"""Object-level authorization, every parcel endpoint x every role: another customer's parcel is a 404,
a carrier may read and scan but not edit, staff may do everything, anonymous callers get 401."""

import pytest
from django.urls import reverse

from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.factories import ParcelFactory

pytestmark = pytest.mark.django_db

ROLES = ["owner", "other", "carrier", "staff", "anonymous"]
CLIENTS = {
    "owner": "customer_client",
    "other": "other_client",
    "carrier": "carrier_client",
    "staff": "staff_client",
    "anonymous": "anon_client",
}
# endpoint -> (method, url name, body, expected status per role)
MATRIX = {
    "detail": (
        "get",
        "parcel-detail",
        None,
        {"owner": 200, "other": 404, "carrier": 200, "staff": 200, "anonymous": 401},
    ),
    "edit": (
        "patch",
        "parcel-detail",
        {"reference": "changed"},
        {"owner": 200, "other": 404, "carrier": 403, "staff": 200, "anonymous": 401},
    ),
    "cancel": (
        "post",
        "parcel-cancel",
        None,
        {"owner": 200, "other": 404, "carrier": 403, "staff": 200, "anonymous": 401},
    ),
    "events": (
        "get",
        "parcel-events",
        None,
        {"owner": 200, "other": 404, "carrier": 200, "staff": 200, "anonymous": 401},
    ),
    "scan": (
        "post",
        "parcel-events",
        {"status": "in_transit"},
        {"owner": 403, "other": 403, "carrier": 201, "staff": 201, "anonymous": 401},
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_every_role_on_every_parcel_endpoint(request, customer, endpoint, role):
    method, name, body, expected = MATRIX[endpoint]
    parcel = ParcelFactory(owner=customer, reference="original")
    client = request.getfixturevalue(CLIENTS[role])
    url = reverse(f"parcel_service:{name}", kwargs={"pk": parcel.pk}) + "/"
    response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    assert response.status_code == expected[role], response.content
    parcel.refresh_from_db()
    if response.status_code >= 400:  # a refusal changes nothing
        assert (parcel.reference, parcel.status, parcel.version) == ("original", "pending", 1)
        assert not TrackingEvent.objects.filter(parcel=parcel).exists()


@pytest.mark.parametrize("role", ROLES)
def test_listing_shows_each_role_exactly_what_it_may_see(request, customer, other_customer, role):
    mine = ParcelFactory(owner=customer)
    theirs = ParcelFactory(owner=other_customer)
    response = request.getfixturevalue(CLIENTS[role]).get(reverse("parcel_service:parcel-list") + "/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    seen = {p["id"] for p in response.json()["results"]}
    expected = {
        "owner": {str(mine.pk)},
        "other": {str(theirs.pk)},
        "carrier": {str(mine.pk), str(theirs.pk)},
        "staff": {str(mine.pk), str(theirs.pk)},
    }[role]
    assert seen == expected
    assert Parcel.objects.count() == 2
