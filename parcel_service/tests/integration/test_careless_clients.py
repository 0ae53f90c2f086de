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
    # runserver and the test client do not end wsgi.input with the body; Gunicorn does (see test_processes_bodies).
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
