"""Tokens end when the account changes: password, active flag, deletion, carrier role; refresh tokens rotate.

A change made through the ORM's ``update()`` sends no signal, so this worker is not told of it: that is how
every worker except the one that made the change sees it. Such a change must show within
``AUTH_USER_CACHE_TTL_S`` (5 s by default); the worker's clock is faked to step over it.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from parcel_service.http import authentication
from parcel_service.models import CARRIERS_GROUP
from parcel_service.tests.factories import ParcelFactory, UserFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

TOKEN_URL = reverse("parcel_service:token-obtain") + "/"
REFRESH_URL = reverse("parcel_service:token-refresh") + "/"
LIST_URL = reverse("parcel_service:parcel-list") + "/"
PASSWORD = "correct horse battery staple"
DEFAULT_TTL_S = 5.0  # API.md: "within AUTH_USER_CACHE_TTL_S (default 5 s)"


class FakeClock:
    """Stands in for the ``time`` module of the authentication cache."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(authentication, "time", fake)
    return fake


def token_pair(user) -> dict[str, str]:
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh": token}, format="json")


def changed_in_another_worker(user, **fields) -> None:
    get_user_model().objects.filter(pk=user.pk).update(**fields)


def events_url(parcel) -> str:
    return reverse("parcel_service:parcel-events", kwargs={"pk": parcel.pk}) + "/"


