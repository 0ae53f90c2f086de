"""Where views get the configured workflows and document cache: one small factory each, built once per process."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from ..domain.api_keys import ApiKeyService
from ..domain.parcels import ParcelService
from ..domain.tracking_numbers import TrackingNumberGenerator
from ..http.api_keys import ApiKeyRecords
from .documents import DocumentCache


@lru_cache(maxsize=1)
def get_documents() -> DocumentCache:
    """The document cache on the default cache backend."""
    return DocumentCache(cache=caches["default"])


@lru_cache(maxsize=1)
def get_parcel_service() -> ParcelService:
    """The configured service: the wall clock, the S10 generator from settings, the document cache's write-through."""
    return ParcelService(
        clock=timezone.now,
        tracking_numbers=TrackingNumberGenerator(settings.TRACKING_NUMBER_PREFIX, settings.TRACKING_NUMBER_COUNTRY),
        observer=get_documents(),
    )


def get_api_key_service() -> ApiKeyService:
    """The API-key workflow: the wall clock, and the authentication's key records in the default cache."""
    return ApiKeyService(clock=timezone.now, observer=ApiKeyRecords(cache=caches["default"]))
