"""HTTP middleware: request ids, access lines, no-store when authenticated, body limits, HTTPS only, HTML CSP.

Also the site-only variants of Django's session, authentication and messages middleware, and the Prometheus
request metrics with their label lookups cached.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.http.request import split_domain_port
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import empty
from django_prometheus.middleware import PrometheusAfterMiddleware

from .credentials import api_key_prefix
from .logging import request_id_var, trace_fields
from .problem_details import body_too_large_problem, problem, problem_response

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
        request.request_id = request_id  # type: ignore[attr-defined]  # RequestIdFilter reads it on Django's lines
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
                    # The request's span (parcel_service.http.tracing), which ended inside this middleware.
                    **(trace_fields(request.span_context) if hasattr(request, "span_context") else {}),
                    **({"api_key_prefix": prefix} if prefix else {}),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Answers 413 problem+json for a declared body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``, 411 for no length.

    Django only enforces the limit when ``request.body`` is read (and then answers an HTML 400);
    DRF's parsers read the stream directly and would not enforce it at all. Checking the declared
    length up front refuses the body before a byte of it is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Refuse oversized or malformed ``Content-Length`` headers; pass everything else on."""
        if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
            # A body of unknown length that the server could not hand over whole (see http.wsgi): say so,
            # rather than read the body as empty (RFC 9110 section 15.5.12).
            return problem_response(problem(411, "length_required", "Send the body with a Content-Length header."))
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return problem_response(problem(400, "bad_request", "Content-Length is not a number."))
        if self.limit is not None and length > self.limit:
            self._discard_body(request, length)
            return problem_response(body_too_large_problem())
        return self.get_response(request)

    def _discard_body(self, request: HttpRequest, length: int) -> None:
        """Read and drop a refused body of a size a proxy in front lets through (up to 4x the limit).

        A proxy that buffered the body (nginx's ``client_max_body_size`` is above the application's limit so
        that the application's answer stands) may still be writing it when the 413 comes; closing with unread
        bytes resets the connection, and the proxy then answers 502 instead of passing the 413 on.
        """
        remaining = min(length, 4 * self.limit) if self.limit is not None else 0
        stream = request.META.get("wsgi.input")
        try:
            while stream is not None and remaining > 0:
                chunk = stream.read(min(remaining, 64 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
        except Exception:  # a body shorter than declared, a client gone: the 413 stands regardless
            return


class HttpsRequiredMiddleware:
    """With ``SECURE_SSL_REDIRECT`` on, plain HTTP under ``/api/`` is a 403 problem; elsewhere a 308 to HTTPS.

    Django's ``SecurityMiddleware`` answers every plain-HTTP request with a 301: a client follows it with a GET,
    so a POST's body is lost, and the token has already crossed the network in clear. An API client must be
    told, not redirected (API.md "No redirect for the API"). Placed just before ``SecurityMiddleware``, which
    stays configured (``check --deploy`` looks for it) but never sees a request it would redirect. The same
    setting, exemptions and ``SECURE_SSL_HOST`` apply; the redirect keeps the method and body (308) and drops
    the client's port, which means nothing for HTTPS and would otherwise echo whatever the Host header said.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.SECURE_SSL_REDIRECT:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.ssl_host = settings.SECURE_SSL_HOST
        self.exempt = [re.compile(pattern) for pattern in settings.SECURE_REDIRECT_EXEMPT]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Pass HTTPS and exempt requests on; refuse or redirect the others."""
        if request.is_secure() or any(pattern.search(request.path.lstrip("/")) for pattern in self.exempt):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            response = problem_response(problem(403, "https_required", "Use HTTPS; plain HTTP is refused."))
            response["X-Content-Type-Options"] = "nosniff"
            return response
        host = self.ssl_host or split_domain_port(request.get_host())[0]
        return HttpResponsePermanentRedirect(f"https://{host}{request.get_full_path()}", preserve_request=True)


class ContentSecurityPolicyMiddleware:
    """Adds ``HTML_CONTENT_SECURITY_POLICY`` to HTML responses: the docs pages, the admin, Django's error pages.

    JSON answers get nothing: a browser runs no script from them, and the API's hot paths do not carry the
    header's bytes. A response that already has a policy keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.HTML_CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Add the policy to an HTML response."""
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class _SiteOnly(MiddlewareMixin):
    """Skips a middleware under ``/api/``: the API authenticates every request itself and keeps no session.

    Sessions, ``request.user`` from the session and flash messages serve the admin; under ``/api/`` they only
    cost time (measured in bench/README.md). Every other path gets the middleware unchanged, and the class stays
    a subclass of Django's, so the admin's system checks still find it.
    """

    def __call__(self, request: HttpRequest) -> Any:
        """Pass API requests straight on; run the middleware for the others."""
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        return super().__call__(request)


class SiteSessionMiddleware(_SiteOnly, SessionMiddleware):
    """Django's ``SessionMiddleware``, except under ``/api/``."""


class SiteAuthenticationMiddleware(_SiteOnly, AuthenticationMiddleware):
    """Django's ``AuthenticationMiddleware``, except under ``/api/`` (DRF's authenticators set ``request.user``)."""


class SiteMessageMiddleware(_SiteOnly, MessageMiddleware):
    """Django's ``MessageMiddleware``, except under ``/api/``."""


class PrometheusMetricsMiddleware(PrometheusAfterMiddleware):
    """django-prometheus' per-view request metrics, the same series, with each labelled child looked up once.

    prometheus_client's ``labels()`` validates and stringifies the values and takes a lock on every call; the
    middleware makes six such calls per request. The children are kept per metric and label values (views,
    methods, statuses and charsets: a bounded set, which prometheus_client keeps for ever anyway).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self._children: dict[tuple[object, ...], object] = {}

    def label_metric(self, metric, request, response=None, **labels):  # the base's signature, untyped
        """The metric's child for these label values (the metric itself without labels)."""
        if not labels:
            return metric
        key = (id(metric), *labels.items())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(**labels)
        return child
