"""API-key authentication (``Authorization: Api-Key <prefix>.<secret>``), shared by every worker through the cache.

A key is looked up by its prefix and checked against its SHA-512 hash (the library's fast hasher: a random
41-character key needs no slow password hash). What the check needs — the hash, scopes, revocation, expiry
and the user's id, active and staff flags and carrier role — is kept as one record in the shared cache
(Redis in production), so a warm request costs no query, like a JWT whose user a worker has cached.

Nothing about a key is cached per worker, so a revocation holds in every worker from the next request:
revoking writes a *revoked* marker for the prefix that the lookup reads in the same round trip as the record
(and that nothing but its expiry removes, so no late writer can bring a revoked key back); the record itself
is dropped. A change to the user (saved, deactivated, regrouped) drops the records of their keys; records
also expire after ``AUTH_USER_CACHE_TTL_S``, which bounds what no signal sees (a ``QuerySet.update``), as for
JWTs. With the cache down every request reads the database.

The same round trip counts the request for the key's throttle (``ApiKeyRateThrottle``; a request whose key
then fails is uncounted) and adds a one-minute marker: only the request that added it writes
``last_used_at``, so that is written at most once a minute per key. A warm request thus costs one Redis
round trip here and none in the throttle. Logs and traces name a key by its prefix, never the key.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.base import DEFERRED
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from opentelemetry import trace
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ..models import ApiKey, is_carrier
from .cache import VersionGuardedCache
from .credentials import ApiKeyCredentials
from .throttling import ApiKeyRateThrottle

SCHEME = "api-key"  # RFC 9110 section 11.1: auth schemes are case-insensitive
# The library's keys: an 8-character prefix, a dot, a 32-character secret, both from [A-Za-z0-9].
_KEY_FORMAT = re.compile(r"(?P<prefix>[A-Za-z0-9]{8})\.[A-Za-z0-9]{32}")
RECORD_SHAPE = 1  # bump when KeyRecord changes: records of the previous release are then never read
LAST_USED_RESOLUTION_S = 60
# Longer than any record lives (AUTH_USER_CACHE_TTL_S) and than any request takes; after it the database
# (where the key is revoked) answers.
REVOKED_MARKER_TTL_S = 24 * 60 * 60
# A prefix no key has: cached too (briefly), so guessing prefixes costs the database nothing.
UNKNOWN = "unknown"
_USER_FIELDS = ("id", "is_active", "is_staff", "is_superuser")


def record_cache_key(prefix: str) -> str:
    """Cache key of a key's record."""
    return f"api-key:v{RECORD_SHAPE}:{prefix}"


def revoked_cache_key(prefix: str) -> str:
    """Cache key of the marker a revocation leaves."""
    return f"api-key-revoked:{prefix}"


def _used_cache_key(hashed_key: str) -> str:
    # Keyed by the presented key's hash, not the prefix: a caller who knows only a prefix cannot hold the
    # marker and so stop last_used_at from moving.
    return f"api-key-used:{hashed_key[-32:]}"


class KeyRecord(NamedTuple):
    """What authenticating a key needs, as cached: the key's state and its user's."""

    key_id: str
    hashed_key: str
    scopes: tuple[str, ...]
    revoked: bool
    expires_at: Any  # datetime | None
    user_id: Any
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    is_carrier: bool


class KeyLookup(NamedTuple):
    """A key's record (None: no such key, or revoked), whether its use is due to be written, its throttle count."""

    record: KeyRecord | None
    due: bool
    throttle_count: tuple[int, float] | None


class ApiKeyRecords:
    """The shared cache's record of each key: read on every request, dropped or marked on every change.

    Args:
        cache: A Django cache that also has ``get_many_add_count`` (both backends in ``http.cache``), so a
            lookup is one round trip.
    """

    def __init__(self, *, cache: VersionGuardedCache) -> None:
        self.cache = cache

    def lookup(self, prefix: str, hashed_key: str, counter: str | None = None, window_s: int = 0) -> KeyLookup:
        """Find the key with ``prefix``; mark its use; count a hit on ``counter`` (its throttle) if given."""
        found = self.cache.get_many_add_count(
            [record_cache_key(prefix), revoked_cache_key(prefix)],
            _used_cache_key(hashed_key),
            LAST_USED_RESOLUTION_S,
            counter,
            window_s,
        )
        if found is None:  # the cache is unavailable: the database answers, and last_used_at waits for it
            record, revoked, due, counted = None, None, False, None
        else:
            (record, revoked), due, counted = found
        if revoked is not None:
            return KeyLookup(None, False, counted)
        if record is None:
            record = self._load(prefix)
            # add(), not set(): a revocation's marker or a dropped record written meanwhile must win.
            self.cache.add(record_cache_key(prefix), record or UNKNOWN, settings.AUTH_USER_CACHE_TTL_S)
        if not isinstance(record, KeyRecord) or record.revoked:
            return KeyLookup(None, False, counted)
        return KeyLookup(record, due, counted)

    def uncount(self, counter: str) -> None:
        """Take back a hit counted for a key that then failed: guessing secrets never spends a key's budget."""
        with contextlib.suppress(ValueError):  # the window has closed meanwhile
            self.cache.decr(counter)

    def api_key_changed(self, api_key: ApiKey) -> None:
        """``ApiKeyService``'s observer: after the commit, mark a revoked key revoked, drop any other's record."""
        prefix, revoked = api_key.prefix, api_key.revoked
        transaction.on_commit(lambda: self._forget(prefix, revoked=revoked))

    def api_key_deleted(self, prefix: str) -> None:
        """After the commit, mark a deleted key revoked: deleting a key (or its user) revokes it for good."""
        transaction.on_commit(lambda: self._forget(prefix, revoked=True))

    def forget_user(self, user_id: Any) -> None:
        """After the commit, drop the records of ``user_id``'s keys (their user changed)."""
        transaction.on_commit(lambda: self.cache.delete_many(_record_keys(ApiKey.objects.filter(user_id=user_id))))

    def forget_all(self) -> None:
        """After the commit, drop the record of every unrevoked key (a group's members changed)."""
        transaction.on_commit(lambda: self.cache.delete_many(_record_keys(ApiKey.objects.filter(revoked=False))))

    def _forget(self, prefix: str, *, revoked: bool) -> None:
        if revoked:
            self.cache.set(revoked_cache_key(prefix), 1, REVOKED_MARKER_TTL_S)
        self.cache.delete(record_cache_key(prefix))

    @staticmethod
    def _load(prefix: str) -> KeyRecord | None:
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        if api_key is None:
            return None
        user = api_key.user
        return KeyRecord(
            key_id=str(api_key.pk),
            hashed_key=api_key.hashed_key,
            scopes=tuple(api_key.scopes),
            revoked=api_key.revoked,
            expires_at=api_key.expiry_date,
            user_id=user.pk,
            username=user.get_username(),
            is_active=user.is_active,
            is_staff=user.is_staff,
            is_superuser=user.is_superuser,
            is_carrier=is_carrier(user),
        )


