"""A Redis cache backend that degrades gracefully.

django-redis with ``IGNORE_EXCEPTIONS`` already turns a Redis error into a cache miss, but every
operation still waits for its own socket timeout and — if logging is on — writes a traceback per
operation. With Redis hung that is several timeouts per request. ``ResilientRedisCache`` adds a
small per-process circuit breaker: the first connection failure opens it for ``CACHE_RETRY_AFTER_S``
seconds, during which every operation fails fast (a miss), and one warning line is logged per
outage rather than per request.

Both backends here also offer ``set_many_if_newer`` (and ``set_many_if_newer_batch``, many of them in one
round trip): a write-through that a slower writer of an older version cannot overwrite (atomic in Redis with
one Lua script; under a lock in local memory); and ``get_many_add_count``: reads, a marker and a throttle count
in one round trip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..metrics import CACHE_BREAKER_OPEN

logger = logging.getLogger(__name__)

_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)
T = TypeVar("T")

# ARGV[1] is the expiry (ms); then one group after another. A group is KEYS: the key holding the version its
# entries describe, then the entries' keys; ARGV: the version, the number of entries n, then the n values.
# A group is written only if its version is newer than the stored one (a missing or expired version counts
# as older than any). Returns how many groups were written.
_SET_MANY_IF_NEWER_LUA = """
local ttl, k, a, written = ARGV[1], 1, 2, 0
while k <= #KEYS do
  local version, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local stored = tonumber(redis.call('GET', KEYS[k]))
  if not stored or stored < version then
    redis.call('SET', KEYS[k], ARGV[a], 'PX', ttl)
    for i = 1, n do redis.call('SET', KEYS[k + i], ARGV[a + 1 + i], 'PX', ttl) end
    written = written + 1
  end
  k, a = k + n + 1, a + n + 2
end
return written
"""

# One cache write-through: the key holding the version, the version, and the entries that describe it.
VersionedWrite = tuple[str, int, Mapping[str, Any]]


class VersionGuardedCache(Protocol):
    """What the document cache and the API-key records need of a backend: both backends here provide it."""

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        """Django's ``cache.get``."""

    def add(self, key: str, value: Any, timeout: Any = ..., version: int | None = None) -> bool:
        """Django's ``cache.add``."""

    def delete(self, key: str, version: int | None = None) -> bool:
        """Django's ``cache.delete``."""

    def set(self, key: str, value: Any, timeout: Any = ..., version: int | None = None) -> Any:
        """Django's ``cache.set``."""

    def delete_many(self, keys: Any, version: int | None = None) -> Any:
        """Django's ``cache.delete_many``."""

    def decr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        """Django's ``cache.decr``."""

    def set_many_if_newer(self, version_key: str, version: int, data: Mapping[str, Any], timeout_s: int) -> bool:
        """Write ``data`` unless a version at least as new is stored."""

    def set_many_if_newer_batch(self, writes: Sequence[VersionedWrite], timeout_s: int) -> int:
        """``set_many_if_newer`` for many groups in one round trip."""

    def get_many_add_count(
        self, keys: Sequence[str], add_key: str, add_timeout_s: int, count_key: str | None = None, window_s: int = 0
    ) -> tuple[list[Any], bool, tuple[int, float] | None] | None:
        """Read ``keys``, ``add`` a marker and count a hit, in one round trip."""


class CircuitOpen(RedisConnectionError):
    """Raised instead of talking to Redis while the breaker is open."""


class CircuitBreaker:
    """Remembers a Redis outage for a short while so requests stop paying its timeout."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        self.open_until = 0.0

    @property
    def is_open(self) -> bool:
        """True while Redis is considered down."""
        return time.monotonic() < self.open_until

    def trip(self, error: BaseException) -> None:
        """Open the breaker; log one warning when a new outage starts."""
        was_closed = self.open_until == 0.0
        self.open_until = time.monotonic() + self.retry_after_s
        if was_closed:
            CACHE_BREAKER_OPEN.set(1)
            logger.warning("cache unavailable, serving without it: %s", type(error).__name__)

    def reset(self) -> None:
        """Close the breaker after a successful operation; log the recovery once."""
        if self.open_until:
            self.open_until = 0.0
            CACHE_BREAKER_OPEN.set(0)
            logger.warning("cache available again")


class _GuardedClient:
    """Wraps django-redis's client: every call goes through the breaker."""

    def __init__(self, client: Any, breaker: CircuitBreaker) -> None:
        self._client = client
        self._breaker = breaker

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        breaker = self._breaker

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if breaker.is_open:
                try:
                    raise CircuitOpen("circuit open")
                except CircuitOpen as error:
                    raise ConnectionInterrupted(connection=None) from error
            try:
                result = attribute(*args, **kwargs)
            except ConnectionInterrupted as error:
                if isinstance(error.__cause__, _OUTAGE_ERRORS):
                    breaker.trip(error.__cause__)
                raise
            if breaker.open_until:
                breaker.reset()
            return result

        return guarded


