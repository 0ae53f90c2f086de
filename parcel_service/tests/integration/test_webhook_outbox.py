"""The outbox: which changes write which messages, for whom, in the change's transaction; and one attempt's outcome.

In process, on both databases (PostgreSQL writes the rows from the change's own statement where it can).
Delivery is exercised here with the ``Deliverer`` called directly against a receiver on loopback; the Celery
worker processes are in ``test_webhook_processes.py``.
"""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from parcel_service.api.services import get_parcel_service
from parcel_service.http.outbound import OutboundClient
from parcel_service.models import Parcel, WebhookDelivery, WebhookEndpoint
from parcel_service.tests.factories import ParcelFactory, UserFactory, WebhookEndpointFactory, address
from parcel_service.tests.receiver import always, receiver, script
from parcel_service.webhooks.delivery import Deliverer, due_claims
from parcel_service.webhooks.messages import message_body

pytestmark = pytest.mark.django_db(transaction=True)

CREATE = {"sender": address(), "recipient": address("Grace Hopper"), "weight_grams": 1200}


def messages(endpoint=None):
    found = WebhookDelivery.objects.order_by("created_at", "id")
    return list(found.filter(endpoint=endpoint) if endpoint else found)


def deliverer(**overrides):
    options = {"timeout_s": 2.0, "allow_private": True, "retry_scale": 0.001, "disable_after_s": 3600}
    options.update(overrides)
    return Deliverer(client=OutboundClient(timeout_s=options["timeout_s"]), **options)


@pytest.fixture
def subscribers(customer, other_customer, staff):
    return {
        "mine": WebhookEndpointFactory(owner=customer),
        "other": WebhookEndpointFactory(owner=other_customer),
        "staff": WebhookEndpointFactory(owner=staff),
        "created_only": WebhookEndpointFactory(owner=customer, events=["parcel.created"]),
        "inactive": WebhookEndpointFactory(owner=customer, is_active=False),
    }


def test_a_create_queues_parcel_created_for_the_owner_and_staff_only(customer_client, subscribers):
    response = customer_client.post("/api/v1/parcels/", CREATE, format="json")
    assert response.status_code == 201
    queued = messages()
    assert {(m.endpoint_id, m.event_type) for m in queued} == {
        (subscribers[name].pk, "parcel.created") for name in ("mine", "staff", "created_only")
    }
    assert {str(m.parcel_id) for m in queued} == {response.json()["id"]}
    assert all(m.status == "pending" and m.attempts == 0 for m in queued)


def test_an_event_queues_status_changed_whose_data_is_the_parcel_as_get_renders_it(
    customer, customer_client, carrier_client, subscribers
):
    parcel = ParcelFactory(owner=customer)
    response = carrier_client.post(
        f"/api/v1/parcels/{parcel.pk}/events/", {"status": "in_transit", "location": "Utrecht hub"}, format="json"
    )
    assert response.status_code == 201
    queued = messages()
    assert {(m.endpoint_id, m.event_type) for m in queued} == {
        (subscribers["mine"].pk, "parcel.status_changed"),
        (subscribers["staff"].pk, "parcel.status_changed"),
    }
    body = orjson.loads(message_body(queued[0]))
    detail = customer_client.get(f"/api/v1/parcels/{parcel.pk}/").json()
    assert body["type"] == "parcel.status_changed"
    assert body["data"] == {**detail, "version": 2, "event": response.json()}
    assert message_body(queued[0]) == message_body(WebhookDelivery.objects.get(pk=queued[0].pk))  # stable


def test_every_kind_of_change_queues_its_type(customer, customer_client, carrier_client, subscribers):
    mine = subscribers["mine"]
    created = customer_client.post("/api/v1/parcels/", CREATE, format="json").json()
    detail = f"/api/v1/parcels/{created['id']}/"
    assert customer_client.patch(detail, {"reference": "order-7"}, format="json").status_code == 200
    assert customer_client.post(f"{detail}cancel/").status_code == 200
    other = ParcelFactory(owner=customer)
    batch = [{"tracking_number": other.tracking_number, "status": s} for s in ("in_transit", "out_for_delivery")]
    assert carrier_client.post("/api/v1/events/batch/", {"events": batch}, format="json").status_code == 200
    # A batch's messages may share their created_at: ordered by the version they describe within it.
    queued = sorted(messages(mine), key=lambda m: (m.created_at, m.snapshot["parcel"]["version"]))
    kinds = [(m.event_type, orjson.loads(message_body(m))["data"]) for m in queued]
    assert [(kind, data["status"], data["version"]) for kind, data in kinds] == [
        ("parcel.created", "pending", 1),
        ("parcel.updated", "pending", 2),
        ("parcel.status_changed", "cancelled", 3),
        ("parcel.status_changed", "in_transit", 2),  # each batch item describes the parcel as it left it
        ("parcel.status_changed", "out_for_delivery", 3),
    ]
    assert kinds[1][1]["reference"] == "order-7"
    assert [data["event"]["status"] for _, data in kinds[2:]] == ["cancelled", "in_transit", "out_for_delivery"]


