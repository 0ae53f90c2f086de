"""Requests the service makes to URLs its users chose (webhooks): where they may go, and how long they may take.

``check_target`` is the SSRF guard: only ``https`` (``http`` too when private targets are allowed, in
development and tests), no credentials in the URL, and a host whose every address is public. It returns the
address it checked, and ``OutboundClient`` connects to exactly that address (the URL's host still goes in the
``Host`` header and the TLS server name), so a DNS answer that changes between the check and the connection
(rebinding) cannot redirect the request. Deliveries call it again before every attempt.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError, SSLError

Resolver = Callable[..., list[tuple[Any, ...]]]

RESPONSE_BODY_CAP = 64 * 1024


class TargetNotAllowed(Exception):
    """A URL the service may not send requests to; ``str()`` says why, without echoing the URL."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where it points and the one address the request will connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def is_public_address(address: str) -> bool:
    """Whether ``address`` is globally routable unicast: not loopback, private, link-local, multicast or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone index is no part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    blocked = ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
    return ip.is_global and not blocked and not ip.is_unspecified


def check_target(url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> Target:
    """Check that ``url`` may be called, resolving its host now; the target to connect to.

    Raises:
        TargetNotAllowed: Not ``https`` (or ``http`` with ``allow_private``), credentials in the URL, no host,
            a bad port, a host that does not resolve, or one that resolves to any non-public address
            (unless ``allow_private``).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetNotAllowed("The URL is not valid.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise TargetNotAllowed("Only https URLs are allowed.")
    if parts.username is not None or parts.password is not None:
        raise TargetNotAllowed("The URL may not contain credentials.")
    host = parts.hostname
    if not host:
        raise TargetNotAllowed("The URL has no host.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [info[4][0] for info in resolve(host, port, type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError):
        raise TargetNotAllowed("The host does not resolve.") from None
    if not addresses:
        raise TargetNotAllowed("The host does not resolve.")
    if not allow_private and not all(is_public_address(address) for address in addresses):
        # Every address, not just the first: a host with one public and one private address is refused.
        raise TargetNotAllowed("The host resolves to a private, loopback, link-local, multicast or reserved address.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


@dataclass(frozen=True)
class Answer:
    """What one request got: the status code (None when none came), or a short error of ours, and its duration."""

    status: int | None
    error: str
    elapsed_s: float

    @property
    def ok(self) -> bool:
        """A 2xx arrived in time (a redirect is not followed, so a 3xx is a failure like any other)."""
        return self.status is not None and 200 <= self.status < 300 and not self.error


class OutboundClient:
    """POSTs to checked targets with bounded time and reading; keeps a connection per target for reuse.

    Args:
        timeout_s: Connect and read timeout, and the deadline for reading the response body.
        max_pools: Connections kept open to this many targets at most (least recently used closed first).
        connections_per_target: Open connections kept per target: one per thread that may post to it at once.
    """

    def __init__(self, *, timeout_s: float, max_pools: int = 64, connections_per_target: int = 16) -> None:
        self.timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        self.timeout_s = timeout_s
        self.max_pools = max_pools
        self.connections_per_target = connections_per_target
        self._lock = threading.Lock()
        self._pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()

    def post(self, target: Target, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST ``body`` to ``target``'s checked address; never raises for what the other side does."""
        started = time.monotonic()
        pool = self._pool(target)
        host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": host_header, "Content-Length": str(len(body))},
                redirect=False,
                retries=False,
                timeout=self.timeout,
                preload_content=False,
                assert_same_host=False,
            )
        except NewConnectionError:  # before its base class, ConnectTimeoutError
            return Answer(None, "connection refused", time.monotonic() - started)
        except (ConnectTimeoutError, ReadTimeoutError):
            return Answer(None, "timeout", time.monotonic() - started)
        except SSLError:
            return Answer(None, "TLS error", time.monotonic() - started)
        except (HTTPError, OSError):
            return Answer(None, "connection error", time.monotonic() - started)
        error = self._read_capped(response, deadline=started + self.timeout_s)
        return Answer(response.status, error, time.monotonic() - started)

    @staticmethod
    def _read_capped(response: urllib3.BaseHTTPResponse, *, deadline: float) -> str:
        """Read at most ``RESPONSE_BODY_CAP`` bytes before ``deadline``; keep the connection only if the body ended."""
        read, ended, error = 0, False, ""
        try:
            while read <= RESPONSE_BODY_CAP and time.monotonic() < deadline:
                chunk = response.read(16 * 1024)
                if not chunk:
                    ended = True
                    break
                read += len(chunk)
            else:
                error = "" if read > RESPONSE_BODY_CAP else "timeout"  # a long body is not the receiver's failure
        except (HTTPError, OSError):
            error = "timeout"
        if not ended:
            response.close()  # unread bytes would be taken for the next response on a reused connection
        response.release_conn()
        return error

    def _pool(self, target: Target) -> urllib3.HTTPConnectionPool:
        with self._lock:  # a worker's threads share the client (urllib3's pools themselves are thread-safe)
            return self._pool_unlocked(target)

    def _pool_unlocked(self, target: Target) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, target.address, target.port, target.host)
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                target.address,
                target.port,
                maxsize=self.connections_per_target,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=self.connections_per_target)
        self._pools[key] = pool
        if len(self._pools) > self.max_pools:
            _, oldest = self._pools.popitem(last=False)
            oldest.close()
        return pool
