"""The Redis circuit breaker: one failure opens it, operations then fail fast, success closes it."""

import logging

import pytest
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from parcel_service.http.cache import CircuitBreaker, _GuardedClient


class FlakyClient:
    def __init__(self):
        self.calls = 0
        self.fail_with = None
        self.options = {"x": 1}

    def get(self, key, default=None, **kwargs):
        self.calls += 1
        if self.fail_with is not None:
            try:
                raise self.fail_with
            except Exception as error:
                raise ConnectionInterrupted(connection=None) from error
        return "value"


def test_outage_opens_the_breaker_and_later_calls_skip_redis(caplog):
    caplog.set_level(logging.WARNING, logger="parcel_service.http.cache")
    inner, breaker = FlakyClient(), CircuitBreaker(retry_after_s=60)
    client = _GuardedClient(inner, breaker)
    inner.fail_with = RedisConnectionError("refused")
    for _ in range(5):
        with pytest.raises(ConnectionInterrupted):
            client.get("k")
    assert inner.calls == 1  # only the first call reached Redis
    assert breaker.is_open
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def test_breaker_closes_after_the_retry_window_and_logs_recovery(caplog):
    caplog.set_level(logging.WARNING, logger="parcel_service.http.cache")
    inner, breaker = FlakyClient(), CircuitBreaker(retry_after_s=0)
    client = _GuardedClient(inner, breaker)
    inner.fail_with = RedisConnectionError("refused")
    with pytest.raises(ConnectionInterrupted):
        client.get("k")
    inner.fail_with = None
    assert client.get("k") == "value"
    assert breaker.open_until == 0.0
    assert any("available again" in r.getMessage() for r in caplog.records)


def test_a_redis_command_error_does_not_open_the_breaker():
    inner, breaker = FlakyClient(), CircuitBreaker(retry_after_s=60)
    inner.fail_with = ResponseError("WRONGTYPE")
    with pytest.raises(ConnectionInterrupted):
        _GuardedClient(inner, breaker).get("k")
    assert not breaker.is_open


def test_non_callable_attributes_pass_through():
    assert _GuardedClient(FlakyClient(), CircuitBreaker(1)).options == {"x": 1}
