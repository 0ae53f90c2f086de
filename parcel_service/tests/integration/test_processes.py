"""Process-level behaviour against a real Gunicorn on loopback: metrics across workers, throttling across
workers, a deactivated user refused by every worker, a database that goes away and comes back, a hung Redis,
statement_timeout, graceful shutdown."""

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import requests
from django.db import connection
from prometheus_client.mmap_dict import MmapedDict
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.factories import ParcelFactory, UserFactory
from parcel_service.tests.processes import TcpProxy, gunicorn, redis_server

pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SECRET = "process-test-secret-key-that-is-long-enough-for-hs256-0123456789"


def bearer(user) -> dict[str, str]:
    # Tokens are signed with the server's key (the subprocess runs with its own SECRET_KEY).
    import jwt

    claims = dict(AccessToken.for_user(user).payload)
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def per_worker_request_counts(metrics_dir: Path, view: str) -> dict[str, float]:
    """Requests per worker pid for one view, read from the prometheus multiprocess files themselves."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.split("_")[-1]
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if "django_http_requests_total_by_view_transport_method" in key and f'"{view}"' in key:
                counts[pid] = counts.get(pid, 0) + value
    return counts


def burst(url: str, n: int, **kwargs) -> list[int]:
    def one(_):
        return requests.get(url, timeout=10, **kwargs).status_code  # a new connection per request

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(n)))


def test_metrics_count_requests_served_by_two_workers():
    with gunicorn(workers=2) as server:
        statuses = burst(f"{server.url}/api/v1/health/", 200)
        assert set(statuses) == {200}
        per_worker = per_worker_request_counts(server.metrics_dir, "parcel_service:health")
        page = requests.get(f"{server.url}/metrics", timeout=10).text
    assert len([pid for pid, n in per_worker.items() if n > 0]) == 2, per_worker
    assert sum(per_worker.values()) == 201  # the burst plus the start-up probe
    line = next(
        ln
        for ln in page.splitlines()
        if ln.startswith("django_http_requests_total_by_view_transport_method_total")
        and '"parcel_service:health"' in ln
    )
    assert float(line.rsplit(" ", 1)[1]) == 201


def mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "GUNICORN_NO_PRELOAD"])
def test_master_preloads_the_warmed_application_so_a_replacement_worker_starts_warm(preload):
    env = {} if preload else {"GUNICORN_NO_PRELOAD": "1"}
    with gunicorn(workers=1, **env) as server:
        # warm_up() instantiated the cache backend, which imports the Redis client and its C parser: in
        # the master only if the master loaded the application before forking.
        assert ("hiredis" in mapped_libraries(server.process.pid)) is preload
        if not preload:
            return
        (old,) = server.worker_pids()
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while server.worker_pids() in ([], [old]) and time.monotonic() < deadline:
            time.sleep(0.01)
        (new,) = server.worker_pids()
        # The replacement is a fork of the warmed master: it holds the application from its first instant,
        # before it has served (or even loaded) anything itself.
        assert new != old
        assert "hiredis" in mapped_libraries(new)
        assert requests.get(f"{server.url}/api/v1/health/", timeout=10).status_code == 200


def test_throttle_limit_holds_across_two_workers():
    parcel = ParcelFactory()
    with gunicorn(workers=2, THROTTLE_ANON="10/min") as server:
        url = f"{server.url}/api/v1/track/{parcel.tracking_number}/"
        # Six at a time, each on a new connection: with requests in flight together both workers take some
        # (one after another, one worker could take them all). The count in Redis is atomic either way.
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: requests.get(url, timeout=10).status_code, range(30)))
        per_worker = per_worker_request_counts(server.metrics_dir, "parcel_service:track")
    assert statuses.count(200) == 10
    assert statuses.count(429) == 20
    assert len([pid for pid, n in per_worker.items() if n > 0]) == 2, per_worker


def test_a_deactivation_is_seen_by_every_worker_within_the_default_ttl():
    import jwt

    user = UserFactory()
    refresh_token = jwt.encode(dict(RefreshToken.for_user(user).payload), SECRET, algorithm="HS256")
    with gunicorn(workers=3) as server:
        list_url = f"{server.url}/api/v1/parcels/"
        assert set(burst(list_url, 90, headers=bearer(user))) == {200}  # every worker now keeps the user
        warmed = per_worker_request_counts(server.metrics_dir, "parcel_service:parcel-list")
        deactivated_at = time.monotonic()
        type(user).objects.filter(pk=user.pk).update(is_active=False)  # no worker is told
        refreshed = requests.post(
            f"{server.url}/api/v1/auth/token/refresh/", json={"refresh": refresh_token}, timeout=10
        )
        time.sleep(max(0.0, deactivated_at + 5.0 - time.monotonic()))  # AUTH_USER_CACHE_TTL_S, the default
        statuses = burst(list_url, 90, headers=bearer(user))
        after = per_worker_request_counts(server.metrics_dir, "parcel_service:parcel-list")
    assert refreshed.status_code == 401  # refresh reads the user afresh
    assert set(statuses) == {401}
    assert len(warmed) == 3, warmed
    assert all(after[pid] > warmed[pid] for pid in warmed), (warmed, after)  # each worker answered 401s


def test_database_outage_and_recovery_without_restart():
    user = UserFactory()
    ParcelFactory(owner=user)
    db_port = int(connection.settings_dict["PORT"] or 5432)
    proxy = TcpProxy(db_port)
    proxy.start()
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:x@127.0.0.1:{proxy.port}/{db['NAME']}"
    try:
        with gunicorn(workers=1, DATABASE_URL=url, DB_CONNECT_TIMEOUT_S="2") as server:
            headers = bearer(user)
            assert requests.get(f"{server.url}/api/v1/parcels/", headers=headers, timeout=10).status_code == 200
            proxy.stop()
            assert requests.get(f"{server.url}/api/v1/health/", timeout=10).status_code == 200
            ready = requests.get(f"{server.url}/api/v1/health/ready/", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unavailable"
            down = requests.get(f"{server.url}/api/v1/parcels/", headers=headers, timeout=10)
            assert down.status_code == 503
            assert down.headers["Content-Type"] == "application/problem+json"
            assert down.json()["code"] == "service_unavailable"
            assert down.headers["Retry-After"]
            for leak in (str(proxy.port), "127.0.0.1", db["NAME"], "psycopg2", "Traceback"):
                assert leak not in down.text
            pid_before = server.worker_pids()
            proxy.start()
            back = requests.get(f"{server.url}/api/v1/parcels/", headers=headers, timeout=10)
            assert back.status_code == 200
            assert requests.get(f"{server.url}/api/v1/health/ready/", timeout=10).status_code == 200
            assert server.worker_pids() == pid_before  # the same processes, no restart
    finally:
        proxy.stop()


def test_hung_and_unreachable_redis_cost_at_most_a_socket_timeout():
    user = UserFactory(carrier=True)
    parcel = ParcelFactory(owner=user, status="in_transit")
    with (
        redis_server() as (redis_process, redis_port),
        gunicorn(workers=1, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", CACHE_SOCKET_TIMEOUT_S="0.25") as server,
    ):
        headers = bearer(user)
        assert requests.get(f"{server.url}/api/v1/track/{parcel.tracking_number}/", timeout=10).status_code == 200
        os.kill(redis_process.pid, signal.SIGSTOP)
        try:
            timings = []
            for path, method in [
                (f"/api/v1/track/{parcel.tracking_number}/", "get"),
                (f"/api/v1/parcels/{parcel.pk}/", "get"),
                ("/api/v1/parcels/", "get"),
                (f"/api/v1/parcels/{parcel.pk}/events/", "post"),
                (f"/api/v1/parcels/{parcel.pk}/events/", "get"),
            ]:
                started = time.monotonic()
                kwargs = {"json": {"status": "in_transit"}} if method == "post" else {}
                response = getattr(requests, method)(f"{server.url}{path}", headers=headers, timeout=10, **kwargs)
                timings.append(time.monotonic() - started)
                assert response.status_code in (200, 201), (path, response.text)
            ready = requests.get(f"{server.url}/api/v1/health/ready/", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        finally:
            os.kill(redis_process.pid, signal.SIGCONT)
    # The first request pays one socket timeout (0.25 s) and opens the breaker; the rest skip Redis.
    assert max(timings) < 0.25 * 2 + 0.5, timings
    assert sum(timings[1:]) < 1.0, timings
    with gunicorn(workers=1, REDIS_URL="redis://127.0.0.1:1/0") as server:
        assert requests.get(f"{server.url}/api/v1/track/{parcel.tracking_number}/", timeout=10).status_code == 200
        assert requests.get(f"{server.url}/api/v1/health/ready/", timeout=10).json()["status"] == "degraded"


def test_statement_timeout_cuts_a_slow_query_and_the_worker_keeps_serving():
    carrier = UserFactory(carrier=True)
    parcel = ParcelFactory(status="in_transit")
    db = connection.settings_dict
    blocker = psycopg2.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
    )
    try:
        with gunicorn(workers=1, DB_STATEMENT_TIMEOUT_MS="300") as server:
            headers = bearer(carrier)
            with blocker.cursor() as cursor:  # hold the parcel's row lock: the event's SELECT ... FOR UPDATE waits
                cursor.execute("SELECT id FROM parcel_service_parcel WHERE id = %s FOR UPDATE", [str(parcel.pk)])
                started = time.monotonic()
                slow = requests.post(
                    f"{server.url}/api/v1/parcels/{parcel.pk}/events/",
                    json={"status": "in_transit"},
                    headers=headers,
                    timeout=10,
                )
                elapsed = time.monotonic() - started
            blocker.rollback()
            assert slow.status_code == 503
            assert slow.headers["Content-Type"] == "application/problem+json"
            assert "statement timeout" not in slow.text
            assert elapsed < 3
            assert not TrackingEvent.objects.filter(parcel=parcel).exists()
            again = requests.post(
                f"{server.url}/api/v1/parcels/{parcel.pk}/events/",
                json={"status": "in_transit"},
                headers=headers,
                timeout=10,
            )
            assert again.status_code == 201
    finally:
        blocker.close()


def start_slow_create(port: int, token: str, reference: str) -> tuple[socket.socket, bytes]:
    """Send the headers and the first bytes of a create request; the rest of the body is sent later."""
    import orjson

    from .test_parcels_api import valid_body

    body = orjson.dumps(valid_body(reference=reference))
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST /api/v1/parcels/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:20])
    return sock, body[20:]


def finish_request(sock: socket.socket, rest: bytes) -> bytes:
    sock.sendall(rest)
    response = b""
    while chunk := sock.recv(65536):
        response += chunk
    sock.close()
    return response


@pytest.mark.parametrize("in_flight", [1, 2])
def test_sigterm_lets_in_flight_creates_finish_and_applies_each_exactly_once(in_flight):
    user = UserFactory()
    with gunicorn(workers=in_flight) as server:
        token = bearer(user)["Authorization"]
        pending = [start_slow_create(server.port, token, f"graceful-{i}") for i in range(in_flight)]
        time.sleep(0.5)  # each worker is now inside a request, reading its body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        responses = [finish_request(sock, rest) for sock, rest in pending]
        server.process.wait(timeout=30)  # and the master exits on its own, within graceful_timeout
    for response in responses:
        assert response.startswith(b"HTTP/1.1 201"), response[:300]
    for i in range(in_flight):
        assert Parcel.objects.filter(reference=f"graceful-{i}").count() == 1