class ResilientRedisCache(RedisCache):
    """django-redis ``RedisCache`` whose operations fail fast while Redis is known to be down."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.breaker = CircuitBreaker(getattr(settings, "CACHE_RETRY_AFTER_S", 5.0))
        self._guarded: _GuardedClient | None = None
        self._set_many_if_newer: Any = None

    @property
    def client(self) -> Any:
        """The django-redis client behind the circuit breaker."""
        if self._guarded is None:
            self._guarded = _GuardedClient(super().client, self.breaker)
        return self._guarded

    def _direct(self, operation: Callable[[Any, Any], T], *, failed: T, through_breaker: bool = True) -> T:
        """Run ``operation(django_redis_client, redis_connection)`` on Redis itself, under the breaker.

        For what django-redis has no call for (a pipeline, a script, a ping). A Redis or socket error
        opens the breaker and returns ``failed``; a success closes it. With ``through_breaker`` off, Redis
        is asked even while the breaker is open.
        """
        if through_breaker and self.breaker.is_open:
            return failed
        client = RedisCache.client.fget(self)
        try:
            result = operation(client, client.get_client(write=True))
        except (RedisError, OSError) as error:
            self.breaker.trip(error)
            return failed
        if self.breaker.open_until:
            self.breaker.reset()
        return result

    def count_in_window(
        self, key: str, window_s: int, prefetch_key: str | None = None
    ) -> tuple[int, float, Any] | None:
        """Atomically count a hit in a window that the first hit opens (for the throttles).

        One pipelined round trip: ``SET key 0 EX window NX`` opens the window if there is none,
        ``INCR`` counts, ``PTTL`` says how long the window has left; with ``prefetch_key``, a ``GET`` of
        that entry rides along, so a view whose answer is cached costs one round trip in all.

        Args:
            key: Cache key (the backend's prefix and version are applied).
            window_s: Window length in seconds.
            prefetch_key: A cache entry to read in the same round trip, or None.

        Returns:
            ``(count, seconds left, prefetched value or None)``, or None while Redis is unavailable.
        """
        full_key = self.make_and_validate_key(key)

        def count(client: Any, redis: Any) -> tuple[int, float, Any]:
            pipe = redis.pipeline(transaction=False)
            pipe.set(full_key, 0, ex=window_s, nx=True)
            pipe.incr(full_key)
            pipe.pttl(full_key)
            if prefetch_key is not None:
                pipe.get(self.make_and_validate_key(prefetch_key))
            _, hits, ttl_ms, *prefetched = pipe.execute()
            value = client.decode(prefetched[0]) if prefetched and prefetched[0] is not None else None
            return int(hits), max(ttl_ms, 0) / 1000, value

        return self._direct(count, failed=None)

    def set_many_if_newer(self, version_key: str, version: int, data: Mapping[str, Any], timeout_s: int) -> bool:
        """Write ``data`` and ``version`` unless the cache already holds a version at least as new.

        One round trip (``EVALSHA``), atomic in Redis: two writers that finish out of order cannot leave
        the older one's entries behind.

        Args:
            version_key: Cache key holding the version the entries describe.
            version: The version of ``data``.
            data: Cache keys and values to write.
            timeout_s: Expiry of the version and of every entry.

        Returns:
            True if written; False if a newer version was already there or Redis is unavailable.
        """
        return self.set_many_if_newer_batch([(version_key, version, data)], timeout_s) == 1

    def set_many_if_newer_batch(self, writes: Sequence[VersionedWrite], timeout_s: int) -> int:
        """``set_many_if_newer`` for many versioned groups in one round trip (one script call).

        Args:
            writes: ``(version_key, version, data)`` per group; each group is written or skipped on its own.
            timeout_s: Expiry of every version and entry.

        Returns:
            How many groups were written (0 while Redis is unavailable).
        """
        if not writes:
            return 0

        def write(client: Any, redis: Any) -> int:
            if self._set_many_if_newer is None:
                self._set_many_if_newer = redis.register_script(_SET_MANY_IF_NEWER_LUA)
            keys: list[str] = []
            args: list[Any] = [timeout_s * 1000]
            # make_key, not make_and_validate_key: these are the documents' own keys, and checking each
            # character of thousands of them in Python costs more than the round trip.
            for version_key, version, data in writes:
                keys += [self.make_key(version_key), *(self.make_key(k) for k in data)]
                args += [version, len(data), *(client.encode(value) for value in data.values())]
            return int(self._set_many_if_newer(keys=keys, args=args, client=redis))

        return self._direct(write, failed=0)

    def get_many_add_count(
        self, keys: Sequence[str], add_key: str, add_timeout_s: int, count_key: str | None = None, window_s: int = 0
    ) -> tuple[list[Any], bool, tuple[int, float] | None] | None:
        """Read ``keys``, ``add`` a marker and count a hit, in one pipelined round trip.

        Args:
            keys: Cache keys to read.
            add_key: A marker to set (to ``1``) only if it is absent, expiring after ``add_timeout_s``.
            add_timeout_s: The marker's expiry.
            count_key: A counter to count one hit on in a window its first hit opens (as ``count_in_window``),
                or None.
            window_s: That window's length in seconds.

        Returns:
            ``(the values of keys, None where missing; whether the marker was added; (count, seconds left in
            the window) or None)``, or None while Redis is unavailable.
        """
        full_keys = [self.make_and_validate_key(key) for key in keys]
        full_add_key = self.make_and_validate_key(add_key)
        full_count_key = None if count_key is None else self.make_and_validate_key(count_key)

        def read(client: Any, redis: Any) -> tuple[list[Any], bool, tuple[int, float] | None]:
            pipe = redis.pipeline(transaction=False)
            for key in full_keys:
                pipe.get(key)
            pipe.set(full_add_key, 1, ex=add_timeout_s, nx=True)
            if full_count_key is not None:
                pipe.set(full_count_key, 0, ex=window_s, nx=True)
                pipe.incr(full_count_key)
                pipe.pttl(full_count_key)
            replies = pipe.execute()
            values = [None if value is None else client.decode(value) for value in replies[: len(keys)]]
            counted = None
            if full_count_key is not None:
                _, hits, ttl_ms = replies[-3:]
                counted = int(hits), max(ttl_ms, 0) / 1000
            return values, bool(replies[len(keys)]), counted

        return self._direct(read, failed=None)

    def ping(self) -> bool:
        """Ask Redis itself, bypassing the breaker (readiness must report the truth, not a cached verdict).

        Returns:
            True if Redis answered. A failure also opens the breaker; a success closes it.
        """
        return self._direct(lambda _client, redis: bool(redis.ping()), failed=False, through_breaker=False)


class LocalMemoryCache(LocMemCache):
    """Django's per-process local-memory cache, plus ``set_many_if_newer`` (the default without Redis)."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        # LocMemCache's own lock is not re-entrant and its methods take it: a separate one orders writers.
        self._write_lock = threading.Lock()

    def set_many_if_newer(self, version_key: str, version: int, data: Mapping[str, Any], timeout_s: int) -> bool:
        """``ResilientRedisCache.set_many_if_newer`` for one process: writers take turns under a lock."""
        return self.set_many_if_newer_batch([(version_key, version, data)], timeout_s) == 1

    def set_many_if_newer_batch(self, writes: Sequence[VersionedWrite], timeout_s: int) -> int:
        """``ResilientRedisCache.set_many_if_newer_batch`` for one process."""
        written = 0
        with self._write_lock:
            for version_key, version, data in writes:
                stored = self.get(version_key)
                if stored is None or stored < version:
                    self.set_many({version_key: version, **data}, timeout_s)
                    written += 1
        return written

    def get_many_add_count(
        self, keys: Sequence[str], add_key: str, add_timeout_s: int, count_key: str | None = None, window_s: int = 0
    ) -> tuple[list[Any], bool, tuple[int, float] | None]:
        """``ResilientRedisCache.get_many_add_count`` for one process."""
        counted = None
        if count_key is not None:
            self.add(count_key, 0, window_s)
            try:
                counted = self.incr(count_key), float(window_s)
            except ValueError:  # the window closed between add() and incr(): this hit opens a new one
                self.set(count_key, 1, window_s)
                counted = 1, float(window_s)
        return [self.get(key) for key in keys], self.add(add_key, 1, add_timeout_s), counted
