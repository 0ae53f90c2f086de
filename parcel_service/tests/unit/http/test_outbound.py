"""The SSRF guard and the bounded client for requests to user-chosen URLs."""

from __future__ import annotations

import socket
import time

import pytest

from parcel_service.http.outbound import OutboundClient, TargetNotAllowed, check_target, is_public_address
from parcel_service.tests.receiver import always, receiver, script


def resolving_to(*addresses):
    def resolve(host, port, type=0):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - the address under test
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert not is_public_address(address)
    with pytest.raises(TargetNotAllowed, match="private, loopback"):
        check_target("https://hooks.example.com/x", allow_private=False, resolve=resolving_to(address))


def test_a_public_address_is_allowed_and_is_the_one_connected_to():
    target = check_target(
        "https://hooks.example.com:8443/in?x=1", allow_private=False, resolve=resolving_to("93.184.215.14")
    )
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "hooks.example.com",
        8443,
        "/in?x=1",
        "93.184.215.14",
    )


def test_one_private_address_among_public_ones_is_refused():
    """A rebinding host answering with both must not get through on the public one."""
    with pytest.raises(TargetNotAllowed):
        check_target("https://h.example.com/", allow_private=False, resolve=resolving_to("93.184.215.14", "10.0.0.1"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "Only https"),
        ("ftp://hooks.example.com/", "Only https"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https:///path", "no host"),
        ("https://hooks.example.com:99999/", "not valid"),
        ("hooks.example.com/in", "Only https"),
    ],
)
def test_malformed_or_plain_urls_are_refused(url, reason):
    with pytest.raises(TargetNotAllowed, match=reason):
        check_target(url, allow_private=False, resolve=resolving_to("93.184.215.14"))


def test_an_unresolvable_host_is_refused():
    def fail(*args, **kwargs):
        raise socket.gaierror("no such host")

    with pytest.raises(TargetNotAllowed, match="does not resolve"):
        check_target("https://nowhere.invalid/", allow_private=False, resolve=fail)


def test_private_targets_and_http_are_allowed_when_configured():
    target = check_target("http://127.0.0.1:8080/in", allow_private=True)
    assert (target.address, target.port) == ("127.0.0.1", 8080)


def test_the_client_posts_to_the_checked_address_with_the_urls_host():
    with receiver(always(200)) as rec:
        port = int(rec.url.split(":")[2].split("/")[0])
        # The host name resolves nowhere: the request still reaches the address that was checked.
        target = check_target(f"http://hooks.test:{port}/in", allow_private=True, resolve=resolving_to("127.0.0.1"))
        answer = OutboundClient(timeout_s=2).post(target, b'{"a":1}', {"Content-Type": "application/json"})
        (request,) = rec.wait_for(1)
    assert answer.ok and answer.status == 200
    assert request.headers["Host"] == f"hooks.test:{port}"
    assert request.body == b'{"a":1}' and request.path == "/in"


@pytest.mark.parametrize(
    ("behaviour", "status", "error"),
    [
        (always(302), 302, ""),  # not followed: a failure like any non-2xx
        (always(500, b"x" * 1000), 500, ""),
        (always(200, b"x" * 10_000_000), 200, ""),  # read up to 64 KiB, then the connection is dropped
        (script(None), None, "timeout"),
    ],
    ids=["redirect", "500", "10MB-body", "hang"],
)
def test_the_client_is_bounded_whatever_the_receiver_does(behaviour, status, error):
    with receiver(behaviour) as rec:
        target = check_target(rec.url, allow_private=True)
        started = time.monotonic()
        answer = OutboundClient(timeout_s=0.5).post(target, b"{}", {})
        elapsed = time.monotonic() - started
    assert (answer.status, answer.error) == (status, error)
    assert answer.ok is (status == 200)
    assert elapsed < 5  # never stuck: bounded by the timeout (a hang costs it once), not by the receiver


def test_a_refused_connection_is_an_answer_not_an_exception():
    target = check_target("http://127.0.0.1:1/", allow_private=True)
    answer = OutboundClient(timeout_s=0.5).post(target, b"{}", {})
    assert (answer.status, answer.error, answer.ok) == (None, "connection refused", False)


def test_connections_are_reused_between_requests():
    with receiver(always(204)) as rec:
        client = OutboundClient(timeout_s=2)
        target = check_target(rec.url, allow_private=True)
        for _ in range(3):
            assert client.post(target, b"{}", {}).ok
        assert len(client._pools) == 1
        assert client._pools[next(iter(client._pools))].num_connections == 1
