"""Token endpoints and bearer authentication failures."""

import time

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

TOKEN_URL = reverse("parcel_service:token-obtain") + "/"
REFRESH_URL = reverse("parcel_service:token-refresh") + "/"
LIST_URL = reverse("parcel_service:parcel-list") + "/"


def test_obtain_and_refresh_a_token_pair(anon_client, customer):
    response = anon_client.post(
        TOKEN_URL, {"username": "alice", "password": "correct horse battery staple"}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    refreshed = anon_client.post(REFRESH_URL, {"refresh": response.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert api.get(LIST_URL).status_code == 200


def test_bad_credentials_are_401_with_www_authenticate(anon_client, customer):
    response = anon_client.post(TOKEN_URL, {"username": "alice", "password": "wrong"}, format="json")
    assert_problem(response, 401, "no_active_account")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_missing_credentials_are_400(anon_client):
    assert_problem(anon_client.post(TOKEN_URL, {}, format="json"), 400, "validation_error", "/username")


def test_refresh_with_garbage_is_401(anon_client):
    assert_problem(anon_client.post(REFRESH_URL, {"refresh": "garbage"}, format="json"), 401, "token_not_valid")


def _call_with(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(LIST_URL)


def test_alg_none_token_is_401(customer):
    claims = dict(AccessToken.for_user(customer).payload)
    token = jwt.encode(claims, key=None, algorithm="none")
    response = _call_with(token)
    assert_problem(response, 401, "token_not_valid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_forged_signature_is_401(customer):
    claims = dict(AccessToken.for_user(customer).payload)
    assert_problem(_call_with(jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256")), 401, "token_not_valid")


def test_expired_token_is_401(customer):
    claims = dict(AccessToken.for_user(customer).payload)
    claims["exp"] = int(time.time()) - 10
    assert_problem(_call_with(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")), 401, "token_not_valid")


def test_an_expired_token_says_it_expired_and_where_to_refresh_it_unlike_a_garbage_one(customer):
    claims = dict(AccessToken.for_user(customer).payload)
    claims["exp"] = int(time.time()) - 10
    expired_token = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")
    expired = assert_problem(_call_with(expired_token), 401, "token_not_valid")
    garbage = assert_problem(_call_with("garbage"), 401, "token_not_valid")
    assert "expired" in expired["detail"]
    assert "/api/v1/auth/token/refresh/" in expired["detail"]
    assert "expired" not in garbage["detail"]


def test_an_expired_token_with_a_forged_signature_is_just_invalid(customer):
    claims = dict(AccessToken.for_user(customer).payload)
    claims["exp"] = int(time.time()) - 10
    response = _call_with(jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256"))
    assert "expired" not in assert_problem(response, 401, "token_not_valid")["detail"]


def test_refresh_token_used_as_access_is_401(customer):
    assert_problem(_call_with(str(RefreshToken.for_user(customer))), 401, "token_not_valid")


def test_garbage_token_is_401():
    assert_problem(_call_with("garbage"), 401, "token_not_valid")


def test_token_of_inactive_user_is_401(customer):
    token = str(AccessToken.for_user(customer))
    customer.is_active = False
    customer.save()
    assert_problem(_call_with(token), 401, "user_not_found")


def test_a_deactivated_user_is_refused_at_once_in_this_worker(customer):
    token = str(AccessToken.for_user(customer))
    assert _call_with(token).status_code == 200  # the user is now cached by this worker
    customer.is_active = False
    customer.save()
    assert_problem(_call_with(token), 401, "user_not_found")


def test_a_new_carrier_role_is_seen_at_once_in_this_worker(customer, other_customer):
    from django.contrib.auth.models import Group

    from parcel_service.tests.factories import ParcelFactory

    ParcelFactory(owner=other_customer)
    token = str(AccessToken.for_user(customer))
    assert _call_with(token).json()["results"] == []
    customer.groups.add(Group.objects.get_or_create(name="carriers")[0])
    assert len(_call_with(token).json()["results"]) == 1


def test_the_user_is_loaded_once_per_ttl(customer, django_assert_num_queries):
    token = str(AccessToken.for_user(customer))
    _call_with(token)
    with django_assert_num_queries(1):  # the page query only; the user came from the worker's cache
        assert _call_with(token).status_code == 200


@pytest.mark.parametrize("value", ["\u001c", " "])
def test_whitespace_class_tokens_and_usernames_are_401_not_400(anon_client, value):
    assert_problem(anon_client.post(REFRESH_URL, {"refresh": value}, format="json"), 401, "token_not_valid")
    response = anon_client.post(TOKEN_URL, {"username": value, "password": "x"}, format="json")
    assert_problem(response, 401, "no_active_account")
    response = anon_client.post(TOKEN_URL, {"username": "nobody", "password": value}, format="json")
    assert_problem(response, 401, "no_active_account")


def test_a_password_is_compared_verbatim_spaces_included(anon_client):
    from parcel_service.tests.factories import UserFactory

    user = UserFactory()
    user.set_password("  spaced secret  ")
    user.save()
    trimmed = {"username": user.username, "password": "spaced secret"}
    assert_problem(anon_client.post(TOKEN_URL, trimmed, format="json"), 401, "no_active_account")
    verbatim = {"username": user.username, "password": "  spaced secret  "}
    assert anon_client.post(TOKEN_URL, verbatim, format="json").status_code == 200


def test_a_signed_token_without_a_user_claim_is_401(customer):
    token = AccessToken.for_user(customer)
    del token.payload[settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id")]
    assert_problem(_call_with(str(token)), 401, "token_not_valid")


def test_the_user_cache_is_bounded(customer, other_customer, monkeypatch):
    from parcel_service.http import authentication

    monkeypatch.setattr(authentication, "_MAX_CACHED_USERS", 1)
    assert _call_with(str(AccessToken.for_user(customer))).status_code == 200
    assert _call_with(str(AccessToken.for_user(other_customer))).status_code == 200
    assert list(authentication._user_cache) == [str(other_customer.pk)]  # full: cleared, then the new one


def test_a_carrier_group_change_made_from_the_groups_side_is_seen_at_once(customer, other_customer):
    from django.contrib.auth.models import Group

    from parcel_service.tests.factories import ParcelFactory

    ParcelFactory(owner=other_customer)
    token = str(AccessToken.for_user(customer))
    assert _call_with(token).json()["results"] == []
    Group.objects.get_or_create(name="carriers")[0].user_set.add(customer)  # not customer.groups.add(...)
    assert len(_call_with(token).json()["results"]) == 1


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(customer, scheme):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {AccessToken.for_user(customer)}")
    assert client.get(LIST_URL).status_code == 200


def test_another_scheme_is_not_taken_for_bearer(customer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearerx {AccessToken.for_user(customer)}")
    response = client.get(LIST_URL)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["bearer", "Bearer one two"])
def test_a_bearer_header_without_exactly_one_token_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(LIST_URL)
    assert_problem(response, 401, "bad_authorization_header")
    assert response["WWW-Authenticate"].startswith("Bearer")
