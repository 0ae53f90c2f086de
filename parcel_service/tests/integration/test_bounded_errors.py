"""Hostile input never costs a 500 or an unbounded answer: too many parameters or fields, tampered cursors,
thousands of unknown fields. And what such a request logs stays within the README's promises."""

import base64
import json
import logging

import pytest
from django.test import Client

from parcel_service.api import views
from parcel_service.tests.factories import address

from .helpers import assert_problem

TOO_MANY = "&".join(["a"] * 1100)
LIST_URL = "/api/v1/parcels/"


@pytest.fixture
def client() -> Client:
    return Client()


def valid_body(**overrides):
    body = {"sender": address("Sender BV"), "recipient": address("Grace Hopper", "DE"), "weight_grams": 1500}
    body.update(overrides)
    return body


# -- too many parameters or fields ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/health/", "/api/v1/track/CP123456785NL/", "/api/schema/", "/api/docs/"])
def test_too_many_query_parameters_are_a_400_problem_for_anyone(client, db, url):
    assert_problem(client.get(f"{url}?{TOO_MANY}"), 400, "too_many_parameters")


@pytest.mark.django_db
def test_too_many_query_parameters_are_a_400_problem_for_a_customer(customer_client):
    assert_problem(customer_client.get(f"{LIST_URL}?{TOO_MANY}"), 400, "too_many_parameters")


def test_too_many_query_parameters_outside_drf_are_a_400_problem_too(rf):
    from django.core.exceptions import TooManyFieldsSent

    from parcel_service.http.problem_details import handler400

    response = handler400(rf.get("/api/v1/x"), TooManyFieldsSent("too many"))
    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "too_many_parameters"


@pytest.mark.django_db
def test_too_many_form_fields_on_the_admin_login_are_a_400_not_a_500(client):
    response = client.post("/admin/login/", TOO_MANY, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


# -- tampered cursors ---------------------------------------------------------------------------------------


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "decoded",
    [
        "p=abc",
        "p=2026-13-01 00:00:00+00:00",
        "p=2026-01-01",
        "p=2026-01-01 10:00:00",
        "p=2026-01-01 10:00:00+99:00",
        "p=0001-01-01 00:00:00+05:00",
        "o=1&r=1&p=%00",
        "r=x",
    ],
)
def test_a_tampered_cursor_is_a_400_with_the_cursor_pointer(customer_client, decoded):
    response = customer_client.get(LIST_URL, {"cursor": _cursor(decoded)})
    assert_problem(response, 400, "validation_error", "/query/cursor")


@pytest.mark.django_db
def test_a_cursor_the_service_issued_still_pages(customer_client):
    for _ in range(3):
        assert customer_client.post(LIST_URL, valid_body(), format="json").status_code == 201
    first = customer_client.get(LIST_URL, {"page_size": 2}).json()
    second = customer_client.get(first["next"])
    assert second.status_code == 200
    assert len(second.json()["results"]) == 1


# -- bounded validation problems ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_thousand_unknown_fields_list_the_first_hundred_and_say_they_were_truncated(customer_client):
    body = valid_body(**{f"field{n}": n for n in range(1000)})
    problem = assert_problem(customer_client.post(LIST_URL, body, format="json"), 400, "unknown_field")
    assert len(problem["errors"]) == 100
    assert problem["errors_truncated"] is True
    assert problem["errors"][0]["pointer"] == "/field0"


@pytest.mark.django_db
def test_a_few_unknown_fields_are_all_listed_without_a_truncation_flag(customer_client):
    body = valid_body(**{f"field{n}": n for n in range(5)})
    problem = assert_problem(customer_client.post(LIST_URL, body, format="json"), 400, "unknown_field")
    assert [error["pointer"] for error in problem["errors"]] == [f"/field{n}" for n in range(5)]
    assert "errors_truncated" not in problem


@pytest.mark.django_db
def test_unknown_fields_at_every_level_are_reported_in_one_response(customer_client):
    body = valid_body(
        colour="red",
        sender={**address("Sender BV"), "nickname": "S"},
        dimensions_mm={"length": 1, "width": 1, "height": 1, "depth": 1},
    )
    problem = assert_problem(customer_client.post(LIST_URL, body, format="json"), 400, "unknown_field")
    assert sorted(error["pointer"] for error in problem["errors"]) == [
        "/colour",
        "/dimensions_mm/depth",
        "/sender/nickname",
    ]


@pytest.mark.django_db
def test_an_unknown_nested_field_is_reported_on_edit_too(customer_client):
    parcel_id = customer_client.post(LIST_URL, valid_body(), format="json").json()["id"]
    body = {"typo": 1, "recipient": {**address("New Name"), "floor": 3}}
    response = customer_client.patch(f"{LIST_URL}{parcel_id}/", body, format="json")
    problem = assert_problem(response, 400, "unknown_field")
    assert sorted(error["pointer"] for error in problem["errors"]) == ["/recipient/floor", "/typo"]


# -- what gets logged ---------------------------------------------------------------------------------------


def _console_handler() -> logging.Handler:
    return next(h for h in logging.getLogger().handlers if h.get_name() == "console")


def test_a_500_logs_its_request_id_and_never_the_query_string(client, monkeypatch, caplog):
    def boom(self, request):
        raise RuntimeError("bug")

    monkeypatch.setattr(views.HealthView, "get", boom)
    caplog.set_level(logging.INFO)
    response = client.get("/api/v1/health/?search=Private+Name&email=grace%40example.com", HTTP_X_REQUEST_ID="r-500")
    assert response.status_code == 500
    console = _console_handler()
    lines = []
    for record in caplog.records:
        assert console.filter(record)
        lines.append(json.loads(console.format(record)))
    django_request = [line for line in lines if line["logger"] == "django.request"]
    assert django_request, lines
    assert all(line["request_id"] == "r-500" for line in django_request)
    text = json.dumps(lines)
    assert "Private" not in text and "example.com" not in text and "search=" not in text


def test_a_django_level_400_logs_no_query_string(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.post(
        "/admin/login/?next=/admin/private-name/", TOO_MANY, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    console = _console_handler()
    assert caplog.records
    for record in caplog.records:
        console.filter(record)
        assert "private-name" not in console.format(record)


# -- what gets counted --------------------------------------------------------------------------------------


def _metric(client: Client, name: str, label: str) -> float:
    for line in client.get("/metrics").content.decode().splitlines():
        if line.startswith(f"{name}{{") and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_bug_is_counted_as_a_500_response_and_too_many_parameters_as_a_400(client, monkeypatch):
    def boom(self, request):
        raise RuntimeError("bug")

    by_status = "django_http_responses_total_by_status_total"
    before_500, before_400 = _metric(client, by_status, 'status="500"'), _metric(client, by_status, 'status="400"')
    client.get(f"/api/v1/health/?{TOO_MANY}")
    monkeypatch.setattr(views.HealthView, "get", boom)
    client.get("/api/v1/health/")
    assert _metric(client, by_status, 'status="500"') == before_500 + 1
    assert _metric(client, by_status, 'status="400"') == before_400 + 1
