"""OpenAPI extensions and reusable schema pieces (problem+json error responses) for drf-spectacular."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from ..http.api_keys import ApiKeyAuthentication
from ..http.problem_details import PROBLEM_CONTENT_TYPE
from .permissions import required_scope


class ProjectJWTScheme(SimpleJWTScheme):
    """Declares the project's JWT authentication class as the bearer-JWT security scheme."""

    target_class = "parcel_service.http.authentication.JWTAuthentication"
    name = "jwtAuth"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Declares API-key authentication as a security scheme beside the JWT one."""

    target_class = "parcel_service.http.api_keys.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """An ``Authorization`` header whose value is ``Api-Key <key>``."""
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (the whole value, scheme included; the scheme is case-insensitive). "
            "A key acts as its user, limited to its scopes: each operation names the scope it needs in "
            "`x-scopes` (empty: API keys cannot call it); outside them the answer is 403 `insufficient_scope`.",
        }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's ``AutoSchema``, plus each operation's API-key scope (``x-scopes``, and in its description)."""

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        """drf-spectacular's mapping, plus a list serializer's length limits (it maps them for list fields only)."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer):
            # DRF 3.15's ListSerializer takes min_length and max_length; its stubs predate them.
            min_length, max_length = getattr(field, "min_length", None), getattr(field, "max_length", None)
            if min_length is not None:
                schema["minItems"] = min_length
            if max_length is not None:
                schema["maxItems"] = max_length
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """The operation, with what an API key needs to call it."""
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not any(isinstance(a, ApiKeyAuthentication) for a in self.view.get_authenticators()):
            return operation
        scope = required_scope(self.view, self.method)
        note = "API keys cannot call this operation (JWT only)."
        if isinstance(scope, str):
            note = f"API keys need the scope `{scope}`."
            operation["responses"].setdefault(
                "403",
                {
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    "description": _DESCRIPTIONS[403],
                },
            )
        else:
            operation["security"] = [entry for entry in operation.get("security", []) if ApiKeyScheme.name not in entry]
        operation["x-scopes"] = [scope] if isinstance(scope, str) else []
        operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        return operation


class ProblemErrorSerializer(serializers.Serializer):
    """One validation problem: where, what kind, and a message."""

    pointer = serializers.CharField(help_text="RFC 6901 JSON Pointer into the body, or /query/<param>.")
    code = serializers.CharField()
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every 4xx/5xx under /api/ answers."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    request_id = serializers.CharField()
    errors = ProblemErrorSerializer(  # type: ignore[assignment]  # the field shadows Serializer.errors, unused here
        many=True, required=False, help_text="Present only for validation problems; at most 100 entries."
    )
    errors_truncated = serializers.BooleanField(
        required=False, help_text="Present, and true, only when there were more than 100 errors to list."
    )


_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def problems(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Documented problem+json responses for the given statuses, for ``extend_schema(responses=...)``.

    Args:
        statuses: HTTP status codes the operation really answers with.

    Returns:
        A mapping of ``(status, "application/problem+json")`` to a described response.
    """
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(response=ProblemSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


HealthSerializer = inline_serializer("Health", fields={"status": serializers.CharField()})


def forbid_unknown_request_fields(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """drf-spectacular post-processing hook: request bodies declare what the serializers enforce.

    The input serializers reject unknown fields (400 ``unknown_field``) and NUL characters; the schema
    says so (``additionalProperties: false``, a no-NUL ``pattern`` on free-text strings), so generated
    clients and schema-driven tests know these are errors, not something ignored.

    Args:
        result: The generated OpenAPI document.
        generator: The schema generator (unused).
        request: The schema request (unused).
        public: Whether the schema is public (unused).

    Returns:
        The document, with every ``*Request`` object component closed.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            for field in component.get("properties", {}).values():
                if field.get("type") == "string" and not ({"pattern", "format", "enum"} & field.keys()):
                    # NUL cannot be stored in PostgreSQL text; the API refuses it with a 400.
                    field["pattern"] = NO_NUL_PATTERN
    return result


NO_NUL_PATTERN = "^[^\\u0000]*$"


def hoist_defaults_out_of_one_of(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every ``default`` conforms to its own schema.

    An optional blank-able field (``allow_blank``, default ``""``) is rendered as ``oneOf: [the field,
    {maxLength: 0}]`` with the default inside the first branch, where ``""`` violates that branch's own
    ``format: email`` or ``pattern`` (openapi-spec-validator refuses it). On the property, ``""`` is valid:
    it matches the blank branch.
    """
    for component in result.get("components", {}).get("schemas", {}).values():
        for field in component.get("properties", {}).values():
            for branch in field.get("oneOf", ()):
                if "default" in branch:
                    field.setdefault("default", branch.pop("default"))
    return result


# Answered by the server before a request reaches the application (API.md "Errors at the edge").
EDGE_PROBLEMS = {
    400: ("bad_request", "The request line or headers could not be parsed."),
    414: ("uri_too_long", "The request line is longer than the server accepts."),
    431: ("request_header_fields_too_large", "Too many request headers, or one is too large."),
}
_REQUEST_ID_HEADER = {
    "description": "The request's id: the client's X-Request-ID when valid, else a new UUID. Quote it.",
    "schema": {"type": "string"},
}
_RETRY_AFTER_HEADER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}


def document_cross_cutting_responses(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """drf-spectacular post-processing hook: what every operation can answer, documented on each.

    Every response carries ``X-Request-ID``; 429 and 503 carry ``Retry-After``; and every operation can
    get the edge's problem+json 400, 414 and 431 (a request line or headers the server refuses to parse).
    """
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            for status, (code, detail) in EDGE_PROBLEMS.items():
                responses.setdefault(
                    str(status),
                    {
                        "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
                        "description": f"{detail} (code `{code}`)",
                    },
                )
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Request-ID", _REQUEST_ID_HEADER)
                if status in ("429", "503"):
                    headers.setdefault("Retry-After", _RETRY_AFTER_HEADER)
    return result
