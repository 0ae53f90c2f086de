"""What a request authenticated by an API key carries as ``request.auth``: which key, what it may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiKeyCredentials:
    """``request.auth`` of a request authenticated by an API key.

    Attributes:
        key_id: The key's id.
        prefix: The key's first 8 characters: how logs and traces name it (never the key).
        scopes: What the key may do.
        throttle_count: The key's request count in its throttle window and the seconds left in it, taken in the
            authentication's round trip (``ApiKeyRateThrottle`` then needs none of its own); None if not taken.
    """

    key_id: str
    prefix: str
    scopes: frozenset[str]
    throttle_count: tuple[int, float] | None = None

    def allows(self, scope: str) -> bool:
        """Whether the key was given ``scope``."""
        return scope in self.scopes


def api_key_prefix(request: Any) -> str | None:
    """The prefix of the API key that authenticated ``request`` (Django's or DRF's, once authenticated), if one did."""
    auth = getattr(request, "auth", None)
    return auth.prefix if isinstance(auth, ApiKeyCredentials) else None
