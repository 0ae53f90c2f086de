"""Domain exceptions and the one place errors become RFC 9457 problem details.

Services raise ``ParcelServiceError`` subclasses, each with a stable ``code`` and an HTTP status.
``custom_exception_handler`` (DRF's ``EXCEPTION_HANDLER``) turns those, DRF's own exceptions and a
database outage into ``application/problem+json``; the Django-level handlers at the bottom do the
same for errors raised outside DRF views (unknown URLs, oversized bodies, crashes in middleware).
No stack trace, SQL or setting ever reaches a body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .logging import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_UNAVAILABLE_S = 5


class ParcelServiceError(Exception):
    """Base of every domain error: carries a stable ``code`` and the HTTP status it maps to."""

    status_code: int = HTTPStatus.BAD_REQUEST
    code: str = "error"
    default_detail: str = "The request could not be processed."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class InvalidTrackingNumber(ParcelServiceError):
    """The tracking number is malformed or its S10 check digit is wrong."""

    status_code = HTTPStatus.BAD_REQUEST
    code = "invalid_tracking_number"
    default_detail = "Not a valid UPU S10 tracking number."


class ParcelNotFound(ParcelServiceError):
    """No such parcel, or not one the caller may see (the two are indistinguishable on purpose)."""

    status_code = HTTPStatus.NOT_FOUND
    code = "not_found"
    default_detail = "Not found."


class InvalidTransition(ParcelServiceError):
    """The event's status is not allowed after the parcel's current status."""

    status_code = HTTPStatus.CONFLICT
    code = "invalid_transition"
    default_detail = "This status change is not allowed."


class ParcelNotEditable(ParcelServiceError):
    """The parcel has left ``pending`` and can no longer be edited or cancelled."""

    status_code = HTTPStatus.CONFLICT
    code = "parcel_not_editable"
    default_detail = "Only pending parcels can be changed."


class PreconditionFailed(ParcelServiceError):
    """``If-Match`` named a version that is no longer current."""

    status_code = HTTPStatus.PRECONDITION_FAILED
    code = "precondition_failed"
    default_detail = "The parcel has changed since you fetched it (If-Match does not match)."


class IdempotencyKeyInUse(ParcelServiceError):
    """A request with the same ``Idempotency-Key`` is still being processed."""

    status_code = HTTPStatus.CONFLICT
    code = "idempotency_key_in_use"
    default_detail = "A request with this Idempotency-Key is still in progress; retry later."


class IdempotencyKeyMismatch(ParcelServiceError):
    """The ``Idempotency-Key`` was already used with a different request."""

    status_code = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "idempotency_key_mismatch"
    default_detail = "This Idempotency-Key was used with a different request."


class QueryValidationError(drf_exceptions.ValidationError):
    """A validation error in the query string; its pointers are prefixed with ``/query``."""

    pointer_prefix = "/query"


# DRF exception class -> stable problem code, for the classes whose default_code is not the one API.md names.
_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.ParseError: "parse_error",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Build an RFC 9457 problem details body.

    Args:
        status: The HTTP status code.
        code: A stable machine-readable error code.
        detail: A human-readable explanation for this occurrence.
        errors: Validation problems, each with ``pointer``, ``code`` and ``detail``.

    Returns:
        The problem document as a dict.
    """
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> HttpResponse:
    """Render a problem document outside DRF (Django handlers and middleware)."""
    response = HttpResponse(orjson.dumps(body), status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _escape_pointer_token(token: str) -> str:
    # RFC 6901 section 3: "~" and "/" inside a reference token are escaped as "~0" and "~1".
    return token.replace("~", "~0").replace("/", "~1")


def validation_errors(detail: Any, pointer: str = "") -> Iterator[dict[str, str]]:
    """Flatten DRF's nested ``ValidationError.detail`` into JSON-pointer error entries.

    ``non_field_errors`` point at the object that holds them; list items point at their index.

    Args:
        detail: ``ValidationError.detail`` (dicts, lists and ``ErrorDetail`` strings, nested).
        pointer: The JSON pointer of ``detail`` within the request.

    Yields:
        ``{"pointer", "code", "detail"}`` entries.
    """
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            key = str(key)
            child = pointer if key in ("non_field_errors", "detail") else f"{pointer}/{_escape_pointer_token(key)}"
            yield from validation_errors(value, child)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, (Mapping, list)):
                yield from validation_errors(item, f"{pointer}/{index}")
            else:
                yield from validation_errors(item, pointer)
    else:
        yield {"pointer": pointer, "code": getattr(detail, "code", None) or "invalid", "detail": str(detail)}


