"""Helpers shared by fixtures and tests that build their own clients (e.g. in threads) or API keys."""

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


def client_for(user) -> APIClient:
    """An APIClient sending a fresh access token for ``user``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def api_key_client(key: str) -> APIClient:
    """An APIClient sending ``key`` as ``Authorization: Api-Key <key>``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def issue_api_key(user, *scopes: str, name: str = "integration") -> tuple[object, str]:
    """A new API key of ``user`` with ``scopes`` (default: all), issued as the API issues it: ``(ApiKey, key)``."""
    from parcel_service.api.services import get_api_key_service
    from parcel_service.models import ApiKeyScope

    return get_api_key_service().create(user=user, name=name, scopes=scopes or ApiKeyScope.values)