def test_a_password_change_in_another_worker_ends_access_tokens_within_the_ttl(customer, clock):
    client = bearer(token_pair(customer)["access"])
    assert client.get(LIST_URL).status_code == 200  # this worker now keeps the user
    changed_in_another_worker(customer, password=make_password("a new and different secret"))
    clock.advance(DEFAULT_TTL_S)
    response = client.get(LIST_URL)
    assert_problem(response, 401, "token_not_valid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_password_change_ends_access_tokens_at_once_in_the_worker_that_made_it(customer):
    client = bearer(token_pair(customer)["access"])
    assert client.get(LIST_URL).status_code == 200
    customer.set_password("a new and different secret")
    customer.save()
    assert_problem(client.get(LIST_URL), 401, "token_not_valid")


def test_a_password_change_refuses_the_old_refresh_token_and_new_tokens_work(customer):
    old = token_pair(customer)
    customer.set_password("a new and different secret")
    customer.save()
    response = refresh(old["refresh"])
    assert_problem(response, 401, "token_not_valid")
    assert response["WWW-Authenticate"].startswith("Bearer")
    login = APIClient().post(TOKEN_URL, {"username": "alice", "password": "a new and different secret"}, format="json")
    assert bearer(login.json()["access"]).get(LIST_URL).status_code == 200
    assert refresh(login.json()["refresh"]).status_code == 200


def test_a_deactivation_in_another_worker_ends_access_tokens_within_the_ttl_and_refresh_at_once(customer, clock):
    pair = token_pair(customer)
    client = bearer(pair["access"])
    assert client.get(LIST_URL).status_code == 200
    changed_in_another_worker(customer, is_active=False)
    assert_problem(refresh(pair["refresh"]), 401, "no_active_account")
    clock.advance(DEFAULT_TTL_S)
    assert_problem(client.get(LIST_URL), 401, "user_not_found")


def test_a_deleted_users_tokens_are_401_problems_never_500(customer, clock):
    pair = token_pair(customer)
    client = bearer(pair["access"])
    assert client.get(LIST_URL).status_code == 200
    get_user_model().objects.filter(pk=customer.pk).delete()  # a queryset delete: no signal reaches this cache
    assert_problem(refresh(pair["refresh"]), 401, "no_active_account")
    clock.advance(DEFAULT_TTL_S)
    assert_problem(client.get(LIST_URL), 401, "user_not_found")


def test_a_carrier_removed_from_carriers_in_another_worker_may_not_post_events_after_the_ttl(carrier, clock):
    parcel = ParcelFactory()
    client = bearer(token_pair(carrier)["access"])
    assert client.post(events_url(parcel), {"status": "in_transit"}, format="json").status_code == 201
    carrier.groups.through.objects.filter(user_id=carrier.pk, group__name=CARRIERS_GROUP).delete()  # no signal
    clock.advance(DEFAULT_TTL_S)
    response = client.post(events_url(parcel), {"status": "in_transit"}, format="json")
    assert_problem(response, 403, "permission_denied")
    assert client.get(LIST_URL).json()["results"] == []  # and sees only their own parcels again


def test_a_carrier_removed_from_carriers_in_this_worker_may_not_post_events_at_once(carrier):
    parcel = ParcelFactory()
    client = bearer(token_pair(carrier)["access"])
    assert client.post(events_url(parcel), {"status": "in_transit"}, format="json").status_code == 201
    carrier.groups.remove(Group.objects.get(name=CARRIERS_GROUP))
    assert_problem(client.post(events_url(parcel), {"status": "in_transit"}, format="json"), 403, "permission_denied")


def test_a_refresh_rotates_the_refresh_token_and_the_used_one_is_refused(customer):
    first = token_pair(customer)
    response = refresh(first["refresh"])
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(LIST_URL).status_code == 200
    assert_problem(refresh(first["refresh"]), 401, "token_not_valid")  # a replayed refresh token
    assert refresh(second["refresh"]).status_code == 200


@pytest.mark.cache
def test_a_warm_detail_read_stays_free_within_the_ttl_and_costs_the_user_query_after_it(
    customer, clock, django_assert_num_queries
):
    parcel = ParcelFactory(owner=customer)
    client = bearer(token_pair(customer)["access"])
    url = reverse("parcel_service:parcel-detail", kwargs={"pk": parcel.pk}) + "/"
    assert client.get(url).status_code == 200  # warms the document cache and the user cache
    clock.advance(DEFAULT_TTL_S - 0.5)
    with django_assert_num_queries(0):
        assert client.get(url).status_code == 200
    clock.advance(0.5)
    with django_assert_num_queries(1):  # the user and their role, once per TTL per worker
        assert client.get(url).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(url).status_code == 200


def test_a_token_issued_before_passwords_were_checked_is_refused(customer):
    token = AccessToken.for_user(customer)
    del token["hash_password"]  # as issued before CHECK_REVOKE_TOKEN was on
    assert_problem(bearer(str(token)).get(LIST_URL), 401, "token_not_valid")
    old_refresh = RefreshToken.for_user(customer)
    del old_refresh["hash_password"]
    assert_problem(refresh(str(old_refresh)), 401, "token_not_valid")


def test_an_expired_refresh_token_says_to_sign_in_again(customer):
    claims = dict(RefreshToken.for_user(customer).payload)
    claims["exp"] = int(time.time()) - 10
    response = refresh(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256"))
    detail = assert_problem(response, 401, "token_not_valid")["detail"]
    assert "expired" in detail
    assert "/api/v1/auth/token/" in detail


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_with_one_token_get_one_new_pair():
    user = UserFactory(username="racer")
    used = token_pair(user)["refresh"]
    barrier = Barrier(8)

    def attempt(_):
        try:
            barrier.wait(timeout=30)
            return refresh(used).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [200] + [401] * 7


def test_the_admin_lists_issued_refresh_tokens_without_showing_them(customer):
    from django.test import Client

    refresh_token = token_pair(customer)["refresh"]
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    outstanding = OutstandingToken.objects.get(user=customer)
    page = browser.get(reverse("admin:token_blacklist_outstandingtoken_change", args=[outstanding.pk]))
    assert page.status_code == 200
    assert outstanding.jti in page.content.decode()
    assert refresh_token not in page.content.decode()


def test_flushexpiredtokens_purges_spent_and_issued_tokens_once_they_expire(customer):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    spent = token_pair(customer)["refresh"]
    live = refresh(spent).json()["refresh"]
    expired = OutstandingToken.objects.filter(token=spent)
    expired.update(expires_at=timezone.now() - timedelta(seconds=1))  # as the spent token's own exp passes
    call_command("flushexpiredtokens")
    assert not OutstandingToken.objects.filter(token=spent).exists()  # its blacklist row went with it
    assert refresh(live).status_code == 200
