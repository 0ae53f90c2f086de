"""The server span's middleware: OpenTelemetry's Django middleware, which excluded URLs skip whole.

Imported only when tracing is on (``parcel_service.http.tracing.instrument``), so an untraced process never
loads the instrumentation.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from opentelemetry.instrumentation.django import DjangoInstrumentor as OtelDjangoInstrumentor
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware


class TracingMiddleware(_DjangoMiddleware):
    """The instrumentation's middleware; a request to an excluded URL (probes, scrapes) goes straight on.

    The instrumentation tests ``OTEL_PYTHON_DJANGO_EXCLUDED_URLS`` in each of its hooks, building the request's
    absolute URL each time: three times per excluded request, which then still passes through its hooks. That
    was about a tenth of a health probe's CPU (measured with bench/floor.py). Tested once here, with the same
    list and the same URL, an excluded request costs one test.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Skip excluded URLs; trace the others as the instrumentation does."""
        if self._excluded_urls.url_disabled(request.build_absolute_uri("?")):
            return self.get_response(request)
        return super().__call__(request)


class DjangoInstrumentor(OtelDjangoInstrumentor):
    """OpenTelemetry's Django instrumentor, inserting ``TracingMiddleware`` in place of its own middleware."""

    _opentelemetry_middleware = f"{TracingMiddleware.__module__}.{TracingMiddleware.__qualname__}"
