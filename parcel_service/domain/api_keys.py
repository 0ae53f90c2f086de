"""API keys for machine clients: issue one for a user (its secret is returned once; only a hash is kept), revoke it.

``ApiKeyService`` tells its observer (the authentication's shared record of each key) of every change inside
the change's transaction, so a revocation is refused by every worker from the next request on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from django.db import IntegrityError, transaction

from ..models import ApiKey

logger = logging.getLogger(__name__)

_MAX_PREFIX_ATTEMPTS = 3


class ApiKeyObserver(Protocol):
    """Told of every created or revoked key, inside its transaction (it may defer work to ``on_commit``)."""

    def api_key_changed(self, api_key: ApiKey) -> None:
        """``api_key`` (its new state) is being created or revoked by the current transaction."""


class ApiKeyService:
    """Issues and revokes API keys.

    Args:
        clock: Returns the current time (aware).
        observer: Hears of every change inside its transaction (the authentication's key records).
    """

    def __init__(self, *, clock: Callable[[], datetime], observer: ApiKeyObserver) -> None:
        self.clock = clock
        self.observer = observer

    def create(self, *, user: Any, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
        """Issue a key for ``user`` with ``scopes``.

        Returns:
            The stored key and the key itself (``prefix.secret``): the only time it is ever available.
        """
        for attempt in range(1, _MAX_PREFIX_ATTEMPTS + 1):
            api_key = ApiKey(user=user, name=name, scopes=sorted(set(scopes)), created_at=self.clock())
            key = ApiKey.objects.assign_key(api_key)
            try:
                with transaction.atomic():
                    api_key.save(force_insert=True)
                    self.observer.api_key_changed(api_key)
                return api_key, key
            except IntegrityError:
                # Eight random characters from 62 rarely repeat, but the prefix is unique by constraint.
                if attempt == _MAX_PREFIX_ATTEMPTS or not ApiKey.objects.filter(prefix=api_key.prefix).exists():
                    raise
                logger.info("API key prefix collision, retrying (attempt %d)", attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def revoke(self, *, api_key: ApiKey) -> ApiKey:
        """Revoke ``api_key`` for good; revoking a revoked key changes nothing (it keeps its ``revoked_at``)."""
        with transaction.atomic():
            locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
            if not locked.revoked:
                locked.revoked, locked.revoked_at = True, self.clock()
                locked.save(update_fields=["revoked", "revoked_at"])
            # Told even when it was already revoked: the record every worker reads is then re-asserted.
            self.observer.api_key_changed(locked)
        return locked
