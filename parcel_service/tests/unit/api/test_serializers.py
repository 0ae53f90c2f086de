"""Output serializers: the hand-written fast rendering equals DRF's generic rendering of the declared fields."""

from datetime import UTC, date, datetime, timedelta
from datetime import timezone as fixed_offset

import pytest
from django.utils import timezone
from rest_framework import serializers

from parcel_service.api.serializers import ParcelSerializer, TrackingEventSerializer
from parcel_service.models import TrackingEvent
from parcel_service.tests.factories import ParcelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"length_mm": 10, "width_mm": 20, "height_mm": 30, "estimated_delivery": date(2026, 12, 24)},
        {"created_at": timezone.now().replace(microsecond=0) - timedelta(days=3), "reference": "<b>x</b>"},
    ],
)
def test_fast_rendering_equals_drf_generic_rendering(overrides):
    parcel = ParcelFactory(**overrides)
    parcel.refresh_from_db()  # as the API reads it back from the database
    serializer = ParcelSerializer(parcel)
    generic = serializers.Serializer.to_representation(serializer, parcel)
    assert serializer.data == generic
    assert list(serializer.data) == list(generic)  # same key order too


@pytest.mark.parametrize(
    "occurred_at",
    [
        datetime(2026, 1, 2, 10, 0, tzinfo=fixed_offset(timedelta(hours=2))),  # as posted, before a database read
        datetime(2026, 1, 2, 8, 0, 0, 123456, tzinfo=UTC),
    ],
)
def test_fast_event_rendering_equals_drf_generic_rendering(occurred_at):
    event = TrackingEvent(
        parcel=ParcelFactory(),
        status="in_transit",
        location="Hub <A>",
        occurred_at=occurred_at,
        recorded_at=occurred_at,
    )
    serializer = TrackingEventSerializer(event)
    generic = serializers.Serializer.to_representation(serializer, event)
    assert serializer.data == generic
    assert list(serializer.data) == list(generic)
