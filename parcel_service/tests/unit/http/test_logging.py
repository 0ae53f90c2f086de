"""The logging filter: every record gets the request id, and no record carries a request's query string."""

import json
import logging

from pythonjsonlogger.json import JsonFormatter

from parcel_service.http.logging import RequestIdFilter, request_id_var

FORMATTER = JsonFormatter("%(message)s %(request_id)s")


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/x",), None)
    record.__dict__.update(extra)
    return record


def test_a_record_outside_a_request_gets_a_dash():
    record = _record()
    assert RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_a_record_inside_a_request_gets_its_id():
    token = request_id_var.set("ctx-1")
    try:
        record = _record()
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    assert record.request_id == "ctx-1"


def test_djangos_request_line_gets_the_requests_id_and_loses_its_query_string(rf):
    request = rf.get("/api/v1/parcels/", {"search": "Grace Hopper", "email": "grace@example.com"})
    request.request_id = "req-7"
    record = _record(request=request, status_code=500)
    RequestIdFilter().filter(record)
    line = json.loads(FORMATTER.format(record))
    assert line["request_id"] == "req-7"
    assert line["request"] == "GET /api/v1/parcels/"
    assert "Grace" not in json.dumps(line) and "example.com" not in json.dumps(line)


def test_an_explicit_request_id_is_kept(rf):
    record = _record(request=rf.get("/x?q=1"), request_id="given")
    RequestIdFilter().filter(record)
    assert record.request_id == "given" and record.request == "GET /x"
