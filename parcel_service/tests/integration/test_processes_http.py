"""HTTP details against a real Gunicorn with production settings: a chunked body (no Content-Length) is read and
the 1 MiB limit holds while it is read; plain HTTP under /api/ is refused, not redirected."""

import jwt
import orjson
import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from parcel_service.models import Parcel
from parcel_service.tests.factories import UserFactory
from parcel_service.tests.processes import gunicorn

from .test_parcels_api import valid_body

pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SECRET = "process-test-secret-key-that-is-long-enough-for-hs256-0123456789"
MIB = 1024 * 1024


def bearer(user) -> dict[str, str]:
    claims = dict(AccessToken.for_user(user).payload)
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def chunks(body: bytes, size: int = 64 * 1024):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), gunicorn(workers=1) as running:
        yield running


def test_a_chunked_create_is_read_and_creates_the_parcel(server):
    user = UserFactory()
    body = orjson.dumps(valid_body(reference="chunked"))
    response = requests.post(
        f"{server.url}/api/v1/parcels/",
        data=chunks(body, 100),
        headers={**bearer(user), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert Parcel.objects.get(reference="chunked").owner == user


def test_a_chunked_body_of_exactly_one_mib_is_accepted(server):
    body = orjson.dumps(valid_body(reference="one-mib"))
    body += b" " * (MIB - len(body))  # JSON allows trailing whitespace: exactly at the limit
    response = requests.post(
        f"{server.url}/api/v1/parcels/",
        data=chunks(body),
        headers={**bearer(UserFactory()), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert Parcel.objects.filter(reference="one-mib").exists()


def test_a_chunked_body_over_one_mib_is_a_413_problem(server):
    body = b"{" + b" " * MIB + b"}"
    response = requests.post(
        f"{server.url}/api/v1/parcels/",
        data=chunks(body),
        headers={**bearer(UserFactory()), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "request_too_large"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_with_ssl_redirect_on_plain_http_is_refused_under_the_api_and_redirected_with_308_elsewhere():
    user = UserFactory()
    with gunicorn(workers=1, SECURE_SSL_REDIRECT="true") as server:
        body = valid_body(reference="plain")
        refused = requests.post(
            f"{server.url}/api/v1/parcels/", json=body, headers=bearer(user), timeout=10, allow_redirects=False
        )
        admin = requests.get(f"{server.url}/admin/", timeout=10, allow_redirects=False)
        via_tls_proxy = requests.post(
            f"{server.url}/api/v1/parcels/",
            json=body,
            headers={**bearer(user), "X-Forwarded-Proto": "https"},
            timeout=10,
            allow_redirects=False,
        )
        probe = requests.get(f"{server.url}/api/v1/health/", timeout=10, allow_redirects=False)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "https_required"
    assert (admin.status_code, admin.headers["Location"]) == (308, "https://127.0.0.1/admin/")
    assert via_tls_proxy.status_code == 201
    assert via_tls_proxy.headers["Location"] == f"/api/v1/parcels/{via_tls_proxy.json()['id']}/"
    assert "Strict-Transport-Security" in via_tls_proxy.headers
    assert probe.status_code == 200
    assert Parcel.objects.filter(reference="plain").count() == 1
