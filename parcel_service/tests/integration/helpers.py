"""Assertions shared by the integration tests."""


def assert_problem(response, status, code, pointer=None):
    """Assert an RFC 9457 problem+json response with this status and code (and pointer, if given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == response["X-Request-ID"]
    assert "Traceback" not in response.content.decode()
    if pointer is not None:
        assert pointer in [e["pointer"] for e in body["errors"]], body["errors"]
    return body
