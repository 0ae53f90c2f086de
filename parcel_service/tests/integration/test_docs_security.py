"""The HTML pages (Swagger UI, ReDoc, the admin) carry a Content-Security-Policy that allows only this origin;
the JSON API does not spend bytes on it. Swagger UI keeps no token in the browser's storage."""

import re

import pytest
from django.conf import settings
from django.test import Client

HTML_PAGES = ["/api/docs/", "/api/redoc/", "/admin/login/"]


@pytest.fixture
def client() -> Client:
    return Client()


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.django_db
@pytest.mark.parametrize("url", HTML_PAGES)
def test_html_pages_allow_only_this_origin(client, url):
    response = client.get(url)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert not [value for values in policy.values() for value in values if value.startswith(("http", "*"))]


@pytest.mark.django_db
def test_the_admin_behind_login_carries_the_policy(staff, client):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    for url in ("/admin/", "/admin/parcel_service/parcel/", "/admin/parcel_service/parcel/add/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _policy(response)["default-src"] == ["'self'"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_have_no_inline_script_and_load_nothing_from_elsewhere(client, url):
    page = client.get(url).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), page  # every script is a file from here
    assert "googleapis" not in page and "gstatic" not in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)


def test_swagger_ui_loads_its_init_script_from_this_origin_as_javascript(client):
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.django_db
def test_json_api_responses_carry_no_policy(client, customer_client):
    assert "Content-Security-Policy" not in client.get("/api/v1/health/")
    assert "Content-Security-Policy" not in customer_client.get("/api/v1/parcels/")
    assert "Content-Security-Policy" not in client.get("/api/v1/nope/")
    assert "Content-Security-Policy" not in client.get("/api/schema/")


def test_swagger_ui_does_not_keep_the_token_in_local_storage(client):
    assert "persistAuthorization" not in settings.SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"]
    assert "persistAuthorization" not in client.get("/api/docs/?script=").content.decode()
