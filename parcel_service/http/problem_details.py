"""RFC 9457 problem details at the Django level: the body, a plain response, and Django's error handlers.

Middleware and Django's ``handler400``/``handler403``/``handler404``/``handler500`` (errors raised outside
DRF views: unknown URLs, oversized bodies, crashes in middleware) answer with these; DRF's errors are
rendered by ``parcel_service.api.problems``. No stack trace, SQL or setting ever reaches a body.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .logging import current_request_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_UNAVAILABLE_S = 5


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


def body_too_large_problem() -> dict[str, Any]:
    """The 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, naming the limit the settings set."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    size = f"{limit // 1024**2} MiB" if limit % 1024**2 == 0 else f"{limit} bytes"
    return problem(413, "request_too_large", f"Request body is larger than {size}.")


def suspicious_request_problem(error: SuspiciousOperation) -> dict[str, Any]:
    """The problem for a request Django refused as suspicious: too many fields, too large a body, a bad host.

    Django raises these while parsing the query string or body, wherever that first happens (in a DRF view,
    in middleware); both paths answer the same 4xx with these.
    """
    if isinstance(error, (TooManyFieldsSent, TooManyFilesSent)):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return problem(400, "too_many_parameters", f"Too many query parameters or form fields (at most {limit}).")
    if isinstance(error, RequestDataTooBig):
        return body_too_large_problem()
    return problem(400, "bad_request", "The request could not be understood.")


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
    if isinstance(exception, SuspiciousOperation):
        return problem_response(suspicious_request_problem(exception))
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
