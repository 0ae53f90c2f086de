"""DRF's errors and the domain's as RFC 9457 problem details: the one ``EXCEPTION_HANDLER``.

``custom_exception_handler`` turns domain errors (``ParcelServiceError``), DRF's own exceptions and a
database outage raised in a view into ``application/problem+json``, with validation problems flattened
into JSON-pointer ``errors``. Errors raised outside DRF are answered by ``http.problem_details``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..domain.errors import ParcelServiceError
from ..http.problem_details import PROBLEM_CONTENT_TYPE, RETRY_AFTER_UNAVAILABLE_S, problem, suspicious_request_problem
from ..http.renderers import JSONRenderer
from .permissions import InsufficientScope

logger = logging.getLogger(__name__)

# A validation problem lists at most this many errors, then says "errors_truncated": true (API.md).
MAX_ERRORS = 100


class QueryValidationError(drf_exceptions.ValidationError):
    """A validation error in the query string; its pointers are prefixed with ``/query``."""

    pointer_prefix = "/query"


_PROBLEM_RENDERER = JSONRenderer()

# DRF exception class -> stable problem code, for the classes whose default_code is not the one API.md names.
_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.ParseError: "parse_error",
    InsufficientScope: "insufficient_scope",  # before PermissionDenied, which it is too
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
}


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


def _validation_problem(exc: drf_exceptions.ValidationError, pointer: str | None = None) -> dict[str, Any]:
    prefix = getattr(exc, "pointer_prefix", "")
    # API.md "Bounded errors": at most MAX_ERRORS entries, flattened lazily so a huge detail is never walked whole.
    errors = list(islice(validation_errors(exc.detail, prefix if pointer is None else pointer), MAX_ERRORS + 1))
    truncated = len(errors) > MAX_ERRORS
    del errors[MAX_ERRORS:]
    codes = {error["code"] for error in errors}
    if "unknown_field" in codes:
        code, detail = "unknown_field", "Request contains fields that are unknown or read-only."
    elif codes == {"invalid_tracking_number"}:
        code, detail = "invalid_tracking_number", errors[0]["detail"]
    elif codes == {"webhook_url_not_allowed"}:
        code, detail = "webhook_url_not_allowed", errors[0]["detail"]
    elif prefix == "/query":
        code, detail = "validation_error", "Query parameters failed validation."
    elif prefix:
        code, detail = "validation_error", "Request headers failed validation."
    else:
        code, detail = "validation_error", "Request body failed validation."
    body = problem(exc.status_code, code, detail, errors=errors)
    if truncated:
        body["errors_truncated"] = True
    return body


def _api_exception_problem(exc: drf_exceptions.APIException) -> dict[str, Any]:
    code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), None)
    detail = exc.detail
    if code is None:
        if isinstance(detail, Mapping):
            # simplejwt's InvalidToken carries {"detail", "code", "messages"}; its "code" is the stable one.
            code = str(detail.get("code") or exc.default_code)
        else:
            code = str(exc.get_codes() if isinstance(detail, str) else exc.default_code)
    if isinstance(detail, Mapping):
        text = str(detail.get("detail", exc.default_detail))
    elif isinstance(detail, list):
        text = " ".join(str(item) for item in detail)
    else:
        text = str(detail)
    return problem(exc.status_code, code, text)


def _unsupported_media_type(request: Any) -> drf_exceptions.UnsupportedMediaType:
    """DRF's 415, saying what to send instead (its own detail names only what was sent)."""
    sent = (getattr(request, "content_type", "") or "").split(";")[0].strip()[:100]
    if not sent:
        return drf_exceptions.UnsupportedMediaType(sent, detail="No Content-Type; send application/json.")
    return drf_exceptions.UnsupportedMediaType(sent, detail=f'Unsupported media type "{sent}"; send application/json.')


def problem_for(error: ParcelServiceError | drf_exceptions.ValidationError, *, pointer: str = "") -> dict[str, Any]:
    """The problem details of a domain or validation error, as a body part rather than a response.

    For what answers inside a 200, such as one item of a batch.

    Args:
        error: A domain error, or a validation error of one part of the request body.
        pointer: The JSON pointer of that part (e.g. ``/events/3``); validation pointers start there.
    """
    if isinstance(error, ParcelServiceError):
        return problem(error.status_code, error.code, error.detail)
    return _validation_problem(error, pointer)


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
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        exc = _unsupported_media_type(context.get("request"))
    elif isinstance(exc, Http404):
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
    elif isinstance(exc, SuspiciousOperation):
        # Too many query parameters, and the like: the client's fault. Logged where Django logs these, without
        # the traceback Django would add (an attacker repeating it must not flood the log with stacks).
        logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
        body = suspicious_request_problem(exc)
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

    request = context.get("request")
    if request is not None:
        # A problem is JSON whatever the view renders otherwise (the schema's YAML, the docs' HTML).
        request.accepted_renderer, request.accepted_media_type = _PROBLEM_RENDERER, PROBLEM_CONTENT_TYPE
    set_rollback()
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
