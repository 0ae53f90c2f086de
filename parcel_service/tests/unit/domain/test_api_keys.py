"""ApiKeyService with a fixed clock and a recording observer."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError

from parcel_service.domain.api_keys import ApiKeyService
from parcel_service.models import ApiKey
from parcel_service.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FIXED_NOW = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)


class RecordingObserver:
    def __init__(self):
        self.changed = []

    def api_key_changed(self, api_key):
        self.changed.append((api_key.prefix, api_key.revoked))


def make_service():
    return ApiKeyService(clock=lambda: FIXED_NOW, observer=RecordingObserver())


def scripted_prefixes(monkeypatch, *prefixes):
    generator = ApiKey.objects.key_generator
    remaining = list(prefixes)
    monkeypatch.setattr(generator, "get_prefix", lambda: remaining.pop(0))


def test_create_stores_only_a_hash_and_tells_the_observer():
    service = make_service()
    api_key, key = service.create(user=UserFactory(), name="Scanner", scopes=["events:write", "events:write"])
    assert key.startswith(api_key.prefix + ".") and len(key) == 41
    assert api_key.hashed_key == ApiKey.objects.key_generator.hash(key) != key
    assert (api_key.scopes, api_key.created_at) == (["events:write"], FIXED_NOW)
    assert service.observer.changed == [(api_key.prefix, False)]


def test_create_retries_on_a_prefix_collision(monkeypatch):
    service = make_service()
    scripted_prefixes(monkeypatch, "AAAAAAAA", "AAAAAAAA", "BBBBBBBB")
    first, _ = service.create(user=UserFactory(), name="one", scopes=["parcels:read"])
    second, key = service.create(user=UserFactory(), name="two", scopes=["parcels:read"])
    assert (first.prefix, second.prefix, key[:8]) == ("AAAAAAAA", "BBBBBBBB", "BBBBBBBB")


def test_create_gives_up_after_repeated_collisions(monkeypatch):
    service = make_service()
    scripted_prefixes(monkeypatch, *["AAAAAAAA"] * 4)
    service.create(user=UserFactory(), name="one", scopes=["parcels:read"])
    with pytest.raises(IntegrityError):
        service.create(user=UserFactory(), name="two", scopes=["parcels:read"])


def test_revoke_is_for_good_and_keeps_the_first_revocation_time():
    service = make_service()
    api_key, _ = service.create(user=UserFactory(), name="Scanner", scopes=["parcels:read"])
    revoked = service.revoke(api_key=api_key)
    assert (revoked.revoked, revoked.revoked_at) == (True, FIXED_NOW)
    service.clock = lambda: datetime(2027, 1, 1, tzinfo=UTC)
    assert service.revoke(api_key=api_key).revoked_at == FIXED_NOW
    assert service.observer.changed[1:] == [(api_key.prefix, True), (api_key.prefix, True)]
