"""Traces and metrics from a real Gunicorn: spans exported over OTLP/HTTP by the workers, a collector that is
down costs the requests nothing, counters add up across workers."""

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from parcel_service.tests.factories import ParcelFactory, UserFactory
from parcel_service.tests.processes import free_port, gunicorn

from .test_parcels_api import valid_body
from .test_processes import bearer, burst, per_worker_request_counts

pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on loopback: keeps every span posted to ``/v1/traces``."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, dict]] = []  # (trace id, span name, attributes)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    for resource_spans in request.resource_spans:
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                attributes = {a.key: a.value.string_value for a in span.attributes}
                                receiver.spans.append((span.trace_id.hex(), span.name, attributes))
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"

    def wait_for(self, condition, timeout: float = 20.0) -> list[tuple[str, str, dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition(self.spans):
                    return list(self.spans)
            time.sleep(0.05)
        raise AssertionError(f"spans not received in time: {self.spans}")


def post_traced(url: str, *, json: dict, headers: dict, timeout: float) -> requests.Response:
    """POST with this test's ``traceparent``, which the test process's own tracing must not replace.

    Once an in-process test started tracing, urllib3 is instrumented in this process and would inject the
    client span's context (a new, unsampled trace) over the header: the server then continued that trace.
    """
    with suppress_http_instrumentation():
        return requests.post(url, json=json, headers={**headers, "traceparent": TRACEPARENT}, timeout=timeout)


@contextlib.contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_workers_export_the_spans_of_a_traced_request_with_the_callers_trace_id():
    user = UserFactory()
    with (
        otlp_receiver() as receiver,
        gunicorn(
            workers=2,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_TRACES_SAMPLER="always_on",
            OTEL_BSP_SCHEDULE_DELAY="100",  # the SDK's own variable: export every 0.1 s, not 5 s
        ) as server,
    ):
        created = post_traced(f"{server.url}/api/v1/parcels/", json=valid_body(), headers=bearer(user), timeout=10)
        assert created.status_code == 201
        # Requests without a traceparent start traces of their own, in whichever worker takes them.
        assert set(burst(f"{server.url}/api/v1/parcels/", 10, headers=bearer(user))) == {200}
        spans = receiver.wait_for(lambda spans: any(name == "parcel.create" for _, name, _ in spans))
        receiver.wait_for(lambda spans: len({trace for trace, _, _ in spans}) >= 11)
    traced = [(name, attributes) for trace, name, attributes in spans if trace == TRACE_ID]
    names = [name for name, _ in traced]
    assert "parcel.create" in names
    assert "WITH" in names  # the database span (the parcel and its webhook outbox rows: one statement), same trace
    (create,) = [attributes for name, attributes in traced if name == "parcel.create"]
    assert create["parcel.id"] == created.json()["id"]


def test_requests_stay_fast_while_the_trace_collector_refuses_connections():
    parcel = ParcelFactory()
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with gunicorn(
        workers=1,
        OTEL_EXPORTER_OTLP_ENDPOINT=closed,
        OTEL_TRACES_SAMPLER="always_on",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",  # the exporter's own variable, in seconds (Python SDK): retries give up
    ) as server:
        timings = []
        for _ in range(30):
            started = time.monotonic()
            response = requests.get(f"{server.url}/api/v1/track/{parcel.tracking_number}/", timeout=10)
            timings.append(time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(0.05)  # across several of the batch processor's export attempts
        stopping = time.monotonic()
    # The worker's last export at exit gives up on the collector within that timeout too: Gunicorn stops promptly.
    assert time.monotonic() - stopping < 5
    # A correctness bound, not a benchmark: a request never waits for the exporter.
    assert max(timings) < 1.0, timings


def test_a_counter_is_the_sum_over_two_workers():
    parcel = ParcelFactory()
    with gunicorn(workers=2) as server:
        statuses = burst(f"{server.url}/api/v1/track/{parcel.tracking_number}/", 60)
        assert set(statuses) == {200}
        per_worker = per_worker_request_counts(server.metrics_dir, "parcel_service:track")
        page = requests.get(f"{server.url}/metrics", timeout=10).text
    assert len([pid for pid, n in per_worker.items() if n > 0]) == 2, per_worker
    reads = {
        line.split("{", 1)[1].split("}", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith("parcel_cache_requests_total{") and 'kind="tracking"' in line
    }
    assert sum(reads.values()) == 60, reads
    assert reads['kind="tracking",result="hit"'] >= 58  # one miss per worker at most
    queries = next(ln for ln in page.splitlines() if ln.startswith("parcel_db_queries_total"))
    assert float(queries.rsplit(" ", 1)[1]) >= 1  # the rebuild (a second worker's miss may wait for it instead)
    assert "parcel_cache_breaker_open 0.0" in page