def test_refused_and_rolled_back_changes_queue_nothing(customer, customer_client, carrier_client, subscribers):
    parcel = ParcelFactory(owner=customer, status="delivered")
    response = carrier_client.post(f"/api/v1/parcels/{parcel.pk}/events/", {"status": "in_transit"}, format="json")
    assert response.status_code == 409
    with pytest.raises(RuntimeError), transaction.atomic():
        get_parcel_service().create(owner=customer, data={**CREATE, "sender": address(), "recipient": address()})
        raise RuntimeError("the caller's transaction fails after the create")
    assert not Parcel.objects.exclude(pk=parcel.pk).exists()
    assert messages() == []


def test_a_batch_writes_messages_only_about_parcels_someone_hears_of(customer, other_customer, carrier_client):
    heard, unheard = ParcelFactory(owner=customer), ParcelFactory(owner=other_customer)
    batch = [{"tracking_number": p.tracking_number, "status": "in_transit"} for p in (heard, unheard)]
    with CaptureQueriesContext(connection) as nobody_subscribed:
        assert carrier_client.post("/api/v1/events/batch/", {"events": batch}, format="json").status_code == 200
    # Nobody subscribed: no snapshot is built and no message row written.
    assert not any("INSERT INTO" in q["sql"] and "webhookdelivery" in q["sql"] for q in nobody_subscribed)
    assert messages() == []
    mine = WebhookEndpointFactory(owner=customer)
    batch = [{"tracking_number": p.tracking_number, "status": "out_for_delivery"} for p in (heard, unheard)]
    assert carrier_client.post("/api/v1/events/batch/", {"events": batch}, format="json").status_code == 200
    assert [(m.endpoint_id, m.parcel_id) for m in messages()] == [(mine.pk, heard.pk)]


def test_an_inactive_user_gets_nothing(customer, customer_client, subscribers):
    staff_owner = subscribers["staff"].owner
    staff_owner.is_active = False
    staff_owner.save()
    customer_client.post("/api/v1/parcels/", CREATE, format="json")
    assert subscribers["staff"].pk not in {m.endpoint_id for m in messages()}


def test_a_signed_message_arrives_and_verifies(customer, customer_client):
    with receiver(always(200)) as rec:
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        customer_client.post("/api/v1/parcels/", CREATE, format="json")
        (message,) = messages()
        (outcome,) = deliverer().deliver([(str(message.pk), 0)])
        (request,) = rec.wait_for(1)
    assert outcome.outcome == "succeeded"
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "parcel.created" and payload["data"]["id"] == str(message.parcel_id)
    assert request.headers["webhook-id"] == str(message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_status_code, message.next_attempt_at) == (
        "succeeded",
        1,
        200,
        None,
    )


def test_a_duplicate_task_sends_nothing_more(customer):
    with receiver(always(200)) as rec:
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        ParcelFactory(owner=customer)
        message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={"x": 1})
        first = deliverer().deliver([(str(message.pk), 0)])
        again = deliverer().deliver([(str(message.pk), 0)])  # the same task, run twice (acks_late)
        assert len(rec.received) == 1
    assert [o.outcome for o in first] == ["succeeded"] and again == []


def test_a_message_in_flight_is_not_attempted_twice(customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    message = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type="webhook.test",
        snapshot={},
        attempts=1,
        locked_until=timezone.now() + timedelta(60),
    )
    assert deliverer().deliver([(str(message.pk), 1)]) == []


def test_500_twice_then_200_is_three_attempts_with_growing_gaps(customer):
    with receiver(script((500, b"no"), (500, b"no"), then=(200, b""))) as rec:
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
        outcomes, attempts, due = [], 0, []
        while not outcomes or outcomes[-1] != "succeeded":
            (outcome,) = deliverer().deliver([(str(message.pk), attempts)])
            outcomes.append(outcome.outcome)
            message.refresh_from_db()
            attempts = message.attempts
            due.append(message.next_attempt_at)
        received = rec.wait_for(3)
    assert outcomes == ["retrying", "retrying", "succeeded"]
    assert len({r.headers["webhook-id"] for r in received}) == 1  # the same message id each time
    assert message.attempts == 3 and message.last_status_code == 200 and message.last_error == ""
    # The waits scheduled after each failure follow the schedule (5 s, then 5 min), compressed 1000x.
    assert due[0] is not None and due[1] is not None and due[2] is None


