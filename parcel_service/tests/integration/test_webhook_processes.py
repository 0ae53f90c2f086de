"""Webhooks end to end, in real processes: Gunicorn commits a change, Redis carries the nudge, a Celery worker (with
beat) delivers to a receiver on loopback. The broker is a private Redis, so a test may stop it; schedules are
compressed with the settings production sets to hours.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from parcel_service.models import WebhookDelivery
from parcel_service.tests.factories import ParcelFactory, UserFactory, WebhookEndpointFactory
from parcel_service.tests.integration.test_parcels_api import valid_body
from parcel_service.tests.integration.test_processes import bearer
from parcel_service.tests.processes import celery_worker, gunicorn, redis_server
from parcel_service.tests.receiver import always, receiver, script

pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, timeout=60.0, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def attempt_lines(worker):
    lines = []
    for line in worker.log_lines():
        if line.startswith("{") and '"webhook attempt"' in line:
            lines.append(json.loads(line))
    return lines


def test_a_created_parcel_reaches_the_receiver_signed_and_the_trace_ids_stay_out_of_the_body():
    customer = UserFactory()
    with receiver(always(204)) as rec, redis_server() as (_, port):
        broker = f"redis://127.0.0.1:{port}/0"
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url, events=["parcel.created"])
        with celery_worker(broker), gunicorn(workers=2, CELERY_BROKER_URL=broker, REDIS_URL=broker) as server:
            created = requests.post(
                f"{server.url}/api/v1/parcels/", json=valid_body(), headers=bearer(customer), timeout=30
            )
            assert created.status_code == 201
            (request,) = rec.wait_for(1, timeout=30)
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "parcel.created"
    assert payload["data"]["id"] == created.json()["id"] and payload["data"]["version"] == 1
    message = WebhookDelivery.objects.get()
    assert request.headers["webhook-id"] == str(message.pk)
    wait_until(lambda: WebhookDelivery.objects.get().status == "succeeded", message="the delivery to be recorded")


def test_a_change_committed_while_redis_is_down_is_delivered_once_it_returns():
    customer = UserFactory()
    with receiver(always(200)) as rec, redis_server() as (redis_process, port):
        broker = f"redis://127.0.0.1:{port}/0"
        WebhookEndpointFactory(owner=customer, url=rec.url, events=["parcel.created"])
        with celery_worker(broker), gunicorn(workers=1, CELERY_BROKER_URL=broker, REDIS_URL=broker) as server:
            redis_process.terminate()
            redis_process.wait(timeout=10)
            started = time.monotonic()
            created = requests.post(
                f"{server.url}/api/v1/parcels/", json=valid_body(), headers=bearer(customer), timeout=30
            )
            assert created.status_code == 201  # the change commits; the nudge to the workers is lost
            assert time.monotonic() - started < 10  # a failed publish costs a short timeout, never a hang
            time.sleep(1)
            assert rec.received == []
            with redis_server(port):  # Redis returns (empty: whatever it held is gone)
                (request,) = rec.wait_for(1, timeout=60)  # the dispatcher found the committed message
    assert json.loads(request.body)["data"]["id"] == created.json()["id"]


def test_a_worker_killed_mid_delivery_leaves_the_message_to_the_next_with_the_same_id():
    customer = UserFactory()
    parcel = ParcelFactory(owner=customer)
    # The first request hangs (the worker is killed while it waits); the second is answered.
    with receiver(script(None, then=(200, b""))) as rec, redis_server() as (_, port):
        broker = f"redis://127.0.0.1:{port}/0"
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        message = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_type="webhook.test",
            snapshot={"parcel_id": str(parcel.pk)},
            next_attempt_at=timezone.now(),  # due, and queued by nothing but the dispatcher
        )
        settings_env = {"WEBHOOK_TIMEOUT_S": "3"}
        with celery_worker(broker, **settings_env) as worker:
            rec.wait_for(1, timeout=30)  # in flight
            worker.kill()
        message.refresh_from_db()
        assert (message.status, message.attempts) == ("pending", 1)
        with celery_worker(broker, **settings_env):
            received = rec.wait_for(2, timeout=60)  # once the killed attempt's lease ran out
            wait_until(lambda: WebhookDelivery.objects.get().status == "succeeded", message="success")
    assert [r.headers["webhook-id"] for r in received] == [str(message.pk)] * 2
    message.refresh_from_db()
    assert message.attempts == 2


def test_500_twice_then_200_is_three_attempts_with_growing_gaps_each_logged():
    customer = UserFactory()
    with receiver(script((500, b"down"), (500, b"down"), then=(200, b""))) as rec, redis_server() as (_, port):
        broker = f"redis://127.0.0.1:{port}/0"
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        # 5 s and 5 min between attempts, compressed 250 times: 0.02 s and 1.2 s (plus the dispatcher's 0.5 s).
        with celery_worker(broker, WEBHOOK_RETRY_SCALE="0.004") as worker:
            requests_ = WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={})
            # Nothing queued it: the dispatcher finds it once due (as after a lost nudge).
            WebhookDelivery.objects.filter(pk=requests_.pk).update(next_attempt_at=requests_.created_at)
            received = rec.wait_for(3, timeout=60)
            wait_until(lambda: WebhookDelivery.objects.get().status == "succeeded", message="success")
            wait_until(
                lambda: len(attempt_lines(worker)) == 3,
                message="three attempt lines:\n" + "\n".join(worker.log_lines()[-20:]),
            )
            lines = attempt_lines(worker)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    assert gaps[0] < gaps[1]
    assert [(line["attempt"], line["status_code"], line["outcome"]) for line in lines] == [
        (1, 500, "retrying"),
        (2, 500, "retrying"),
        (3, 200, "succeeded"),
    ]
    assert all(line["webhook_id"] == str(requests_.pk) for line in lines)
    assert all("down" not in json.dumps(line) for line in lines)  # never the receiver's body


def test_200_concurrent_events_on_20_parcels_reach_3_endpoints_each_exactly_as_recorded():
    customer, carrier = UserFactory(), UserFactory(carrier=True)
    parcels = [ParcelFactory(owner=customer, status="in_transit") for _ in range(20)]
    with receiver(always(204)) as rec, redis_server() as (_, port):
        broker = f"redis://127.0.0.1:{port}/0"
        endpoints = {
            f"/hooks/{name}": WebhookEndpointFactory(owner=owner, url=f"{rec.url}/{name}", events=events)
            for name, owner, events in (
                ("a", customer, ["parcel.status_changed"]),
                ("b", customer, ["parcel.status_changed", "parcel.created"]),
                ("c", UserFactory(is_staff=True), ["parcel.status_changed"]),
            )
        }
        with celery_worker(broker), gunicorn(workers=3, CELERY_BROKER_URL=broker, REDIS_URL=broker) as server:

            def post(i):
                parcel = parcels[i % 20]
                url = f"{server.url}/api/v1/parcels/{parcel.pk}/events/"
                return requests.post(
                    url, json={"status": "in_transit", "location": f"scan {i}"}, headers=bearer(carrier), timeout=60
                )

            with ThreadPoolExecutor(max_workers=16) as pool:
                statuses = Counter(response.status_code for response in pool.map(post, range(200)))
            assert statuses == {201: 200}
            expected = {
                (f"/hooks/{n}", str(m.pk))
                for n in "abc"
                for m in WebhookDelivery.objects.filter(endpoint=endpoints[f"/hooks/{n}"])
            }
            assert len(expected) == 600
            wait_until(lambda: len({(r.path, r.headers["webhook-id"]) for r in rec.received}) >= 600, timeout=120)
    arrived = {(r.path, r.headers["webhook-id"]) for r in rec.received}
    assert arrived == expected
    for request in rec.received:  # each signed with its own endpoint's secret; duplicates only as the same message
        Webhook(endpoints[request.path].secret).verify(request.body, request.headers)
    versions = Counter()
    for request in rec.received:
        if request.path == "/hooks/a":
            data = json.loads(request.body)["data"]
            versions[(data["id"], data["version"])] += 1
    assert len(versions) == 200  # every event once per endpoint, each with its own version


def test_the_trace_continues_from_the_request_into_the_delivery_task():
    from parcel_service.tests.integration.test_observability_processes import TRACE_ID, otlp_receiver, post_traced

    customer = UserFactory()
    with receiver(always(204)) as rec, redis_server() as (_, port), otlp_receiver() as collector:
        broker = f"redis://127.0.0.1:{port}/0"
        WebhookEndpointFactory(owner=customer, url=rec.url, events=["parcel.created"])
        tracing = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        with (
            celery_worker(broker, **tracing) as worker,
            gunicorn(workers=1, CELERY_BROKER_URL=broker, REDIS_URL=broker, **tracing) as server,
        ):
            created = post_traced(
                f"{server.url}/api/v1/parcels/", json=valid_body(), headers=bearer(customer), timeout=30
            )
            assert created.status_code == 201
            (request,) = rec.wait_for(1, timeout=30)
            try:
                spans = collector.wait_for(
                    lambda spans: {"parcel.create", "run/parcel_service.webhooks.deliver"}
                    <= {name for trace, name, _ in spans if trace == TRACE_ID},
                    timeout=60,
                )
            except AssertionError:
                deliveries = list(WebhookDelivery.objects.values("id", "parcel_id", "status", "attempts"))
                raise AssertionError(
                    f"no traced delivery: created {created.json()['id']}, received {request.headers.get('webhook-id')} "
                    f"{request.body[:120]!r}, deliveries {deliveries}, gunicorn {server.url}, worker log:\n"
                    + "\n".join(line[:300] for line in worker.log_lines()[-25:])
                ) from None
    names = {name for trace, name, _ in spans if trace == TRACE_ID}
    assert "parcel.create" in names  # the request's own span
    assert any(name.startswith("run/") and name.endswith("deliver") for name in names), names  # the worker's task
    assert "POST" in names  # the webhook attempt (urllib3), in the same trace


def sessions_started() -> int:
    """Connections PostgreSQL has accepted to the test database so far (``pg_stat_database.sessions``)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh reading, not this transaction's cached one
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("max_age", ["60", "0"])
def test_a_worker_keeps_its_database_connections_from_task_to_task_as_conn_max_age_says(max_age):
    from parcel_service.domain.outbox import DELIVER_TASK
    from parcel_service.webhooks.queue import RedisPublisher

    customer = UserFactory()
    with receiver(always(204)) as rec, redis_server() as (_, port):
        broker = f"redis://127.0.0.1:{port}/0"
        endpoint = WebhookEndpointFactory(owner=customer, url=rec.url)
        messages = [
            WebhookDelivery.objects.create(endpoint=endpoint, event_type="webhook.test", snapshot={}) for _ in range(40)
        ]
        sessions_before = sessions_started()
        with celery_worker(broker, CONN_MAX_AGE=max_age):  # 4 threads, beat embedded
            publisher = RedisPublisher(broker)  # how a change queues its first attempt, on this test's broker
            for message in messages:  # one task each
                publisher.publish(DELIVER_TASK, [[[str(message.pk), 0]]])
            publisher.client.close()
            rec.wait_for(40, timeout=60)
            wait_until(
                lambda: not WebhookDelivery.objects.filter(status="pending").exists(), message="the outcomes recorded"
            )
        # The worker has stopped: its sessions have ended, and PostgreSQL counted them (statistics are flushed as a
        # session ends).
        time.sleep(1)
        sessions = sessions_started() - sessions_before
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 40
    if max_age == "0":  # closed after every task, as Django closes them after every request
        assert sessions >= 40, sessions
    else:  # at most one per task thread plus beat's and the start-up checks' (Celery's default: one per task)
        assert 1 <= sessions <= 8, sessions
