"""HTTP middleware: request ids, the access log line, ``Cache-Control`` for authenticated calls, body size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from .credentials import api_key_prefix
from .logging import request_id_var
from .problem_details import problem, problem_response

access_logger = logging.getLogger("parcel_service.access")

# API.md: the client's id is kept when it is 1-64 characters of [A-Za-z0-9._-]; anything else is replaced,
# so a hostile header can never inject text into log lines.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _resolved_user_id(request: HttpRequest) -> int | None:
    """The authenticated user's id if authentication already ran, without triggering a lookup."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", None)
    if wrapped is empty:  # Django's lazy session user that nobody evaluated: don't query for a log line.
        return None
    if user is not None and user.is_authenticated:
        return user.pk
    return None


class RequestIdMiddleware:
    """Assigns the request id, echoes it, writes one access line per request and marks private responses."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Handle one request inside its request-id context."""
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user_id = _resolved_user_id(request)
            if user_id is not None or "HTTP_AUTHORIZATION" in request.META:
                # Personal data must never sit in a shared cache (API.md: authenticated => no-store).
                response["Cache-Control"] = "no-store"
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            # Only the path: query strings may hold search terms (names), bodies hold addresses.
            prefix = api_key_prefix(request)  # which of the user's API keys, if one: its prefix, never the key
            access_logger.info(
                "%s %s %s %.2fms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": user_id,
                    **({"api_key_prefix": prefix} if prefix else {}),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Answers 413 problem+json for a declared body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

    Django only enforces the limit when ``request.body`` is read (and then answers an HTML 400);
    DRF's parsers read the stream directly and would not enforce it at all. Checking the declared
    length up front refuses the body before a byte of it is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Refuse oversized or malformed ``Content-Length`` headers; pass everything else on."""
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return problem_response(problem(400, "bad_request", "Content-Length is not a number."))
        if self.limit is not None and length > self.limit:
            return problem_response(problem(413, "request_too_large", "Request body is larger than 1 MiB."))
        return self.get_response(request)
