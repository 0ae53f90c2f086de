"""OpenTelemetry traces: a server span per request, child spans for PostgreSQL and Redis, export over OTLP/HTTP.

Set up in two steps, because Gunicorn imports the application once in its master and forks the workers
from it (``preload_app``):

- ``instrument()`` runs at Django start-up (``AppConfig.ready``, before Django loads the middleware). It
  only adds the server span's middleware (``parcel_service.http.tracing_middleware``) and patches psycopg2
  and redis-py: no thread, no socket, nothing a fork could break. The master does it once and every
  worker inherits it.
- ``start()`` creates the SDK tracer provider and its batch span processor, whose exporter thread and
  HTTP connection must belong to the process that uses them: a thread does not survive ``fork()``, and a
  lock it held at that instant stays locked in the child. It runs on the first request a process serves
  (``request_started``, before any middleware). Gunicorn's master never serves one, so each worker
  starts its own after the fork, with or without ``preload_app``; ``runserver`` starts its own the same
  way. It needs no Gunicorn hook.

Nothing is instrumented unless an OTLP endpoint is set (``settings.TRACING_ENABLED``): even an unsampled
request pays for starting and ending its spans and switching context. A span is
exported only if sampled (``OTEL_TRACES_SAMPLER``, default one trace in ten unless the caller's
``traceparent`` decided); unsampled requests still get ids, which the log lines carry
(``parcel_service.http.logging``).
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping, Sequence
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_started
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status

_lock = threading.Lock()
_instrumented = False
_provider: TracerProvider | None = None

TRACING_MIDDLEWARE = "parcel_service.http.tracing_middleware.TracingMiddleware"


def export_endpoint() -> str:
    """The OTLP/HTTP traces URL, by the ``OTEL_EXPORTER_OTLP_*`` rules; ``""`` when traces are not exported."""
    if settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:
        return settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
    return ""


def build_sampler(name: str, argument: float) -> sampling.Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` names, with ``OTEL_TRACES_SAMPLER_ARG`` as its ratio where it takes one.

    Raises:
        ImproperlyConfigured: An unknown sampler name, or a ratio outside [0, 1].
    """
    fixed = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "parentbased_always_on": sampling.DEFAULT_ON,
        "parentbased_always_off": sampling.DEFAULT_OFF,
    }
    ratio = {"traceidratio": sampling.TraceIdRatioBased, "parentbased_traceidratio": sampling.ParentBasedTraceIdRatio}
    if name in fixed:
        return fixed[name]
    if name not in ratio:
        raise ImproperlyConfigured(
            f"OTEL_TRACES_SAMPLER: unknown sampler {name!r}, not one of {sorted([*fixed, *ratio])}"
        )
    if not 0.0 <= argument <= 1.0:
        raise ImproperlyConfigured(f"OTEL_TRACES_SAMPLER_ARG must be between 0 and 1, not {argument}")
    return ratio[name](argument)


def instrument() -> None:
    """Make requests, psycopg2, redis-py, Celery and urllib3 (webhook attempts) create spans, if tracing is enabled.

    Once, before the middleware loads. Celery's spans carry the trace from the request that queued a task into
    the worker that runs it.
    """
    global _instrumented
    if _instrumented or not settings.TRACING_ENABLED:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    # The server span's middleware (parcel_service.http.tracing_middleware), second, after RequestIdMiddleware
    # (see there). Inserted only now, as an instrumentation would, so an untraced process never imports it.
    if TRACING_MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [*settings.MIDDLEWARE[:1], TRACING_MIDDLEWARE, *settings.MIDDLEWARE[1:]]
    Psycopg2Instrumentor().instrument(meter_provider=NoOpMeterProvider())
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    URLLib3Instrumentor().instrument(meter_provider=NoOpMeterProvider())
    request_started.connect(_keep_request_uri, dispatch_uid=f"{__name__}.request_uri")
    if export_endpoint():
        # Imported now, in Gunicorn's master: a module is safe to fork, and a worker's first request would
        # otherwise spend about 20 ms importing it (measured); building the exporter is then 3 ms.
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401

        request_started.connect(_start_on_first_request, dispatch_uid=__name__)
    _instrumented = True


def start(
    *, exporter: SpanExporter | None = None, sampler: sampling.Sampler | None = None, batch: bool = True
) -> TracerProvider:
    """Install this process's tracer provider (once; later calls return it).

    Args:
        exporter: Where spans go; default OTLP/HTTP to ``export_endpoint()``. Error messages are left out of
            what it receives (``RedactingExporter``).
        sampler: Default from ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``.
        batch: Export from a background thread through a bounded queue (the default: a request never waits
            for the collector); False exports each span as it ends, in the caller's thread (tests).

    Returns:
        The provider, also set as OpenTelemetry's global one.
    """
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=export_endpoint())
        exporter = RedactingExporter(exporter)
        provider = TracerProvider(
            sampler=sampler or build_sampler(settings.OTEL_TRACES_SAMPLER, settings.OTEL_TRACES_SAMPLER_ARG),
            resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}),
        )
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _provider = provider
        return provider


class RedactingExporter(SpanExporter):
    """Exports spans without error messages: a database error's message can quote the row it refused.

    PostgreSQL's "Failing row contains (...)" detail lists every column, names and addresses included, and
    the database instrumentation records the exception it sees, message and traceback. The exception's type
    and its stack stay; the message is cut from both, and from the span's status.
    """

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Pass the spans on, each error message replaced by a placeholder."""
        return self.exporter.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self.exporter.force_flush(timeout_millis)


def _redacted(span: ReadableSpan) -> ReadableSpan:
    if not span.status.description and not any(event.name == "exception" for event in span.events):
        return span
    events = [_redacted_exception(event) if event.name == "exception" else event for event in span.events]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redacted_exception(event: Event) -> Event:
    attributes = dict(event.attributes or {})
    message = str(attributes.get("exception.message") or "")
    attributes["exception.message"] = "[redacted]"
    stacktrace = attributes.get("exception.stacktrace")
    if message and isinstance(stacktrace, str):  # its last line repeats the message
        attributes["exception.stacktrace"] = stacktrace.replace(message, "[redacted]")
    return Event(event.name, attributes, event.timestamp)


def _start_on_first_request(**_: Any) -> None:
    start()
    request_started.disconnect(dispatch_uid=__name__)


def _keep_request_uri(*, environ: MutableMapping[str, Any], **_: Any) -> None:
    # Gunicorn passes the request line's URI (RAW_URI); wsgiref (runserver) and Django's test client do not,
    # and the request's attributes are then rebuilt from PATH_INFO, which Django has by then decoded as UTF-8:
    # a character outside Latin-1 made it raise (a 500). Record it while PATH_INFO is still the server's.
    if "RAW_URI" not in environ and "REQUEST_URI" not in environ:
        environ["REQUEST_URI"] = quote(environ.get("PATH_INFO", ""), safe="/;=,", encoding="latin1")
