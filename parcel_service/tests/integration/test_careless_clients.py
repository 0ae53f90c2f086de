"""Careless clients get clear answers: a body without a length, plain HTTP, the wrong media type."""

import pytest
from django.test import Client

from parcel_service.models import Parcel

from .helpers import assert_problem

LIST_URL = "/api/v1/parcels/"


@pytest.fixture
def client() -> Client:
    return Client()


# -- bodies without a length ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chunked_body_the_server_cannot_hand_over_is_a_411_not_an_empty_body(customer_client):
    # runserver and the test client do not end wsgi.input with the body; Gunicorn does (see test_processes_http).
    response = customer_client.generic(
        "POST",
        LIST_URL,
        b'{"weight_grams": 1}',
        "application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    assert_problem(response, 411, "length_required")
    assert not Parcel.objects.exists()


# -- plain HTTP with SECURE_SSL_REDIRECT on ------------------------------------------------------------------


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?", r"^metrics/?$"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "patch"])
def test_plain_http_under_the_api_is_a_403_problem_not_a_redirect(https_only, customer, method):
    from parcel_service.tests.conftest_helpers import client_for

    response = getattr(client_for(customer), method)(LIST_URL, {"weight_grams": 1}, format="json")
    assert_problem(response, 403, "https_required")
    assert "Location" not in response
    assert not Parcel.objects.exists()


@pytest.mark.django_db
def test_https_and_exempt_paths_are_served_as_before(https_only, customer):
    from parcel_service.tests.conftest_helpers import client_for

    api = client_for(customer)
    assert api.get(LIST_URL, secure=True).status_code == 200
    assert api.get(LIST_URL, HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert Client().get("/api/v1/health/").status_code == 200


@pytest.mark.django_db
def test_plain_http_elsewhere_is_a_308_to_https_without_the_clients_port(https_only):
    response = Client().post("/admin/login/?next=/admin/", {"username": "x"}, HTTP_HOST="parcels.example.com:6666")
    assert response.status_code == 308  # a POST is repeated as a POST, with its body
    assert response["Location"] == "https://parcels.example.com/admin/login/?next=/admin/"


@pytest.mark.django_db
def test_the_https_redirect_goes_to_secure_ssl_host_when_set(https_only):
    https_only.SECURE_SSL_HOST = "secure.example.com"
    response = Client().get("/admin/", HTTP_HOST="parcels.example.com")
    assert (response.status_code, response["Location"]) == (308, "https://secure.example.com/admin/")


# -- Location never echoes the Host header -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_created_parcels_location_is_relative_whatever_the_host_header(customer_client):
    from parcel_service.tests.factories import address

    body = {"sender": address("S"), "recipient": address("R"), "weight_grams": 1}
    response = customer_client.post(LIST_URL, body, format="json", HTTP_HOST="parcels.example.com:6666")
    assert response.status_code == 201
    assert response["Location"] == f"/api/v1/parcels/{response.json()['id']}/"


# -- the wrong media type ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content_type", "named"), [("text/plain", "text/plain"), ("application/xml; charset=utf-8", "application/xml")]
)
def test_a_415_names_the_media_type_to_send(customer_client, content_type, named):
    response = customer_client.post(LIST_URL, "weight_grams=1", content_type=content_type)
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert problem["detail"] == f'Unsupported media type "{named}"; send application/json.'


@pytest.mark.django_db
def test_a_body_without_a_content_type_is_told_to_send_json(customer_client):
    response = customer_client.generic("POST", LIST_URL, b'{"weight_grams": 1}', content_type="")
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert problem["detail"] == "No Content-Type; send application/json."
