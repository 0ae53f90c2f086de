"""Cross-cutting behaviour: request ids, problem+json for Django's own errors, logs, health, docs, metrics."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client

from parcel_service.api import views
from parcel_service.models import Parcel

from .helpers import assert_problem

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def client() -> Client:
    return Client()


def test_liveness_touches_nothing(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/v1/health/")
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.cache
def test_readiness_reports_database_and_cache(client):
    assert client.get("/api/v1/health/ready").json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


@pytest.mark.django_db
@pytest.mark.cache
def test_readiness_is_503_when_the_database_is_down(client, monkeypatch):
    monkeypatch.setattr("parcel_service.http.health.connection.cursor", _raise_operational_error)
    response = client.get("/api/v1/health/ready/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable", "cache": "ok"}}
    assert response["Retry-After"]


def _raise_operational_error(*args, **kwargs):
    raise OperationalError('could not connect to server: Connection refused (host "db.internal" port 5432)')


@pytest.mark.django_db
def test_database_outage_is_a_503_problem_without_connection_details(customer_client, monkeypatch):
    monkeypatch.setattr(Parcel.objects, "visible_to", _raise_operational_error)
    response = customer_client.get("/api/v1/parcels/")
    assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert "db.internal" not in response.content.decode()


def test_request_id_is_echoed_when_valid(client):
    assert client.get("/api/v1/health/", HTTP_X_REQUEST_ID="abc-123.X_y")["X-Request-ID"] == "abc-123.X_y"


@pytest.mark.parametrize("bad", ["x" * 65, "has space", "semi;colon", "newline\nx", ""])
def test_invalid_request_id_is_replaced_by_a_uuid(client, bad):
    rid = client.get("/api/v1/health/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
    assert rid != bad and len(rid) == 36


def test_unknown_api_url_is_a_problem_404(client):
    assert_problem(client.get("/api/v1/nope/"), 404, "not_found")
    assert_problem(client.get("/api/nothing"), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_unsafe_methods_on_unknown_api_urls_are_problem_404_not_csrf_403(method):
    client = Client(enforce_csrf_checks=True)
    assert_problem(getattr(client, method)("/api/v1/parcels/%C2%84/cancel/"), 404, "not_found")


@pytest.mark.django_db
def test_csrf_failure_under_api_is_problem_json(rf):
    from parcel_service.http.problem_details import csrf_failure

    response = csrf_failure(rf.post("/api/v1/x"), "no token")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert csrf_failure(rf.post("/admin/"), "no token")["Content-Type"].startswith("text/html")


def test_unknown_non_api_url_is_html(client):
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert "problem" not in response["Content-Type"]


@pytest.mark.django_db
def test_two_mib_body_is_a_problem_413_and_nothing_is_written(customer_client):
    response = customer_client.post(
        "/api/v1/parcels/", b"{" + b" " * (2 * 1024 * 1024) + b"}", content_type="application/json"
    )
    assert_problem(response, 413, "request_too_large")
    assert response.json()["detail"] == "Request body is larger than 1 MiB."
    assert not Parcel.objects.exists()


def test_the_413_names_the_limit_the_settings_set(settings, customer_client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = customer_client.post("/api/v1/parcels/", b"{" + b" " * 2000 + b"}", content_type="application/json")
    assert_problem(response, 413, "request_too_large")
    assert response.json()["detail"] == "Request body is larger than 1000 bytes."


def test_malformed_content_length_is_400(client):
    response = client.generic("POST", "/api/v1/health/", b"{}", CONTENT_TYPE="application/json", CONTENT_LENGTH="abc")
    assert_problem(response, 400, "bad_request")


def test_forced_exception_is_a_problem_500_without_traceback(client, monkeypatch, caplog):
    def boom(self, request):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(views.HealthView, "get", boom)
    response = client.get("/api/v1/health/")
    body = assert_problem(response, 500, "server_error")
    assert "secret internal detail" not in json.dumps(body)
    assert any(r.exc_info and r.request_id == response["X-Request-ID"] for r in caplog.records)


def test_django_level_crash_is_a_problem_500(monkeypatch):
    # An exception outside DRF (here: in URL resolution) reaches Django's handler500.
    client = Client(raise_request_exception=False)
    monkeypatch.setattr("parcel_service.http.problem_details.api_not_found", None)
    monkeypatch.setattr("django.urls.resolvers.URLResolver.resolve", _boom)
    assert_problem(client.get("/api/v1/whatever/"), 500, "server_error")


def _boom(*args, **kwargs):
    raise RuntimeError("resolver exploded")


def test_django_level_database_outage_is_a_problem_503(monkeypatch):
    client = Client(raise_request_exception=False)
    monkeypatch.setattr("django.urls.resolvers.URLResolver.resolve", _raise_operational_error)
    response = client.get("/api/v1/whatever/")
    assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"


def test_django_handlers_400_and_403_answer_problem_json_under_api(rf):
    from parcel_service.http import problem_details as exceptions

    request = rf.get("/api/v1/x")
    assert exceptions.handler400(request, Exception()).status_code == 400
    assert exceptions.handler403(request, Exception())["Content-Type"] == "application/problem+json"
    assert exceptions.handler404(rf.get("/elsewhere"), Exception()).status_code == 404
    assert exceptions.handler400(rf.get("/elsewhere"), Exception()).status_code == 400
    assert exceptions.handler403(rf.get("/elsewhere"), Exception()).status_code == 403


@pytest.mark.django_db
def test_access_line_carries_the_request_id_and_no_body(customer_client, caplog):
    caplog.set_level(logging.INFO, logger="parcel_service.access")
    response = customer_client.post(
        "/api/v1/parcels/",
        {"reference": "x", "recipient": {"name": "Private Name"}},
        format="json",
        HTTP_X_REQUEST_ID="trace-42",
    )
    lines = [r for r in caplog.records if r.name == "parcel_service.access"]
    assert len(lines) == 1
    record = lines[0]
    assert (record.request_id, record.method, record.status) == ("trace-42", "POST", response.status_code)
    assert record.user_id is not None and record.path == "/api/v1/parcels/"
    formatted = logging.getHandlerByName("console").format(record) if hasattr(logging, "getHandlerByName") else None
    line = json.loads(formatted or _json_format(record))
    assert line["request_id"] == "trace-42" and line["status"] == response.status_code and "duration_ms" in line
    assert "Private Name" not in json.dumps(line)


def _json_format(record):
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("%(message)s %(request_id)s").format(record)


def test_prod_logging_is_json_lines():
    from core_project.settings.base import build_logging

    config = build_logging("json", "INFO")
    assert config["formatters"]["default"]["()"] == "pythonjsonlogger.orjson.OrjsonFormatter"
    assert config["handlers"]["console"]["filters"] == ["request_id"]


@pytest.mark.django_db
def test_authenticated_responses_are_no_store_and_anonymous_ones_are_not(customer_client, client):
    assert customer_client.get("/api/v1/parcels/")["Cache-Control"] == "no-store"
    assert "Cache-Control" not in client.get("/api/v1/health/")


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi: 3" in schema.content
    assert client.get("/api/schema/?format=json").json()["info"]["title"] == "Parcel Service API"
    for url in ("/api/docs/", "/api/redoc/"):
        page = client.get(url).content.decode()
        assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
        assert "/static/drf_spectacular_sidecar/" in page


def test_metrics_are_exposed(client):
    client.get("/api/v1/health/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


@pytest.mark.django_db
def test_admin_is_served(client):
    assert client.get("/admin/login/").status_code == 200


@pytest.mark.django_db
def test_demo_users_are_created_once_with_printed_passwords(capsys):
    from django.contrib.auth import get_user_model

    call_command("create_demo_users")
    first = capsys.readouterr().out
    assert first.count("password:") == 4
    call_command("create_demo_users")
    assert "password:" not in capsys.readouterr().out
    carl = get_user_model().objects.get(username="carl")
    assert carl.groups.filter(name="carriers").exists()
    assert get_user_model().objects.get(username="admin").is_staff


def _printed_passwords(output: str) -> dict[str, str]:
    return {line.split()[0]: line.rsplit(" ", 1)[1] for line in output.splitlines() if "password:" in line}


def _token_status(username: str, password: str) -> int:
    from rest_framework.test import APIClient

    body = {"username": username, "password": password}
    return APIClient().post("/api/v1/auth/token/", body, format="json").status_code


def _group_names(username: str) -> list[str]:
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.get(username=username).groups.values_list("name", flat=True))


@pytest.mark.django_db
def test_demo_users_reset_prints_new_passwords_that_log_in_and_retires_the_old_ones(capsys):
    call_command("create_demo_users")
    first = _printed_passwords(capsys.readouterr().out)
    call_command("create_demo_users", "--reset")
    output = capsys.readouterr().out
    second = _printed_passwords(output)
    assert output.count("new password:") == 4
    assert set(second) == {"alice", "bob", "carl", "admin"}
    for username, password in second.items():
        assert password != first[username]
        assert _token_status(username, password) == 200
        assert _token_status(username, first[username]) == 401
    assert _group_names("carl") == ["carriers"]


@pytest.mark.django_db
def test_demo_users_reset_creates_the_missing_accounts_too(capsys):
    call_command("create_demo_users", "--reset")
    passwords = _printed_passwords(capsys.readouterr().out)
    assert set(passwords) == {"alice", "bob", "carl", "admin"}
    assert _token_status("carl", passwords["carl"]) == 200


@pytest.mark.django_db
def test_demo_users_are_refused_outside_dev(settings):
    from django.core.management.base import CommandError

    settings.DEMO_USERS_ENABLED = False
    with pytest.raises(CommandError):
        call_command("create_demo_users")


def _prod_check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "core_project.settings.prod",
        "SECRET_KEY": "a" * 20 + "-prod-like-secret-key-with-enough-length-0123456789",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:1/db",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "ALLOWED_HOSTS": "parcels.example.com",
    }
    env.update(env_overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_prod_refuses_to_start_without_a_required_variable_and_names_it(missing):
    result = _prod_check({missing: None})
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_prod_settings_pass_the_deploy_check():
    result = _prod_check({})
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize(("size", "left_unread"), [(2000, 0), (5000, 1000)])
def test_a_refused_body_is_read_up_to_four_times_the_limit(settings, rf, size, left_unread):
    """A proxy still writing the body when the 413 comes would see a reset (and answer 502) if it went unread."""
    from parcel_service.http.middleware import BodySizeLimitMiddleware

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    request = rf.post("/api/v1/parcels/", b"x" * size, content_type="application/json")
    middleware = BodySizeLimitMiddleware(lambda request: pytest.fail("a refused body reached the view"))
    assert middleware(request).status_code == 413
    assert len(request.META["wsgi.input"].read()) == left_unread
