"""The server span of every request: W3C ``traceparent`` continued, attributes only on spans that record.

It replaces opentelemetry-instrumentation-django's middleware, which did the work of a recorded span for
every request: it collected the request's attributes before sampling, resolved the URL a second time to
name the span, tested the excluded URLs in each of its four hooks (building the absolute URL each time),
and fed a request-duration histogram to the no-op meter provider. With one request in ten sampled, that
was most of tracing's cost: a warm tracking read took about 45 % more CPU traced than untraced (measured
with ``bench/floor.py``). Here an unsampled request costs the span's start and end and the context switch;
a sampled one gets the same name and attributes as the instrumentation gave it (the same helpers of
opentelemetry-instrumentation-wsgi build them). Inside an unsampled request the client instrumentations (Redis,
psycopg2) are suppressed: their spans could not record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.wsgi import add_response_attributes, collect_request_attributes, wsgi_getter
from opentelemetry.propagate import extract
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.http import parse_excluded_urls, sanitize_method

# The attributes built from the request line, exported without the query string (as the access log leaves it
# out: a filter value could one day be a name).
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.query")


class TracingMiddleware:
    """One server span per request, the current span while the rest of the stack runs (DB and Redis spans nest).

    Second in ``MIDDLEWARE``, after ``RequestIdMiddleware``, which stays first so that even an error raised
    here is answered with the request id; the access line it writes after this span ended reads the span's
    ids from ``request.span_context``. ``parcel_service.http.tracing.instrument()`` inserts it when tracing is on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # A proxy until parcel_service.http.tracing.start() installs this process's provider.
        self.tracer = trace.get_tracer("parcel_service.http")
        self.excluded = parse_excluded_urls(settings.OTEL_PYTHON_DJANGO_EXCLUDED_URLS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Serve the request inside its span; probes and scrapes (the excluded URLs) get none."""
        if self.excluded.url_disabled(request.build_absolute_uri("?")):
            return self.get_response(request)
        environ = request.META
        parent = extract(environ, getter=wsgi_getter)
        # The sampler decides here, from the parent and the trace id: the name and attributes come later, and
        # only if the span records.
        span = self.tracer.start_span(str(request.method), context=parent, kind=SpanKind.SERVER)
        current = trace.set_span_in_context(span, parent)
        recording = span.is_recording()
        if not recording:
            # An unsampled request's client spans would record nothing either, yet each Redis and database call
            # still built one (and the Redis pipeline wrapper formatted every command's arguments first): 16% of a
            # warm detail read's throughput under Gunicorn. The instrumentations skip straight to the call when
            # suppressed; the trace context (unsampled) still propagates to queued tasks and log lines.
            current = context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, current)
        token = context.attach(current)
        request.span_context = span.get_span_context()  # type: ignore[attr-defined]
        try:
            if recording:
                span.set_attributes(_request_attributes(request))
            response = self.get_response(request)
            if recording:
                self._finish(span, request, response)
            return response
        except BaseException as error:  # Django turns view errors into responses: only its own failures get here
            if recording:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            context.detach(token)
            span.end()

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Keep a view's exception for the span (Django answers it with a 500 before ``__call__`` sees it)."""
        request._span_exception = exception  # type: ignore[attr-defined]

    @staticmethod
    def _finish(span: trace.Span, request: HttpRequest, response: HttpResponse) -> None:
        span.update_name(_span_name(request))
        route = getattr(getattr(request, "resolver_match", None), "route", None)
        if route:
            span.set_attribute(HTTP_ROUTE, route)
        add_response_attributes(span, f"{response.status_code} {response.reason_phrase}", list(response.items()))
        exception = getattr(request, "_span_exception", None)
        if exception is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))


def _request_attributes(request: HttpRequest) -> dict[str, Any]:
    attributes: dict[str, Any] = dict(collect_request_attributes(request.META))
    attributes["request_id"] = getattr(request, "request_id", "-")
    if request.META.get("QUERY_STRING"):
        for name in _URL_ATTRIBUTES:
            value = attributes.get(name)
            if isinstance(value, str):
                attributes[name] = "" if name == "url.query" else value.split("?", 1)[0]
    return {k: v for k, v in attributes.items() if v is not None}


def _span_name(request: HttpRequest) -> str:
    # The instrumentation's rule: "METHOD route", else "METHOD url_name", else the method; "HTTP" for a method
    # outside the standard ones. From Django's own resolution when the request reached it.
    method = sanitize_method(str(request.method).strip())
    if method == "_OTHER":
        return "HTTP"
    try:
        match = request.resolver_match or resolve(request.path)
    except Resolver404:
        return str(request.method)
    if getattr(match, "route", None):
        return f"{method} {match.route}"
    if getattr(match, "url_name", None):
        return f"{method} {match.url_name}"
    return str(request.method)
