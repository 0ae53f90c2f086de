"""DocumentCache: read-through tracking documents, and the write-through after a workflow change commits."""

import pytest

from parcel_service.api.documents import tracking_cache_key
from parcel_service.models import Parcel
from parcel_service.tests.factories import ParcelFactory
from parcel_service.tests.unit.domain.test_parcels import make_service

pytestmark = pytest.mark.django_db(transaction=True)


def test_writes_refresh_the_cached_tracking_document_after_commit():
    service = make_service()
    parcel = ParcelFactory()
    assert b'"pending"' in service.observer.track(tracking_number=parcel.tracking_number)
    service.record_event(parcel_id=parcel.pk, visible=Parcel.objects.all(), actor=None, data={"status": "in_transit"})
    cached = service.observer.cache.get(tracking_cache_key(parcel.tracking_number))
    assert b'"in_transit"' in cached
    assert service.observer.track(tracking_number=parcel.tracking_number) == cached


def test_track_unknown_number_is_none_and_not_cached():
    service = make_service()
    assert service.observer.track(tracking_number="RR473124829GB") is None
    assert service.observer.cache.get(tracking_cache_key("RR473124829GB")) is None
