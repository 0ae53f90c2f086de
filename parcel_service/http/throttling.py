"""Rate limits with O(1) cost per request.

DRF's stock throttles keep, per client, the list of every request time in the window, and read and
rewrite that whole list (pickled) on every request: at 1000/min that is a thousand floats through the
cache twice per call. These throttles keep one counter per client instead: the window starts at the
client's first request, ``SET key 0 EX window NX`` + ``INCR`` count within it (one Redis round trip,
atomic across workers and pods), and the key's remaining TTL is the ``Retry-After``.

With the cache unavailable the counter cannot be read: the request is allowed (fail open) and the
cache logs one warning for the outage.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.cache import cache as default_cache
from django.http import HttpRequest
from rest_framework import throttling
from rest_framework.request import Request

from ..metrics import THROTTLED_REQUESTS
from .credentials import ApiKeyCredentials, api_key_prefix


def client_ip(request: HttpRequest | Request) -> str | None:
    """The client's address as the throttles take it: ``NUM_PROXIES`` decides which ``X-Forwarded-For`` entry counts.

    django-axes keys its login lockouts on it (``AXES_CLIENT_IP_CALLABLE``). axes stores it in an address
    column, so a value that is no address (a misconfigured proxy) counts as the connection's own address.
    """
    # get_ident reads only META and headers, which the admin's plain Django request has too.
    ident = throttling.BaseThrottle().get_ident(request)  # type: ignore[arg-type]  # a Django request serves
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


def count_request(key: str, window_s: int, prefetch_key: str | None = None) -> tuple[int, float, Any] | None:
    """Count one request against ``key`` in a window of ``window_s`` seconds opened by the first request.

    Args:
        key: The client's throttle key.
        window_s: Window length in seconds.
        prefetch_key: A cache entry to read along with the count (one Redis round trip for both), or None.

    Returns:
        ``(requests so far in the window, seconds until it closes, prefetched value or None)``, or None
        if the cache is unavailable.
    """
    counter = getattr(default_cache, "count_in_window", None)
    if counter is not None:  # Redis: one atomic round trip
        return counter(key, window_s, prefetch_key)
    # Local memory (dev, tests): add() opens the window, incr() counts; both are atomic in one process.
    prefetched = default_cache.get(prefetch_key) if prefetch_key is not None else None
    default_cache.add(key, 0, window_s)
    try:
        return default_cache.incr(key), float(window_s), prefetched
    except ValueError:  # the window closed between add() and incr(): this request opens a new one
        default_cache.set(key, 1, window_s)
        return 1, float(window_s), prefetched


class CounterThrottleMixin:
    """Replaces DRF's sliding-log ``allow_request`` with a counter per client and window.

    A view may define ``throttle_prefetch_key(request) -> str | None``: that cache entry is then read in
    the same round trip as the count and left on the request as ``request.throttle_prefetched``.
    """

    rate: str | None
    num_requests: int
    duration: int
    key: str | None

    def allow_request(self, request: Request, view: Any) -> bool:
        """Count the request; refuse it once the client is over its rate."""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)  # type: ignore[attr-defined]  # on the DRF throttle it mixes into
        if self.key is None:
            return True
        prefetch = getattr(view, "throttle_prefetch_key", None)
        prefetch_key = prefetch(request) if prefetch else None
        counted = count_request(self.key, self.duration, prefetch_key)
        if counted is None:
            return True
        count, self._remaining, prefetched = counted
        if prefetch_key is not None:
            request.throttle_prefetched = prefetched  # type: ignore[attr-defined]  # None: looked, found nothing
        if count <= self.num_requests:
            return True
        THROTTLED_REQUESTS.labels(self.scope).inc()  # type: ignore[attr-defined]  # scope: on the DRF throttle
        return False

    def wait(self) -> float | None:
        """Seconds until the client's window closes (the ``Retry-After``)."""
        return max(1.0, getattr(self, "_remaining", float(self.duration)))


class AnonRateThrottle(CounterThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous clients, per IP (``NUM_PROXIES`` decides which ``X-Forwarded-For`` entry): scope ``anon``."""


class UserRateThrottle(CounterThrottleMixin, throttling.UserRateThrottle):
    """Authenticated users, per user id (anonymous ones per IP): scope ``user``. API keys have their own."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        """Per user, unless an API key authenticated the request (``ApiKeyRateThrottle`` counts it)."""
        if api_key_prefix(request) is not None:
            return None
        return super().get_cache_key(request, view)


class ScopedRateThrottle(CounterThrottleMixin, throttling.ScopedRateThrottle):
    """Per view scope (the token endpoints use ``auth``), per user or IP."""

    def allow_request(self, request: Request, view: Any) -> bool:
        """Take the rate from the view's ``throttle_scope`` (as DRF does), then count."""
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        num_requests, duration = self.parse_rate(self.rate)
        if num_requests is None or duration is None:  # no rate for the scope: not throttled, as in DRF
            return True
        self.num_requests, self.duration = num_requests, duration
        return super().allow_request(request, view)


class ApiKeyRateThrottle(CounterThrottleMixin, throttling.SimpleRateThrottle):
    """Requests authenticated by an API key, per key (its prefix): scope ``api_key`` (``THROTTLE_API_KEY``).

    The API-key authentication counts the request in its own Redis round trip (``counter``); this throttle
    then only compares. Other requests are not counted here.
    """

    scope = "api_key"

    @classmethod
    def counter(cls, prefix: str) -> tuple[str, int, int] | None:
        """``(cache key, window seconds, limit)`` of the key with ``prefix``, or None when no rate is set."""
        throttle = cls()
        if throttle.rate is None:
            return None
        return throttle.cache_format % {"scope": cls.scope, "ident": prefix}, throttle.duration, throttle.num_requests

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        """The key's prefix; None (not counted here) for every other request."""
        prefix = api_key_prefix(request)
        if prefix is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": prefix}

    def allow_request(self, request: Request, view: Any) -> bool:
        """Compare the count the authentication took; count here only if it took none."""
        auth = getattr(request, "auth", None)
        if self.rate is None or not isinstance(auth, ApiKeyCredentials) or auth.throttle_count is None:
            return super().allow_request(request, view)
        count, self._remaining = auth.throttle_count
        return count <= self.num_requests