def test_failures_are_logged_without_the_receivers_body(customer):
    with receiver(always(500, b"secret stack trace")) as rec:
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
        deliverer().deliver([(str(message.pk), 0)])
    message.refresh_from_db()
    assert (message.status, message.last_status_code, message.last_error) == ("pending", 500, "HTTP 500")
    assert message.next_attempt_at > timezone.now() - timedelta(seconds=1)


def test_the_eighth_failure_is_final(customer):
    with receiver(always(503)) as rec:
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={}, attempts=7)
        (outcome,) = deliverer().deliver([(str(message.pk), 7)])
    message.refresh_from_db()
    assert (outcome.outcome, message.status, message.next_attempt_at) == ("failed", "failed", None)


def test_an_endpoint_failing_for_too_long_is_disabled(customer):
    endpoint = WebhookEndpointFactory(
        owner=customer, url="http://127.0.0.1:1/", failing_since=timezone.now() - timedelta(days=6)
    )
    message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
    deliverer(disable_after_s=5 * 86400).deliver([(str(message.pk), 0)])
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "5 days" in endpoint.disabled_reason


def test_a_success_ends_the_run_of_failures(customer):
    with receiver(always(204)) as rec:
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url, failing_since=timezone.now())
        message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
        deliverer().deliver([(str(message.pk), 0)])
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active


def test_a_url_that_became_private_is_refused_at_delivery(settings, customer):
    with receiver(always(200)) as rec:
        # Allowed when subscribed (private targets allowed then); the address is loopback now.
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url.replace("http://", "https://"))
        message = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
        (outcome,) = deliverer(allow_private=False).deliver([(str(message.pk), 0)])
        assert rec.received == []
    assert outcome.outcome == "retrying" and "private" in outcome.answer.error


def test_the_dispatcher_takes_due_messages_once_and_leaves_the_rest(customer):
    endpoint = WebhookEndpointFactory(owner=customer)
    now = timezone.now()
    due = WebhookDelivery.objects.create(endpoint=endpoint, event_type="t", snapshot={}, next_attempt_at=now)
    WebhookDelivery.objects.create(endpoint=endpoint, event_type="t", snapshot={}, next_attempt_at=now + timedelta(1))
    WebhookDelivery.objects.create(endpoint=endpoint, event_type="t", snapshot={}, status="succeeded")
    WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="t", snapshot={}, next_attempt_at=now, locked_until=now + timedelta(1)
    )
    assert due_claims(now=now, requeue_after=timedelta(seconds=60), limit=100) == [(str(due.pk), 0)]
    assert due_claims(now=now, requeue_after=timedelta(seconds=60), limit=100) == []  # pushed ahead
    later = now + timedelta(seconds=61)
    assert due_claims(now=later, requeue_after=timedelta(seconds=60), limit=100) == [(str(due.pk), 0)]


def test_a_staff_endpoint_hears_of_every_customers_parcels(staff, customer, carrier_client):
    endpoint = WebhookEndpointFactory(owner=staff, events=["parcel.status_changed"])
    parcels = [ParcelFactory(owner=UserFactory()) for _ in range(3)]
    for parcel in parcels:
        carrier_client.post(f"/api/v1/parcels/{parcel.pk}/events/", {"status": "in_transit"}, format="json")
    assert {m.parcel_id for m in messages(endpoint)} == {p.pk for p in parcels}
    assert WebhookEndpoint.objects.count() == 1


def test_the_purge_deletes_finished_messages_past_retention_only(customer, monkeypatch):
    from parcel_service.webhooks import tasks

    monkeypatch.setattr(tasks, "PURGE_BATCH", 2)  # several batches
    endpoint = WebhookEndpointFactory(owner=customer)
    old = timezone.now() - timedelta(days=31)
    kept = [
        WebhookDelivery.objects.create(
            endpoint=endpoint, event_type="t", snapshot={}, status="pending", created_at=old
        ),
        WebhookDelivery.objects.create(endpoint=endpoint, event_type="t", snapshot={}, status="succeeded"),
    ]
    for status in ("succeeded", "failed", "succeeded"):
        WebhookDelivery.objects.create(endpoint=endpoint, event_type="t", snapshot={}, status=status, created_at=old)
    assert tasks.purge_deliveries() == 3
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {d.pk for d in kept}


def test_the_task_lease_covers_every_message_it_holds(customer):
    endpoint = WebhookEndpointFactory(owner=customer, url="http://127.0.0.1:1/")
    messages = [WebhookDelivery.objects.create(endpoint=endpoint, event_type="t", snapshot={}) for _ in range(3)]
    d = deliverer(timeout_s=5.0)
    claimed = d._claim({str(m.pk): 0 for m in messages})
    leases = set(WebhookDelivery.objects.values_list("locked_until", flat=True))
    assert len(claimed) == 3 and len(leases) == 1
    assert timedelta(seconds=24) < leases.pop() - timezone.now() <= timedelta(seconds=25)  # 3 x 5 s + 10 s
