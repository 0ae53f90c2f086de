"""Every operation an API key can reach declares the scope it needs, the permission enforces it, the schema shows it."""

from types import SimpleNamespace

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from parcel_service.api.permissions import NOT_DECLARED, HasRequiredScope, required_scope
from parcel_service.http.api_keys import ApiKeyAuthentication

pytestmark = pytest.mark.django_db

# (route name, method) -> the scope an API key needs; None: JWT only. A new endpoint fails
# test_every_operation_an_api_key_can_reach_declares_its_scope until it is declared in the view and listed here.
EXPECTED_SCOPES = {
    ("parcel-list", "GET"): "parcels:read",
    ("parcel-list", "POST"): "parcels:write",
    ("parcel-detail", "GET"): "parcels:read",
    ("parcel-detail", "PATCH"): "parcels:write",
    ("parcel-cancel", "POST"): "parcels:write",
    ("parcel-events", "GET"): "parcels:read",
    ("parcel-label", "GET"): "parcels:read",
    ("parcel-events", "POST"): "events:write",
    ("events-batch", "POST"): "events:write",
    ("api-key-list", "GET"): None,
    ("api-key-list", "POST"): None,
    ("api-key-detail", "DELETE"): None,
    ("webhook-list", "GET"): "webhooks:manage",
    ("webhook-list", "POST"): "webhooks:manage",
    ("webhook-detail", "GET"): "webhooks:manage",
    ("webhook-detail", "PATCH"): "webhooks:manage",
    ("webhook-detail", "DELETE"): "webhooks:manage",
    ("webhook-rotate-secret", "POST"): "webhooks:manage",
    ("webhook-test", "POST"): "webhooks:manage",
    ("webhook-deliveries", "GET"): "webhooks:manage",
    ("webhook-redeliver", "POST"): "webhooks:manage",
}


def drf_routes(resolver=None):
    for pattern in (resolver or get_resolver("parcel_service.urls")).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from drf_routes(pattern)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            yield pattern.name, pattern.callback


def operations():
    """Every (route name, METHOD, view) under /api/v1/ whose view accepts API keys."""
    for name, callback in drf_routes():
        view_class = callback.cls
        if ApiKeyAuthentication not in view_class().authentication_classes:
            continue
        actions = getattr(callback, "actions", None) or {
            method: None for method in view_class.http_method_names if hasattr(view_class, method)
        }
        for method, action in actions.items():
            if method in ("options", "head"):
                continue
            view = view_class()
            view.action = action
            view.request = SimpleNamespace(method=method.upper())
            yield name, method.upper(), view


def test_every_operation_an_api_key_can_reach_declares_its_scope():
    declared = {}
    for name, method, view in operations():
        scope = required_scope(view, method)
        assert scope is not NOT_DECLARED, f"{name} {method} declares no scope in required_scopes"
        assert any(isinstance(p, HasRequiredScope) for p in view.get_permissions()), f"{name} {method}"
        declared[(name, method)] = scope
    assert declared == EXPECTED_SCOPES


def test_the_schema_shows_the_api_key_scheme_and_each_operations_scope(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["apiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    documented = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "x-scopes" not in operation:
                continue
            documented[(path, method.upper())] = operation["x-scopes"]
            by_key = {"apiKeyAuth": []} in operation["security"]
            assert by_key == bool(operation["x-scopes"]), (path, method)
            if operation["x-scopes"]:
                assert f"`{operation['x-scopes'][0]}`" in operation["description"]
                assert "403" in operation["responses"]
    assert documented[("/api/v1/parcels/{id}/events/", "POST")] == ["events:write"]
    assert documented[("/api/v1/events/batch/", "POST")] == ["events:write"]
    assert documented[("/api/v1/parcels/", "GET")] == ["parcels:read"]
    assert documented[("/api/v1/api-keys/", "POST")] == []
    assert len(documented) == len(EXPECTED_SCOPES)
    assert "x-scopes" not in schema["paths"]["/api/v1/track/{tracking_number}/"]["get"]  # public: no key needed


def test_an_operation_that_declares_no_scope_is_refused_to_every_key(customer):
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from parcel_service.tests.conftest_helpers import issue_api_key

    class Undeclared(APIView):
        def get(self, request):
            from rest_framework.response import Response

            return Response({"ok": True})

    _, key = issue_api_key(customer)
    request = APIRequestFactory().get("/x", HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = Undeclared.as_view()(request)
    assert response.status_code == 403
    assert response.data["code"] == "insufficient_scope"
