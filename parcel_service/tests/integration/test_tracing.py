"""Traces through the whole stack: the span tree of a create and of an event, traceparent, ids in the log lines."""

import logging

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import resolve
from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from parcel_service.http import tracing
from parcel_service.models import Parcel
from parcel_service.tests.factories import ParcelFactory, address

from .test_parcels_api import LIST_URL, valid_body

# Writes commit as in production (autocommit), so the write-through runs inside the request.
pytestmark = pytest.mark.django_db(transaction=True)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
RECIPIENT = {**address("Zacharias Quintbottom", "DE"), "email": "zq@example.org", "phone": "+49301234567"}
PERSONAL = ("Zacharias", "Quintbottom", "zq@example.org", "+49301234567", "Damrak")


class _Switch(sampling.Sampler):
    """Samples everything while a test collects spans, nothing otherwise (the provider is set once per process)."""

    on = False

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        sampler = sampling.ParentBased(sampling.ALWAYS_ON) if self.on else sampling.ALWAYS_OFF
        return sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "test switch"


_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans():
    tracing.start(exporter=_EXPORTER, sampler=_SWITCH, batch=False)
    _EXPORTER.clear()
    _SWITCH.on = True
    yield _EXPORTER
    _SWITCH.on = False
    _EXPORTER.clear()


def by_name(finished, name):
    return [span for span in finished if span.name == name]


def ancestors(span, finished):
    by_id = {s.context.span_id: s for s in finished}
    chain = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def assert_one_trace_under_one_server_span(finished):
    assert len({span.context.trace_id for span in finished}) == 1
    (root,) = [span for span in finished if span.parent is None]
    assert root.kind == SpanKind.SERVER
    assert all(root in ancestors(span, finished) for span in finished if span is not root)
    return root


def assert_no_personal_data(finished):
    for span in finished:
        texts = [str(v) for v in span.attributes.values()]
        texts += [str(v) for event in span.events for v in event.attributes.values()]
        for value in texts:
            for personal in PERSONAL:
                assert personal not in value, (span.name, value)


def test_a_create_is_one_trace_of_a_server_span_with_the_workflow_and_its_queries_below(customer_client, spans):
    response = customer_client.post(LIST_URL, valid_body(recipient=RECIPIENT), format="json")
    assert response.status_code == 201
    finished = spans.get_finished_spans()
    root = assert_one_trace_under_one_server_span(finished)
    assert root.attributes["http.status_code"] == 201
    assert root.attributes["request_id"] == response["X-Request-ID"]
    (create,) = by_name(finished, "parcel.create")
    assert create.parent.span_id == root.context.span_id
    assert create.attributes["parcel.id"] == response.json()["id"]
    assert create.attributes["parcel.status"] == "pending"
    if connection.vendor == "postgresql":
        # One statement inserts the parcel and queues its webhook messages: "WITH created AS (INSERT …) …".
        inserts = [s for s in finished if s.kind == SpanKind.CLIENT and s.name == "WITH"]
        assert any(s.parent.span_id == create.context.span_id for s in inserts)
        assert all(s.attributes["db.system"] == "postgresql" for s in inserts)
    assert_no_personal_data(finished)


@pytest.mark.redis
@pytest.mark.cache
def test_the_redis_round_trips_of_a_request_are_spans_of_its_trace(customer_client, spans):
    response = customer_client.post(LIST_URL, valid_body(recipient=RECIPIENT), format="json")
    assert response.status_code == 201
    finished = spans.get_finished_spans()
    root = assert_one_trace_under_one_server_span(finished)
    redis_spans = [s for s in finished if s.attributes.get("db.system") == "redis"]  # the throttle's count
    assert redis_spans and all(s.context.trace_id == root.context.trace_id for s in redis_spans)