def _validation_problem(exc: drf_exceptions.ValidationError) -> dict[str, Any]:
    prefix = getattr(exc, "pointer_prefix", "")
    errors = list(validation_errors(exc.detail, prefix))
    codes = {error["code"] for error in errors}
    if "unknown_field" in codes:
        code, detail = "unknown_field", "Request contains fields that are unknown or read-only."
    elif codes == {"invalid_tracking_number"}:
        code, detail = "invalid_tracking_number", errors[0]["detail"]
    elif prefix == "/query":
        code, detail = "validation_error", "Query parameters failed validation."
    elif prefix:
        code, detail = "validation_error", "Request headers failed validation."
    else:
        code, detail = "validation_error", "Request body failed validation."
    return problem(exc.status_code, code, detail, errors=errors)


def _api_exception_problem(exc: drf_exceptions.APIException) -> dict[str, Any]:
    code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), None)
    if code is None:
        code = exc.get_codes() if isinstance(exc.detail, str) else exc.default_code
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}; its "code" is the stable one.
        if isinstance(exc.detail, Mapping):
            code = str(exc.detail.get("code") or exc.default_code)
    detail = exc.detail
    if isinstance(detail, Mapping):
        detail = detail.get("detail", exc.default_detail)
    elif isinstance(detail, list):
        detail = " ".join(str(item) for item in detail)
    return problem(exc.status_code, str(code), str(detail))


def custom_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error raised in a view becomes problem+json.

    Args:
        exc: The exception raised by the view, its serializer, authentication, permissions or throttles.
        context: DRF's handler context (``view``, ``request``, ...).

    Returns:
        A problem+json ``Response``. The transaction, if any, is marked for rollback so a failed
        request never commits half its writes.
    """
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, ParcelServiceError):
        body = problem(exc.status_code, exc.code, exc.detail)
    elif isinstance(exc, drf_exceptions.ValidationError):
        body = _validation_problem(exc)
    elif isinstance(exc, drf_exceptions.APIException):
        body = _api_exception_problem(exc)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # Connection refused, timed out, statement_timeout: the dependency, not the request, is at fault.
        logger.warning("database unavailable: %s", type(exc).__name__)
        body = problem(503, "service_unavailable", "The service is temporarily unavailable; retry later.")
        headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE_S)
    elif isinstance(exc, DatabaseError):
        logger.error("database error", exc_info=exc)
        body = problem(500, "server_error", "An unexpected error occurred.")
    else:
        # A bug. It is logged with its traceback; the client sees only the request id to quote.
        logger.error("unhandled exception", exc_info=exc)
        body = problem(500, "server_error", "An unexpected error occurred.")

    set_rollback()
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _html_fallback(request: HttpRequest, exception: Exception | None, default: Any) -> HttpResponse:
    if exception is None:
        return default(request)
    return default(request, exception)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django ``handler400``: problem+json under ``/api/``, Django's page elsewhere."""
    from django.views import defaults

    if not _is_api(request):
        return _html_fallback(request, exception, defaults.bad_request)
    return problem_response(problem(400, "bad_request", "The request could not be understood."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django ``handler403``: problem+json under ``/api/``, Django's page elsewhere."""
    from django.views import defaults

    if not _is_api(request):
        return _html_fallback(request, exception, defaults.permission_denied)
    return problem_response(problem(403, "permission_denied", "You do not have permission to perform this action."))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django ``handler404``: problem+json under ``/api/``, Django's page elsewhere."""
    from django.views import defaults

    if not _is_api(request):
        return _html_fallback(request, exception, defaults.page_not_found)
    return problem_response(problem(404, "not_found", "Not found."))


def handler500(request: HttpRequest) -> HttpResponse:
    """Django ``handler500``: problem+json under ``/api/`` (503 for a database outage), Django's page elsewhere."""
    import sys

    from django.views import defaults

    if not _is_api(request):
        return defaults.server_error(request)
    error = sys.exc_info()[1]
    if isinstance(error, (OperationalError, InterfaceError)):
        return problem_response(
            problem(503, "service_unavailable", "The service is temporarily unavailable; retry later."),
            {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)},
        )
    return problem_response(problem(500, "server_error", "An unexpected error occurred."))


@csrf_exempt  # a 404 changes nothing; without this a POST to an unknown URL would be a CSRF 403
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Catch-all view for unknown ``/api/`` URLs: a problem+json 404 in every environment."""
    return problem_response(problem(404, "not_found", "Not found."))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: problem+json under ``/api/`` (the admin keeps Django's page)."""
    from django.views.csrf import csrf_failure as django_csrf_failure

    if not _is_api(request):
        return django_csrf_failure(request, reason)
    return problem_response(problem(403, "permission_denied", "CSRF verification failed."))