def _record_keys(api_keys: Any) -> list[str]:
    return [record_cache_key(prefix) for prefix in api_keys.values_list("prefix", flat=True)]


def get_api_key_records() -> ApiKeyRecords:
    """The key records on the default cache backend (built per call: cheap, and it follows settings changes)."""
    return ApiKeyRecords(cache=cast(VersionGuardedCache, caches["default"]))  # one of http.cache's backends


def _user(record: KeyRecord) -> AbstractBaseUser:
    """The key's user as loaded from the database, with only the fields authentication needs (others load lazily)."""
    user_model = get_user_model()
    known = dict(
        zip(_USER_FIELDS, (record.user_id, record.is_active, record.is_staff, record.is_superuser), strict=True)
    )
    known[user_model.USERNAME_FIELD] = record.username
    fields = [field.attname for field in user_model._meta.concrete_fields]
    user = user_model.from_db(DEFAULT_DB_ALIAS, fields, [known.get(name, DEFERRED) for name in fields])
    user.is_carrier = record.is_carrier  # type: ignore[attr-defined]  # the role annotation JWT users carry too (models.is_carrier reads it)
    return user


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``: the key's user, with ``request.auth`` an ``ApiKeyCredentials``."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiKeyCredentials] | None:
        """Authenticate an ``Api-Key`` request; None for any other scheme.

        Raises:
            AuthenticationFailed: The key is malformed, unknown, revoked or expired, or its user is inactive.
        """
        scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != SCHEME:
            return None
        key = credentials.strip()
        matched = _KEY_FORMAT.fullmatch(key)
        if matched is None:
            raise AuthenticationFailed("Malformed API key.", code="authentication_failed")
        prefix = matched["prefix"]
        hashed_key = ApiKey.objects.key_generator.hash(key)
        records = get_api_key_records()
        counter, window_s, _ = ApiKeyRateThrottle.counter(prefix) or (None, 0, 0)
        found, due, throttle_count = records.lookup(prefix, hashed_key, counter, window_s)
        try:
            record = self._valid(found, hashed_key)
        except AuthenticationFailed:
            if throttle_count is not None and counter is not None:
                records.uncount(counter)
            raise
        if due:
            ApiKey.objects.filter(pk=record.key_id).update(last_used_at=timezone.now())
        trace.get_current_span().set_attribute("api_key.prefix", prefix)
        credentials = ApiKeyCredentials(record.key_id, prefix, frozenset(record.scopes), throttle_count)
        return _user(record), credentials

    @staticmethod
    def _valid(record: KeyRecord | None, hashed_key: str) -> KeyRecord:
        if record is None or not constant_time_compare(record.hashed_key, hashed_key):
            raise AuthenticationFailed("Unknown or revoked API key.", code="authentication_failed")
        if record.expires_at is not None and record.expires_at <= timezone.now():
            raise AuthenticationFailed("This API key has expired.", code="authentication_failed")
        if not record.is_active:
            raise AuthenticationFailed("User not found or inactive.", code="user_not_found")
        return record

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401 (only used when this class is listed first)."""
        return 'Api-Key realm="api"'


def _forget_saved_user(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if not created:  # a new user has no keys yet
        get_api_key_records().forget_user(instance.pk)


def _forget_regrouped_user(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    user_model = get_user_model()
    if sender is not user_model.groups.through or not action.startswith("post_"):
        return
    if isinstance(instance, user_model):
        get_api_key_records().forget_user(instance.pk)
    else:  # a group's member list changed from the group's side
        get_api_key_records().forget_all()


def _forget_deleted_key(sender: Any, instance: ApiKey, **kwargs: Any) -> None:
    get_api_key_records().api_key_deleted(instance.prefix)


post_save.connect(_forget_saved_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="api-key-records-user-save")
m2m_changed.connect(_forget_regrouped_user, dispatch_uid="api-key-records-user-groups")
post_delete.connect(_forget_deleted_key, sender=ApiKey, dispatch_uid="api-key-records-key-delete")