def test_an_event_span_carries_the_parcel_and_its_status_transition(carrier_client, spans):
    parcel = ParcelFactory(status="pending", recipient_name="Zacharias Quintbottom", recipient_email="zq@example.org")
    spans.clear()
    response = carrier_client.post(f"{LIST_URL}{parcel.pk}/events/", {"status": "in_transit"}, format="json")
    assert response.status_code == 201
    finished = spans.get_finished_spans()
    root = assert_one_trace_under_one_server_span(finished)
    (event,) = by_name(finished, "parcel.record_event")
    assert event.parent.span_id == root.context.span_id
    assert event.attributes["parcel.id"] == str(parcel.pk)
    assert event.attributes["parcel.status.to"] == "in_transit"
    if connection.vendor != "postgresql":  # PostgreSQL's one-statement path is not told the previous status
        assert event.attributes["parcel.status.from"] == "pending"
    (write_through,) = by_name(finished, "document.write_through")
    assert event in ancestors(write_through, finished)
    assert write_through.attributes["parcel.version"] == parcel.version + 1
    if connection.vendor == "postgresql":
        assert any(s.kind == SpanKind.CLIENT and event in ancestors(s, finished) for s in finished)
    assert_no_personal_data(finished)


def test_a_refused_event_records_where_the_parcel_stood(carrier_client, spans):
    parcel = ParcelFactory(status="delivered")
    response = carrier_client.post(f"{LIST_URL}{parcel.pk}/events/", {"status": "in_transit"}, format="json")
    assert response.status_code == 409
    (event,) = by_name(spans.get_finished_spans(), "parcel.record_event")
    assert event.attributes["parcel.status.from"] == "delivered"
    assert event.attributes["parcel.status.to"] == "in_transit"


def test_a_cache_miss_is_rebuilt_under_its_own_span(anon_client, spans):
    parcel = ParcelFactory()
    assert anon_client.get(f"/api/v1/track/{parcel.tracking_number}/").status_code == 200
    (rebuild,) = by_name(spans.get_finished_spans(), "document.rebuild")
    assert rebuild.attributes["document.kind"] == "tracking"


def test_an_incoming_traceparent_is_continued_and_its_trace_id_is_in_the_access_line(customer_client, spans, caplog):
    with caplog.at_level(logging.INFO, logger="parcel_service.access"):
        response = customer_client.get(f"{LIST_URL}?status=pending", HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01")
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    (root,) = [span for span in finished if span.kind == SpanKind.SERVER]
    assert f"{root.context.trace_id:032x}" == TRACE_ID
    assert f"{root.parent.span_id:016x}" == PARENT_ID
    assert all(f"{span.context.trace_id:032x}" == TRACE_ID for span in finished)
    # The query string stays out of the span, as it stays out of the access line.
    assert not any("status=pending" in str(value) for value in root.attributes.values())
    (access,) = [r for r in caplog.records if r.name == "parcel_service.access"]
    assert access.trace_id == TRACE_ID
    assert access.span_id == f"{root.context.span_id:016x}"


def test_the_server_span_is_named_after_the_route_and_carries_it(customer_client, spans):
    # Named once the span is known to record, from Django's own resolution (parcel_service.http.tracing_middleware).
    route = resolve(LIST_URL).route
    assert customer_client.get(LIST_URL).status_code == 200
    (root,) = [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert root.name == f"GET {route}"
    assert root.attributes["http.route"] == route


def test_a_request_stopped_before_its_view_is_named_after_its_route_too(customer_client, spans):
    route = resolve(LIST_URL).route
    response = customer_client.post(LIST_URL, data=b"{}", content_type="application/json", CONTENT_LENGTH="99999999")
    assert response.status_code == 413
    (root,) = [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert root.name == f"POST {route}"


def test_health_probes_make_no_traces(anon_client, spans):
    assert anon_client.get("/api/v1/health/").status_code == 200
    assert spans.get_finished_spans() == ()


def test_a_database_error_is_exported_without_its_message(spans):
    # PostgreSQL's message for a refused row quotes the whole row: the recipient's name and address included.
    parcel = ParcelFactory(recipient_name="Zacharias Quintbottom")
    tracer = tracing.trace.get_tracer(__name__)
    with tracer.start_as_current_span("test.refused_row"), pytest.raises(IntegrityError), transaction.atomic():
        Parcel.objects.filter(pk=parcel.pk).update(weight_grams=-1)
    finished = spans.get_finished_spans()
    messages = [e.attributes.get("exception.message") for s in finished for e in s.events if e.name == "exception"]
    if connection.vendor == "postgresql":  # the database span recorded the error, and its type stays
        assert set(messages) == {"[redacted]"}
        assert any(
            e.attributes.get("exception.type", "").endswith("CheckViolation") for s in finished for e in s.events
        )
    assert_no_personal_data(finished)
