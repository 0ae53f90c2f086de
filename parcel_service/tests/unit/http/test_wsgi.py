"""ChunkedBodyLength: a chunked body from a server that ends the input stream gets a length, up to the limit + 1."""

import io

import pytest

from parcel_service.http.wsgi import ChunkedBodyLength

LIMIT = 1024 * 1024


def _seen_by_django(environ: dict) -> dict:
    seen = {}

    def application(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read()
        return [b""]

    ChunkedBodyLength(application)(environ, lambda *args: None)
    return seen


def _chunked(body: bytes, **extra) -> dict:
    return {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, **extra}


def test_a_chunked_body_is_handed_over_with_its_length():
    body = b'{"weight_grams": 1}'
    assert _seen_by_django(_chunked(body)) == {"length": str(len(body)), "body": body}


@pytest.mark.parametrize("size", [LIMIT, LIMIT + 1, 3 * LIMIT])
def test_no_more_than_the_limit_and_one_byte_is_read(size):
    environ = _chunked(b"x" * size)
    stream = environ["wsgi.input"]
    seen = _seen_by_django(environ)
    assert seen["length"] == str(min(size, LIMIT + 1))
    assert stream.tell() == min(size, LIMIT + 1)  # the rest was never read


def test_an_input_stream_the_server_does_not_end_is_left_alone():
    environ = _chunked(b"{}", **{"wsgi.input_terminated": False})
    assert _seen_by_django(environ) == {"length": None, "body": b"{}"}


def test_a_declared_length_is_left_alone():
    environ = _chunked(b"{}", CONTENT_LENGTH="2")
    assert _seen_by_django(environ) == {"length": "2", "body": b"{}"}


def test_a_request_without_a_body_is_left_alone():
    environ = {"wsgi.input": io.BytesIO(b""), "wsgi.input_terminated": True}
    assert _seen_by_django(environ) == {"length": None, "body": b""}
