"""Signatures as Standard Webhooks receivers verify them; the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from parcel_service.domain.webhooks import new_secret
from parcel_service.models import WebhookEndpoint
from parcel_service.webhooks.delivery import RETRY_SCHEDULE_S, retry_delay
from parcel_service.webhooks.messages import signed_headers, signing_secrets


def test_secrets_are_whsec_and_24_random_bytes():
    import base64

    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert new_secret() != secret


def test_the_signature_verifies_with_the_reference_library():
    now = datetime.now(UTC)  # the library refuses timestamps more than 5 minutes off
    secret = new_secret()
    body = b'{"type":"parcel.created","data":{"id":"x"}}'
    headers = signed_headers(message_id="msg-1", body=body, secrets_=[secret], now=now)
    assert Webhook(secret).verify(body, headers) == {"type": "parcel.created", "data": {"id": "x"}}
    assert headers["webhook-id"] == "msg-1" and headers["webhook-timestamp"] == str(int(now.timestamp()))
    with pytest.raises(WebhookVerificationError):  # a changed body fails
        Webhook(secret).verify(body.replace(b"x", b"y"), headers)
    with pytest.raises(WebhookVerificationError):  # another secret fails
        Webhook(new_secret()).verify(body, headers)


def test_during_rotation_both_secrets_sign():
    now = datetime.now(UTC)
    old, new = new_secret(), new_secret()
    endpoint = WebhookEndpoint(secret=new, previous_secret=old, previous_secret_expires_at=now + timedelta(hours=1))
    secrets_ = signing_secrets(endpoint, now)
    assert secrets_ == [new, old]
    headers = signed_headers(message_id="m", body=b"{}", secrets_=secrets_, now=now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(b"{}", headers)
    Webhook(new).verify(b"{}", headers)
    assert signing_secrets(endpoint, now + timedelta(hours=2)) == [new]  # the old one expired


def test_retries_follow_the_schedule_with_jitter_then_stop():
    rng = random.Random(7)
    for attempt, base in enumerate(RETRY_SCHEDULE_S, start=1):
        delay = retry_delay(attempt, rng=rng)
        assert delay is not None and base * 0.8 <= delay <= base * 1.2
    assert retry_delay(len(RETRY_SCHEDULE_S) + 1) is None
    assert retry_delay(1, scale=0.01, rng=rng) <= 5 * 0.01 * 1.2
    assert list(RETRY_SCHEDULE_S) == [5, 300, 1800, 7200, 18000, 36000, 36000]  # API.md
