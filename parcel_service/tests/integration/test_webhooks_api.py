"""The webhook endpoints API: subscribe, list, edit, rotate, test, the delivery log, redeliver; every refusal."""

from __future__ import annotations

import uuid

import pytest

from parcel_service.models import WebhookDelivery, WebhookEndpoint
from parcel_service.tests.conftest_helpers import api_key_client, issue_api_key
from parcel_service.tests.factories import WebhookEndpointFactory
from parcel_service.tests.integration.helpers import assert_problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/"
BODY = {"url": "https://127.0.0.1/hooks", "events": ["parcel.created", "parcel.status_changed"]}


def test_subscribing_answers_201_with_the_secret_once_and_a_location(customer_client, customer):
    response = customer_client.post(URL, {**BODY, "description": "shop"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert response["Location"] == f"{URL}{body['id']}/"
    assert {k: body[k] for k in ("url", "events", "description", "is_active", "disabled_reason")} == {
        "url": BODY["url"],
        "events": BODY["events"],
        "description": "shop",
        "is_active": True,
        "disabled_reason": "",
    }
    assert WebhookEndpoint.objects.get(pk=body["id"]).owner == customer
    shown = customer_client.get(response["Location"]).json()
    assert "secret" not in shown and shown["id"] == body["id"]
    assert "secret" not in customer_client.get(URL).json()["results"][0]


def test_the_list_is_your_own_newest_first(customer_client, customer, other_customer):
    mine = [WebhookEndpointFactory(owner=customer) for _ in range(3)]
    WebhookEndpointFactory(owner=other_customer)
    body = customer_client.get(URL, {"page_size": 2}).json()
    assert [e["id"] for e in body["results"]] == [str(e.pk) for e in reversed(mine)][:2]
    assert body["next"]


def test_another_users_endpoint_is_a_404_for_every_operation(customer_client, other_customer, staff_client):
    endpoint = WebhookEndpointFactory(owner=other_customer)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
    detail = f"{URL}{endpoint.pk}/"
    for client in (customer_client, staff_client):  # staff too: an endpoint is its owner's alone
        assert_problem(client.get(detail), 404, "not_found")
        assert_problem(client.patch(detail, {"description": "x"}, format="json"), 404, "not_found")
        assert_problem(client.delete(detail), 404, "not_found")
        assert_problem(client.post(f"{detail}rotate-secret/"), 404, "not_found")
        assert_problem(client.post(f"{detail}test/"), 404, "not_found")
        assert_problem(client.get(f"{detail}deliveries/"), 404, "not_found")
        assert_problem(client.post(f"{detail}deliveries/{delivery.pk}/redeliver/"), 404, "not_found")
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_carriers_cannot_subscribe(carrier_client):
    assert_problem(carrier_client.post(URL, BODY, format="json"), 403, "permission_denied")
    assert_problem(carrier_client.get(URL), 403, "permission_denied")
    assert not WebhookEndpoint.objects.exists()


def test_anonymous_is_401(anon_client):
    assert_problem(anon_client.post(URL, BODY, format="json"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # not https
        "https://127.0.0.1/in",
        "https://10.0.0.8/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/in",
        "https://user:secret@hooks.example.com/in",
        "https://nowhere.invalid/in",
    ],
)
def test_urls_that_are_not_https_or_reach_private_networks_are_refused(settings, customer_client, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = customer_client.post(URL, {**BODY, "url": url}, format="json")
    assert_problem(response, 400, "webhook_url_not_allowed", pointer="/url")
    assert url not in response.content.decode()  # the answer says why, without echoing a credential
    assert not WebhookEndpoint.objects.exists()


def test_a_changed_url_is_checked_too(settings, customer_client, customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = customer_client.patch(f"{URL}{endpoint.pk}/", {"url": "https://192.168.0.1/"}, format="json")
    assert_problem(response, 400, "webhook_url_not_allowed", pointer="/url")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/parcels"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({**BODY, "events": ["parcel.exploded"]}, "/events/0"),
        ({**BODY, "events": []}, "/events"),
        ({**BODY, "events": "parcel.created"}, "/events"),
        ({"events": BODY["events"]}, "/url"),
        ({**BODY, "description": "x" * 201}, "/description"),
        ({**BODY, "url": 42}, "/url"),
    ],
)
def test_invalid_bodies_are_400_with_a_pointer(customer_client, body, pointer):
    assert_problem(customer_client.post(URL, body, format="json"), 400, "validation_error", pointer=pointer)
    assert not WebhookEndpoint.objects.exists()


def test_unknown_fields_and_the_secret_cannot_be_written(customer_client, customer):
    response = customer_client.post(URL, {**BODY, "secret": "whsec_mine"}, format="json")
    assert_problem(response, 400, "unknown_field", pointer="/secret")
    endpoint = WebhookEndpointFactory(owner=customer)
    response = customer_client.patch(f"{URL}{endpoint.pk}/", {"owner": 1}, format="json")
    assert_problem(response, 400, "unknown_field", pointer="/owner")


def test_patch_edits_and_re_enables(customer_client, customer):
    endpoint = WebhookEndpointFactory(owner=customer, is_active=False, disabled_reason="Every delivery failed.")
    response = customer_client.patch(
        f"{URL}{endpoint.pk}/", {"is_active": True, "events": ["parcel.updated"]}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["disabled_reason"]) == (True, "")
    assert response.json()["events"] == ["parcel.updated"]
    assert customer_client.put(f"{URL}{endpoint.pk}/", BODY, format="json").status_code == 405


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_a_day(customer_client, customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    old = endpoint.secret
    response = customer_client.post(f"{URL}{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert response.json() == {"secret": endpoint.secret} and endpoint.secret != old
    assert endpoint.previous_secret == old
    assert 23.9 * 3600 < (endpoint.previous_secret_expires_at - endpoint.created_at).total_seconds() < 24.1 * 3600


def test_a_test_message_is_queued_and_logged(customer_client, customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    response = customer_client.post(f"{URL}{endpoint.pk}/test/")
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert (delivery.event_type, delivery.status, delivery.attempts) == ("webhook.test", "pending", 0)
    log = customer_client.get(f"{URL}{endpoint.pk}/deliveries/").json()["results"]
    assert [d["id"] for d in log] == [str(delivery.pk)]
    assert set(log[0]) == {
        "id",
        "event_type",
        "parcel_id",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    }


def test_redeliver_makes_a_finished_message_pending_again(customer_client, customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="webhook.test", snapshot={}, status="failed", attempts=8
    )
    response = customer_client.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 202
    assert (response.json()["id"], response.json()["status"], response.json()["attempts"]) == (
        str(delivery.pk),
        "pending",
        8,
    )
    missing = f"{URL}{endpoint.pk}/deliveries/{uuid.uuid4()}/redeliver/"
    assert_problem(customer_client.post(missing), 404, "not_found")


def test_delete_drops_the_endpoint_and_its_log(customer_client, customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
    assert customer_client.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_api_keys_need_the_webhooks_scope(customer):
    _, without = issue_api_key(customer, "parcels:read")
    assert_problem(api_key_client(without).get(URL), 403, "insufficient_scope")
    _, with_scope = issue_api_key(customer, "webhooks:manage")
    assert api_key_client(with_scope).post(URL, BODY, format="json").status_code == 201
