"""API keys against a real Gunicorn with two workers: a revocation holds in every worker from the next request."""

import jwt
import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from parcel_service.tests.conftest_helpers import issue_api_key
from parcel_service.tests.factories import ParcelFactory, UserFactory
from parcel_service.tests.processes import gunicorn

from .test_processes import burst, per_worker_request_counts

pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SECRET = "process-test-secret-key-that-is-long-enough-for-hs256-0123456789"


def bearer(user) -> dict[str, str]:
    # Signed with the server's key (the subprocess runs with its own SECRET_KEY).
    claims = dict(AccessToken.for_user(user).payload)
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def test_a_revoked_key_is_refused_by_every_worker_on_the_next_request():
    user = UserFactory()
    parcel = ParcelFactory(owner=user)
    api_key, key = issue_api_key(user, "parcels:read")
    with gunicorn(workers=2) as server:
        url = f"{server.url}/api/v1/parcels/{parcel.pk}/"
        by_key = {"Authorization": f"Api-Key {key}"}
        # Concurrent requests, each on a new connection: both workers serve the key (and hold whatever they
        # would cache of it).
        before = burst(url, 80, headers=by_key)
        served_before = per_worker_request_counts(server.metrics_dir, "parcel_service:parcel-detail")
        revoked = requests.delete(f"{server.url}/api/v1/api-keys/{api_key.pk}/", headers=bearer(user), timeout=10)
        after = burst(url, 80, headers=by_key)
        served_after = per_worker_request_counts(server.metrics_dir, "parcel_service:parcel-detail")
    assert before == [200] * 80
    assert revoked.status_code == 204
    assert after == [401] * 80
    assert len([pid for pid, n in served_before.items() if n > 0]) == 2, served_before
    refused_by = [pid for pid, n in served_after.items() if n > served_before.get(pid, 0)]
    assert len(refused_by) == 2, (served_before, served_after)
