"""Tracing set-up: when it is on, which sampler, where spans go, what leaves the process, ids in log lines."""

import logging
import runpy
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan, sampling
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from parcel_service.http import tracing
from parcel_service.http.logging import RequestIdFilter

BASE_SETTINGS = Path(settings.BASE_DIR) / "core_project" / "settings" / "base.py"


def base_settings(monkeypatch, **environ):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_SETTINGS))


def test_tracing_is_off_without_an_endpoint_and_on_with_one_unless_the_sdk_is_disabled(monkeypatch):
    assert base_settings(monkeypatch)["TRACING_ENABLED"] is False
    assert base_settings(monkeypatch, OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318")["TRACING_ENABLED"] is True
    assert base_settings(monkeypatch, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://c:4318/v1/traces")["TRACING_ENABLED"]
    disabled = base_settings(monkeypatch, OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318", OTEL_SDK_DISABLED="true")
    assert disabled["TRACING_ENABLED"] is False


def test_the_default_sampler_traces_one_request_in_ten_unless_the_caller_decided(monkeypatch):
    sampler = tracing.build_sampler(**_sampler_settings(base_settings(monkeypatch)))
    assert isinstance(sampler, sampling.ParentBasedTraceIdRatio)
    assert sampler._root.rate == 0.1


def _sampler_settings(values):
    return {"name": values["OTEL_TRACES_SAMPLER"], "argument": values["OTEL_TRACES_SAMPLER_ARG"]}


@pytest.mark.parametrize(
    ("name", "argument", "expected"),
    [("always_on", 0.1, sampling.ALWAYS_ON), ("parentbased_always_off", 0.1, sampling.DEFAULT_OFF)],
)
def test_fixed_samplers_ignore_the_ratio(name, argument, expected):
    assert tracing.build_sampler(name, argument) is expected


@pytest.mark.parametrize(("name", "argument"), [("sometimes", 0.1), ("traceidratio", 1.5), ("traceidratio", -0.1)])
def test_an_unknown_sampler_or_a_ratio_outside_0_1_stops_start_up(name, argument):
    with pytest.raises(ImproperlyConfigured):
        tracing.build_sampler(name, argument)


def test_spans_go_to_the_traces_endpoint_or_to_v1_traces_under_the_base_endpoint(settings):
    settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = ""
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = ""
    assert tracing.export_endpoint() == ""
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = "http://collector:4318/"
    assert tracing.export_endpoint() == "http://collector:4318/v1/traces"
    settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "http://traces:4318/custom"
    assert tracing.export_endpoint() == "http://traces:4318/custom"


def test_instrumenting_is_skipped_when_tracing_is_off(settings, monkeypatch):
    monkeypatch.setattr(tracing, "_instrumented", False)
    settings.TRACING_ENABLED = False
    tracing.instrument()
    assert tracing._instrumented is False


def _span(**kwargs) -> ReadableSpan:
    return ReadableSpan(name="UPDATE", context=SpanContext(1, 2, False), **kwargs)


def test_error_messages_never_leave_the_process_but_their_type_does():
    message = "new row violates check constraint\nDETAIL:  Failing row contains (Grace Hopper, Damrak 1)"
    stack = f'Traceback (most recent call last):\n  File "x.py"\npsycopg2.errors.CheckViolation: {message}\n'
    failed = _span(
        events=[
            Event(
                "exception",
                {"exception.type": "CheckViolation", "exception.message": message, "exception.stacktrace": stack},
            ),
            Event("retry", {"attempt": 1}),
        ],
        status=Status(StatusCode.ERROR, message),
    )
    fine = _span()
    memory = InMemorySpanExporter()
    exporter = tracing.RedactingExporter(memory)
    assert exporter.export([failed, fine]) == SpanExportResult.SUCCESS
    redacted, untouched = memory.get_finished_spans()
    assert untouched is fine
    exception, retry = redacted.events
    assert exception.attributes["exception.type"] == "CheckViolation"
    assert "Grace" not in exception.attributes["exception.message"]
    assert "Grace" not in exception.attributes["exception.stacktrace"]
    assert "psycopg2.errors.CheckViolation" in exception.attributes["exception.stacktrace"]
    assert retry.attributes == {"attempt": 1}
    assert redacted.status.status_code == StatusCode.ERROR and not redacted.status.description
    assert exporter.force_flush() is True
    exporter.shutdown()
    assert memory.export([fine]) == SpanExportResult.FAILURE  # the wrapped exporter was shut down


def _record() -> logging.LogRecord:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    RequestIdFilter().filter(record)
    return record


def test_a_log_line_outside_a_span_has_dashes_for_trace_and_span_ids():
    record = _record()
    assert (record.trace_id, record.span_id) == ("-", "-")


def test_a_log_line_inside_a_span_carries_its_ids_in_w3c_hex():
    context = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, TraceFlags(1))
    with trace.use_span(NonRecordingSpan(context)):
        record = _record()
    assert record.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record.span_id == "00f067aa0ba902b7"
