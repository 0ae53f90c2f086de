"""Shared pytest fixtures: users in each role, authenticated API clients, a clean cache per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from rest_framework.test import APIClient

from parcel_service.api.services import get_documents, get_labels, get_parcel_service
from parcel_service.http.authentication import clear_user_cache
from parcel_service.tests.conftest_helpers import client_for
from parcel_service.tests.factories import UserFactory

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests that need a real PostgreSQL or Redis when the run is on SQLite / local memory."""
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    on_redis = bool(settings.REDIS_URL)
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "redis" in item.keywords and not on_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL"))


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    get_parcel_service.cache_clear()
    get_documents.cache_clear()
    get_labels.cache_clear()  # it holds the cache backend, which a test may have replaced
    clear_user_cache()  # ids can be reused between tests once a test's rows are rolled back
    yield
    cache.clear()


@pytest.fixture
def customer(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_customer(db):
    return UserFactory(username="bob")


@pytest.fixture
def carrier(db):
    return UserFactory(username="carl", carrier=True)


@pytest.fixture
def staff(db):
    return UserFactory(username="admin", is_staff=True)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer_client(customer) -> APIClient:
    return client_for(customer)


@pytest.fixture
def other_client(other_customer) -> APIClient:
    return client_for(other_customer)


@pytest.fixture
def carrier_client(carrier) -> APIClient:
    return client_for(carrier)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def dead_redis(settings):
    """The Redis cache backend pointed at a closed port (fast timeouts): Redis is down."""
    settings.REDIS_URL = DEAD_REDIS
    settings.CACHES = {
        "default": {
            "BACKEND": "parcel_service.http.cache.ResilientRedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25, "IGNORE_EXCEPTIONS": True},
        }
    }
    get_parcel_service.cache_clear()
    get_documents.cache_clear()
    yield caches["default"]
    get_parcel_service.cache_clear()
    get_documents.cache_clear()
