"""The project's JWT authentication: simplejwt's signature and expiry checks, then the user and their role.

Loading the user costs a query (and, measured, about a third of a cached detail read). A signed token
already says who the caller is, so each worker keeps the loaded user — id, active flag, staff flag,
password hash, carrier role — for ``AUTH_USER_CACHE_TTL_S`` seconds (default 5). A change to a user or
their groups clears that user in the worker that made it at once; every other worker sees it within the
TTL: deactivation, deletion and a removed carrier role by reloading the user, a password change because
each token carries a digest of the password hash it was issued under (simplejwt's ``CHECK_REVOKE_TOKEN``).
The price is one user query per user per worker every TTL.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.urls import reverse
from rest_framework import HTTP_HEADER_ENCODING
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, ExpiredTokenError, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from ..models import CARRIERS_GROUP


def users_with_roles() -> Any:
    """Users annotated with ``is_carrier`` so permission checks never need a second query."""
    user_model = get_user_model()
    carrier_membership = user_model.groups.through.objects.filter(
        **{f"{user_model._meta.model_name}_id": OuterRef("pk")}, group__name=CARRIERS_GROUP
    )
    return user_model._default_manager.annotate(is_carrier=Exists(carrier_membership))


_MAX_CACHED_USERS = 10_000
_user_cache: dict[str, tuple[float, AbstractBaseUser]] = {}


REVOKED_DETAIL = "Token is no longer valid: the account's password has changed. Sign in again."


def issued_before_password_change(token: Token, user: AbstractBaseUser) -> bool:
    """Whether the token was issued under a password the user no longer has (always False without CHECK_REVOKE_TOKEN).

    A token without the claim (issued before the check was turned on) counts as issued under another password.
    """
    if not api_settings.CHECK_REVOKE_TOKEN:
        return False
    claim = token.get(api_settings.REVOKE_TOKEN_CLAIM)
    return not isinstance(claim, str) or not hmac.compare_digest(claim, get_md5_hash_password(user.password))


def forget_cached_user(user_id: Any) -> None:
    """Drop one user from this worker's authentication cache."""
    _user_cache.pop(str(user_id), None)  # tokens carry the id as a string


def clear_user_cache() -> None:
    """Drop every user from this worker's authentication cache."""
    _user_cache.clear()


def _forget_saved_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    forget_cached_user(instance.pk)


def _forget_regrouped_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, get_user_model()):
        forget_cached_user(instance.pk)
    else:  # a group's member list changed from the group's side
        clear_user_cache()


post_save.connect(_forget_saved_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="auth-cache-save")
post_delete.connect(_forget_saved_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="auth-cache-delete")
m2m_changed.connect(_forget_regrouped_user, dispatch_uid="auth-cache-groups")


# RFC 9110 section 11.1: the authentication scheme is case-insensitive ("bearer" is "Bearer").
_SCHEMES = {scheme.lower().encode(HTTP_HEADER_ENCODING) for scheme in authentication.AUTH_HEADER_TYPES}


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer-JWT authentication that loads the user and their carrier role in one query, then caches them."""

    def get_raw_token(self, header: bytes) -> bytes | None:
        """Return the token of a ``Bearer`` header, the scheme matched case-insensitively; None for other schemes.

        Raises:
            AuthenticationFailed: The scheme is ours but is not followed by exactly one token.
        """
        parts = header.split()
        if not parts or parts[0].lower() not in _SCHEMES:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(
                "Authorization header must contain two space-delimited values", code="bad_authorization_header"
            )
        return parts[1]

    def get_validated_token(self, raw_token: bytes) -> Token:
        """Return the verified access token; an expired one says so and where to get a new one.

        Raises:
            InvalidToken: The token is expired, forged, malformed or of the wrong type (code ``token_not_valid``).
        """
        expired = False
        for token_class in api_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except ExpiredTokenError:  # raised only once the signature has been verified
                expired = True
            except TokenError:
                continue
        if expired:
            refresh_url = reverse("parcel_service:token-refresh").rstrip("/") + "/"
            raise InvalidToken(f"Token has expired; get a new access token from {refresh_url} with your refresh token.")
        raise InvalidToken("Given token not valid for any token type")  # simplejwt's own wording, unchanged

    def get_user(self, validated_token: Any) -> AbstractBaseUser:  # type: ignore[override]  # simplejwt: a TypeVar
        """Return the active user the token names.

        Args:
            validated_token: A token whose signature, type and expiry simplejwt already checked.

        Returns:
            The user, annotated with ``is_carrier``.

        Raises:
            InvalidToken: The token carries no user id, or was issued under a password the user has since changed.
            AuthenticationFailed: The user does not exist or is inactive.
        """
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        now = time.monotonic()
        cached = _user_cache.get(str(user_id))
        if cached is not None and cached[0] > now:
            user = cached[1]
        else:
            user = users_with_roles().filter(**{api_settings.USER_ID_FIELD: user_id}).first()
            ttl = getattr(settings, "AUTH_USER_CACHE_TTL_S", 5)
            if user is not None and ttl > 0:
                if len(_user_cache) >= _MAX_CACHED_USERS:
                    _user_cache.clear()
                _user_cache[str(user_id)] = (now + ttl, user)
        if user is None or not user.is_active:
            raise AuthenticationFailed("User not found or inactive.", code="user_not_found")
        if issued_before_password_change(validated_token, user):
            raise InvalidToken(REVOKED_DETAIL)
        return user
