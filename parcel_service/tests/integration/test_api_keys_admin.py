"""The admin lists API keys and revokes them (through the service, so every worker refuses them at once)."""

import pytest
from django.test import Client

from parcel_service.models import ApiKey
from parcel_service.tests.conftest_helpers import api_key_client, issue_api_key
from parcel_service.tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # revocation refreshes the key records when it commits

CHANGELIST = "/admin/parcel_service/apikey/"


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_staff_list_keys_by_prefix_and_owner_never_the_key(admin_client, customer):
    api_key, key = issue_api_key(customer, name="Shop")
    page = admin_client.get(CHANGELIST).content.decode()
    assert api_key.prefix in page and "alice" in page and "Shop" in page
    assert key not in page and api_key.hashed_key not in page
    detail = admin_client.get(f"{CHANGELIST}{api_key.pk}/change/").content.decode()
    assert api_key.prefix in detail and key not in detail and api_key.hashed_key not in detail


def test_staff_revoke_keys_with_the_admin_action_and_they_stop_working(admin_client, customer):
    api_key, key = issue_api_key(customer, "parcels:read")
    _, kept_key = issue_api_key(customer, "parcels:read")
    assert api_key_client(key).get("/api/v1/parcels/").status_code == 200
    response = admin_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [str(api_key.pk)]}, follow=True)
    assert "Revoked 1 API key(s)." in response.content.decode()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
    assert api_key_client(key).get("/api/v1/parcels/").status_code == 401
    assert api_key_client(kept_key).get("/api/v1/parcels/").status_code == 200


def test_keys_are_neither_added_nor_deleted_in_the_admin(admin_client, customer):
    api_key, _ = issue_api_key(customer)
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{api_key.pk}/delete/").status_code == 403
    assert "rest_framework_api_key/apikey" not in admin_client.get("/admin/").content.decode()
