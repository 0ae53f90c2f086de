"""Password guessing is locked out per username and client address, on the admin login and the token endpoint."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from parcel_service.tests.factories import UserFactory

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

ADMIN_LOGIN_URL = reverse("admin:login")
TOKEN_URL = reverse("parcel_service:token-obtain") + "/"
PASSWORD = "correct horse battery staple"
LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


def admin_login(username: str, password: str, address: str = "192.0.2.10", client: Client | None = None):
    client = client or Client()
    return client.post(ADMIN_LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def token_login(username: str, password: str, address: str = "192.0.2.10", **headers: str):
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address, **headers
    )


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", is_staff=True)


def test_the_admin_locks_out_a_username_from_an_address_after_five_wrong_passwords(operator):
    for _ in range(LIMIT - 1):
        assert admin_login("operator", "wrong").status_code == 200  # the form again, with its error
    assert admin_login("operator", "wrong").status_code == 429  # the fifth failure locks
    browser = Client()
    response = admin_login("operator", PASSWORD, client=browser)
    assert response.status_code == 429  # the right password too
    assert browser.get(reverse("admin:index")).status_code == 302  # and nobody is signed in


def test_an_admin_lockout_leaves_other_users_and_other_addresses_alone(operator):
    UserFactory(username="colleague", is_staff=True)
    for _ in range(LIMIT):
        admin_login("operator", "wrong")
    assert admin_login("operator", PASSWORD).status_code == 429
    assert admin_login("colleague", PASSWORD).status_code == 302  # signed in
    assert admin_login("operator", PASSWORD, address="198.51.100.20").status_code == 302


def test_an_admin_lockout_does_not_tell_whether_the_user_exists(operator):
    for username in ("operator", "nobody-by-this-name"):
        for _ in range(LIMIT):
            admin_login(username, "wrong")
    real, unknown = admin_login("operator", PASSWORD), admin_login("nobody-by-this-name", PASSWORD)
    assert (real.status_code, real.content) == (unknown.status_code, unknown.content)
    assert real.status_code == 429


def test_the_token_endpoint_locks_out_a_username_from_an_address_after_five_wrong_passwords(customer):
    for _ in range(LIMIT - 1):
        assert_problem(token_login("alice", "wrong"), 401, "no_active_account")
    response = token_login("alice", "wrong")
    assert_problem(response, 429, "locked_out")  # the fifth failure locks
    response = token_login("alice", PASSWORD)
    body = assert_problem(response, 429, "locked_out")  # the right password too
    assert "access" not in body
    assert response["Retry-After"] == "900"


def test_a_token_endpoint_lockout_leaves_other_users_and_other_addresses_alone(customer, other_customer):
    for _ in range(LIMIT):
        token_login("alice", "wrong")
    assert token_login("alice", PASSWORD).status_code == 429
    assert token_login("bob", PASSWORD).status_code == 200
    assert token_login("alice", PASSWORD, address="198.51.100.20").status_code == 200


def test_a_token_endpoint_lockout_does_not_tell_whether_the_user_exists(customer):
    for username in ("alice", "nobody-by-this-name"):
        for _ in range(LIMIT):
            token_login(username, "wrong")
    real = token_login("alice", PASSWORD).json()
    unknown = token_login("nobody-by-this-name", PASSWORD).json()
    assert {k: v for k, v in real.items() if k != "request_id"} == {
        k: v for k, v in unknown.items() if k != "request_id"
    }


def test_behind_one_trusted_proxy_the_lockout_is_per_client_not_per_proxy(customer, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"
    for _ in range(LIMIT):
        token_login("alice", "wrong", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert token_login("alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # the client's own claim comes first, the proxy appends the address it saw: only that one counts
    spoofed = "198.51.100.99, 203.0.113.7"
    assert token_login("alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR=spoofed).status_code == 429
    assert token_login("alice", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 200


def test_a_forwarded_for_that_is_not_an_address_is_no_server_error(customer, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    response = token_login("alice", "wrong", HTTP_X_FORWARDED_FOR="not-an-address")
    assert_problem(response, 401, "no_active_account")
