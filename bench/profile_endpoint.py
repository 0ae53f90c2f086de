"""Profile one endpoint in-process with pyinstrument, against the bench database, with production settings.

Usage (after ``make bench`` seeded ``parcel_bench_1m``; ``BENCH_DB=parcel_bench_10k`` for the small one)::

    .venv/bin/python bench/profile_endpoint.py customer_list [requests]

Endpoints: tracking_cold, tracking_warm, customer_list, carrier_list_first, detail, create, add_event, and
batch_<size> (``POST /events/batch/`` with <size> in-transit parcels per request, e.g. batch_1000).
Prints pyinstrument's text report (the hottest call paths first), then the top functions by self time.
The requests go through Django's test client, so the whole middleware, DRF and ORM stack runs, but no
Gunicorn or network.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    DJANGO_SETTINGS_MODULE="core_project.settings.prod",
    SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
    DATABASE_URL=os.environ.get("BENCH_DATABASE_URL")
    or f"postgres://postgres:bench@127.0.0.1:5432/{os.environ.get('BENCH_DB', 'parcel_bench_1m')}",
    REDIS_URL=f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '13')}",
    ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
    SECURE_SSL_REDIRECT="false",
    THROTTLE_ANON="1000000/min",
    THROTTLE_USER="1000000/min",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from pyinstrument import Profiler  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402


def main() -> None:
    """Run ``requests`` requests of the endpoint under the profiler and print the report."""
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "customer_list"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    users = get_user_model().objects
    shipper = users.get(username="bench-shipper")
    carrier = users.get(username="bench-carrier")
    as_shipper = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(shipper).access_token}")
    as_carrier = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(carrier).access_token}")
    anon = Client()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tracking_number, id::text, status FROM parcel_service_parcel "
            "WHERE owner_id = %s AND reference LIKE 'seed-%%' ORDER BY md5(id::text) LIMIT %s",
            [shipper.id, count * 2],
        )
        rows = cursor.fetchall()
    in_transit = [r[1] for r in rows if r[2] == "in_transit"]
    batch_size = int(endpoint.split("_")[1]) if endpoint.startswith("batch_") else 0
    if batch_size:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tracking_number FROM parcel_service_parcel WHERE reference LIKE 'seed-%%' "
                "AND status = 'in_transit' ORDER BY md5(id::text) LIMIT %s",
                [batch_size * (count + 10)],
            )
            numbers = [r[0] for r in cursor.fetchall()]
    body = (
        '{"sender": {"name": "A", "street": "S 1", "city": "C", "postal_code": "1", "country": "NL"}, '
        '"recipient": {"name": "B", "street": "S 2", "city": "D", "postal_code": "2", "country": "DE"}, '
        '"weight_grams": 1000}'
    )

    def call(i: int) -> int:
        row = rows[i % len(rows)]
        if endpoint == "tracking_cold":
            cache.delete(f"track:v1:{row[0]}")
            return anon.get(f"/api/v1/track/{row[0]}/").status_code
        if endpoint == "tracking_warm":
            return anon.get(f"/api/v1/track/{rows[i % 20][0]}/").status_code
        if endpoint == "customer_list":
            return as_shipper.get("/api/v1/parcels/").status_code
        if endpoint == "carrier_list_first":
            return as_carrier.get("/api/v1/parcels/?page_size=25").status_code
        if endpoint == "detail":
            return as_shipper.get(f"/api/v1/parcels/{row[1]}/").status_code
        if endpoint == "create":
            return as_shipper.post(
                "/api/v1/parcels/", data=body.replace('"A"', '"bench-profile"'), content_type="application/json"
            ).status_code
        if endpoint == "add_event":
            return as_carrier.post(
                f"/api/v1/parcels/{in_transit[i % len(in_transit)]}/events/",
                data='{"status": "in_transit"}',
                content_type="application/json",
            ).status_code
        if batch_size:  # each batch over the next distinct parcels (in_transit again is always legal)
            start = i * batch_size % max(1, len(numbers) - batch_size + 1)
            items = ",".join(
                f'{{"tracking_number": "{n}", "status": "in_transit", "location": "Bench hub"}}'
                for n in numbers[start : start + batch_size]
            )
            response = as_carrier.post(
                "/api/v1/events/batch/", data=f'{{"events": [{items}]}}', content_type="application/json"
            )
            assert response.json()["summary"]["failed"] == 0, response.content[:500]
            return response.status_code
        raise SystemExit(f"unknown endpoint {endpoint}")

    for i in range(10):  # warm-up: imports, connection, caches
        call(i)
    profiler = Profiler(interval=0.0005)
    statuses: dict[int, int] = {}
    with profiler:
        for i in range(count):
            status = call(i + 10)
            statuses[status] = statuses.get(status, 0) + 1
    per_request_ms = profiler.last_session.duration / count * 1000
    print(f"{endpoint}: {count} requests, statuses {statuses}, {per_request_ms:.2f} ms/request")
    print(profiler.output_text(unicode=False, color=False, show_all=False, timeline=False))
    # Where the time is spent by function (self time): database waits show up as cursor.execute.
    flat = profiler.output_text(unicode=False, color=False, flat=True, flat_time="self")
    print("\n".join(flat.splitlines()[:40]))


if __name__ == "__main__":
    main()
