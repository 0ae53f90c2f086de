"""``set_many_if_newer``: the versioned write-through both cache backends offer."""

import logging
import uuid

import pytest
from django.core.cache import cache

from parcel_service.http.cache import LocalMemoryCache


def _keys():
    suffix = uuid.uuid4().hex
    return f"version-{suffix}", f"a-{suffix}", f"b-{suffix}"


def assert_only_newer_versions_are_written(backend):
    version_key, a, b = _keys()
    assert backend.set_many_if_newer(version_key, 2, {a: b"a2", b: ("b", 2)}, 60) is True
    assert backend.set_many_if_newer(version_key, 1, {a: b"a1", b: ("b", 1)}, 60) is False  # late and older
    assert backend.set_many_if_newer(version_key, 2, {a: b"again", b: ("b", 2)}, 60) is False  # same version
    assert backend.get_many([version_key, a, b]) == {version_key: 2, a: b"a2", b: ("b", 2)}
    assert backend.set_many_if_newer(version_key, 3, {a: b"a3"}, 60) is True
    assert backend.get_many([version_key, a, b]) == {version_key: 3, a: b"a3", b: ("b", 2)}


@pytest.mark.cache
def test_the_configured_cache_writes_only_newer_versions():
    assert_only_newer_versions_are_written(cache)


def test_local_memory_writes_only_newer_versions():
    assert_only_newer_versions_are_written(LocalMemoryCache(f"write-through-{uuid.uuid4()}", {}))


@pytest.mark.redis
def test_redis_write_through_sets_the_expiry_and_survives_a_script_flush():
    version_key, a, _ = _keys()
    assert cache.set_many_if_newer(version_key, 1, {a: b"doc"}, 30) is True
    assert 28 < cache.ttl(a) <= 30 and 28 < cache.ttl(version_key) <= 30
    cache.client.get_client(write=True).script_flush()  # e.g. Redis restarted: the script is loaded again
    assert cache.set_many_if_newer(version_key, 2, {a: b"doc2"}, 30) is True
    assert cache.get(a) == b"doc2"


@pytest.mark.redis
def test_an_expired_version_counts_as_older_than_any():
    version_key, a, _ = _keys()
    cache.set(version_key, 7, 60)
    cache.delete(version_key)
    assert cache.set_many_if_newer(version_key, 1, {a: b"doc"}, 60) is True


def test_write_through_fails_quietly_and_fast_while_redis_is_down(dead_redis, caplog):
    caplog.set_level(logging.WARNING, logger="parcel_service.http.cache")
    assert dead_redis.set_many_if_newer("v", 1, {"k": b"doc"}, 60) is False
    assert dead_redis.breaker.is_open
    assert dead_redis.set_many_if_newer("v", 2, {"k": b"doc"}, 60) is False  # breaker open: no I/O
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
