"""Queuing deliveries never fails the change that queues them."""

from __future__ import annotations

import time

import pytest
import redis

from parcel_service.webhooks.queue import RedisPublisher, queue_claims

DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_a_dead_broker_raises_once_then_the_publisher_keeps_quiet(settings):
    settings.CACHE_RETRY_AFTER_S = 60
    publisher = RedisPublisher(DEAD_REDIS)
    with pytest.raises(redis.RedisError):
        publisher.publish("parcel_service.webhooks.deliver", [[["m", 0]]])
    started = time.monotonic()
    publisher.publish("parcel_service.webhooks.deliver", [[["m", 0]]])  # quiet: no connection attempted
    assert publisher.quiet_until > time.monotonic() > started


def test_queuing_on_the_configured_broker_never_raises(caplog):
    queue_claims([("a-message-id", 0)])  # the test settings' in-memory broker: through send_task
    assert "could not queue" not in caplog.text
