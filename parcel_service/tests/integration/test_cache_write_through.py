"""``set_many_if_newer`` (one or a batch) and ``get_many_then_add``: what both cache backends offer beyond Django's."""

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


def assert_each_group_of_a_batch_is_written_only_if_newer(backend):
    (v1, a1, b1), (v2, a2, _), (v3, a3, _) = _keys(), _keys(), _keys()
    backend.set(v2, 5, 60)  # a newer version is already there
    written = backend.set_many_if_newer_batch(
        [(v1, 2, {a1: b"a", b1: ("b", 2)}), (v2, 4, {a2: b"stale"}), (v3, 1, {a3: b"c"})], 60
    )
    assert written == 2
    assert backend.get_many([v1, a1, b1, v2, a2, v3, a3]) == {v1: 2, a1: b"a", b1: ("b", 2), v2: 5, v3: 1, a3: b"c"}
    assert backend.set_many_if_newer_batch([], 60) == 0


@pytest.mark.cache
def test_the_configured_cache_writes_each_group_of_a_batch_only_if_newer():
    assert_each_group_of_a_batch_is_written_only_if_newer(cache)


def test_local_memory_writes_each_group_of_a_batch_only_if_newer():
    assert_each_group_of_a_batch_is_written_only_if_newer(LocalMemoryCache(f"write-through-{uuid.uuid4()}", {}))


def assert_reads_adds_a_marker_once_and_counts(backend):
    present, absent, marker = _keys()
    counter = f"count-{uuid.uuid4().hex}"
    backend.set(present, ("value", 1), 60)
    first = backend.get_many_add_count([present, absent], marker, 60, counter, 30)
    assert first[:2] == ([("value", 1), None], True)
    assert first[2][0] == 1 and 28 < first[2][1] <= 30
    second = backend.get_many_add_count([absent], marker, 60, counter, 30)
    assert second[:2] == ([None], False)  # the marker is already there
    assert second[2][0] == 2
    assert backend.get_many_add_count([absent], marker, 60) == ([None], False, None)  # nothing counted
    assert backend.get(marker) == 1


@pytest.mark.cache
def test_the_configured_cache_reads_adds_a_marker_and_counts_in_one_call():
    assert_reads_adds_a_marker_once_and_counts(cache)


def test_local_memory_reads_adds_a_marker_and_counts_in_one_call():
    assert_reads_adds_a_marker_once_and_counts(LocalMemoryCache(f"marker-{uuid.uuid4()}", {}))


@pytest.mark.redis
def test_redis_marker_expires():
    present, _, marker = _keys()
    cache.get_many_add_count([present], marker, 30)
    assert 28 < cache.ttl(marker) <= 30


def test_batch_write_and_marker_read_fail_quietly_while_redis_is_down(dead_redis):
    assert dead_redis.set_many_if_newer_batch([("v", 1, {"k": b"doc"})], 60) == 0
    assert dead_redis.get_many_add_count(["k"], "m", 60, "c", 60) is None
