"""Output serializers: the hand-written fast rendering equals DRF's generic rendering of the declared fields."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from parcel_service.serializers import ParcelSerializer
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
