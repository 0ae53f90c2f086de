"""``Idempotency-Key`` support (IETF draft-ietf-httpapi-idempotency-key-header), implemented once as a decorator.

Semantics (API.md, "Idempotency"):

- same user + key + request fingerprint, first request finished -> its stored status and body again,
  with ``Idempotent-Replayed: true``, nothing executed;
- same key, different fingerprint -> 422 ``idempotency_key_mismatch``;
- same key while the first request is still running -> 409 ``idempotency_key_in_use``;
- an outcome that is not a success (4xx, 5xx, an exception) is not stored, so a corrected retry works;
- keys are per user and kept for ``IDEMPOTENCY_KEY_TTL`` (24 h); expired keys are ignored and purged.

The in-flight marker is committed (autocommit) before the work starts, so a concurrent request with
the same key finds it; the unique constraint on (user, key) settles a tie between two first attempts.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus
from typing import Any, cast

import orjson
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response

from ..domain.errors import ParcelServiceError
from ..http.renderers import dumps
from ..metrics import IDEMPOTENT_REPLAYS
from ..models import IdempotencyRecord
from .problems import QueryValidationError


class IdempotencyKeyInUse(ParcelServiceError):
    """A request with the same ``Idempotency-Key`` is still being processed."""

    status_code = HTTPStatus.CONFLICT
    code = "idempotency_key_in_use"
    default_detail = "A request with this Idempotency-Key is still in progress; retry later."


class IdempotencyKeyMismatch(ParcelServiceError):
    """The ``Idempotency-Key`` was already used with a different request."""

    status_code = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "idempotency_key_mismatch"
    default_detail = "This Idempotency-Key was used with a different request."


HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# 1-255 printable ASCII characters (space to tilde), per API.md.
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


class HeaderValidationError(QueryValidationError):
    """A malformed request header; pointers read ``/header/<name>``."""

    pointer_prefix = "/header"


def _validated_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _VALID_KEY.fullmatch(key):
        raise HeaderValidationError(
            {HEADER: [ErrorDetail("Must be 1-255 printable ASCII characters.", code="invalid")]}
        )
    return key


def fingerprint(request: Request) -> str:
    """SHA-256 over method, path and the canonical (key-sorted, compact) JSON body.

    Args:
        request: The DRF request; its body is parsed (a parse error propagates as a 400).

    Returns:
        The hex digest.
    """
    body = orjson.dumps(request.data, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256()
    for part in (str(request.method).encode(), request.path.encode(), body):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    IDEMPOTENT_REPLAYS.inc()
    response = HttpResponse(bytes(record.response_body or b""), status=record.response_status)
    response["Content-Type"] = "application/json"
    response["Idempotent-Replayed"] = "true"
    if record.response_location:
        response["Location"] = record.response_location
    return response


def _claim(request: Request, key: str, request_fingerprint: str) -> IdempotencyRecord | HttpResponse:
    """Commit an in-flight marker for this key, or answer from an existing record."""
    now = timezone.now()
    user_id = cast(int, request.user.pk)  # idempotent views require authentication: never the anonymous None
    existing = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
    if existing is not None and existing.expires_at <= now:
        existing.delete()
        existing = None
    if existing is None:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    user_id=user_id,
                    key=key,
                    fingerprint=request_fingerprint,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_KEY_TTL,
                )
        except IntegrityError:
            # Another request with this key committed its marker first.
            existing = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
            if existing is None:  # it failed and removed its marker meanwhile
                raise IdempotencyKeyInUse() from None
    if existing.fingerprint != request_fingerprint:
        raise IdempotencyKeyMismatch()
    if existing.state == IdempotencyRecord.State.IN_FLIGHT:
        raise IdempotencyKeyInUse()
    return _replay(existing)


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response | HttpResponse]:
    """Make a POST view method honour ``Idempotency-Key``.

    Args:
        view_method: A viewset action ``(self, request, *args, **kwargs) -> Response``.

    Returns:
        The wrapped action. Without the header it behaves exactly as before.
    """

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response | HttpResponse:
        key = _validated_key(request)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        claimed = _claim(request, key, fingerprint(request))
        if isinstance(claimed, HttpResponse):
            return claimed
        record = claimed
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            record.delete()  # nothing was done: the client may retry with the same key
            raise
        if not 200 <= response.status_code < 300:
            record.delete()
            return response
        record.state = IdempotencyRecord.State.COMPLETED
        record.response_status = response.status_code
        record.response_body = dumps(response.data)
        record.response_location = response.get("Location", "")
        record.save(update_fields=["state", "response_status", "response_body", "response_location"])
        return response

    return wrapper


def purge_expired(now: Any = None) -> int:
    """Delete expired idempotency records.

    Args:
        now: The current time (default ``timezone.now()``).

    Returns:
        How many records were deleted.
    """
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
