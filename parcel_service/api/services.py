"""Where views get the workflows, the document cache and the label printer: one small factory each, built once."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from ..domain.api_keys import ApiKeyService
from ..domain.outbox import Outbox
from ..domain.parcels import ParcelService
from ..domain.tracking_numbers import TrackingNumberGenerator
from ..domain.webhooks import WebhookService
from ..http.api_keys import ApiKeyRecords
from ..http.cache import VersionGuardedCache
from ..webhooks.queue import queue_claims, queue_new
from .documents import DocumentCache
from .labels import LabelPrinter


@lru_cache(maxsize=1)
def get_documents() -> DocumentCache:
    """The document cache on the default cache backend."""
    # Settings configure one of http.cache's two backends, both version-guarded.
    return DocumentCache(cache=cast(VersionGuardedCache, caches["default"]))


@lru_cache(maxsize=1)
def get_labels() -> LabelPrinter:
    """The label printer: labels cached on the default cache backend, fonts from ``LABEL_FONT_DIRS``."""
    return LabelPrinter(cache=caches["default"], font_dirs=settings.LABEL_FONT_DIRS)


@lru_cache(maxsize=1)
def get_parcel_service() -> ParcelService:
    """The configured service.

    The wall clock, the S10 generator from settings, the document cache's write-through, and the webhook outbox
    queuing deliveries on the Celery broker.
    """
    return ParcelService(
        clock=timezone.now,
        tracking_numbers=TrackingNumberGenerator(settings.TRACKING_NUMBER_PREFIX, settings.TRACKING_NUMBER_COUNTRY),
        observer=get_documents(),
        outbox=Outbox(notify=queue_new),
    )


def get_webhook_service() -> WebhookService:
    """Webhook endpoint management: the wall clock, deliveries queued on the Celery broker."""
    return WebhookService(clock=timezone.now, queue=queue_claims)


def get_api_key_service() -> ApiKeyService:
    """The API-key workflow: the wall clock, and the authentication's key records in the default cache."""
    return ApiKeyService(clock=timezone.now, observer=ApiKeyRecords(cache=cast(VersionGuardedCache, caches["default"])))
