"""The project's JWT authentication: simplejwt's signature and expiry checks, one query for the user and role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from .models import CARRIERS_GROUP


def users_with_roles() -> Any:
    """Users annotated with ``is_carrier`` so permission checks never need a second query."""
    user_model = get_user_model()
    carrier_membership = user_model.groups.through.objects.filter(
        **{f"{user_model._meta.model_name}_id": OuterRef("pk")}, group__name=CARRIERS_GROUP
    )
    return user_model._default_manager.annotate(is_carrier=Exists(carrier_membership))


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer-JWT authentication that loads the user and their carrier role in a single query."""

    def get_user(self, validated_token: Any) -> AbstractBaseUser:
        """Return the active user the token names.

        Args:
            validated_token: A token whose signature, type and expiry simplejwt already checked.

        Returns:
            The user, annotated with ``is_carrier``.

        Raises:
            InvalidToken: The token carries no user id.
            AuthenticationFailed: The user does not exist or is inactive.
        """
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        user = users_with_roles().filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not user.is_active:
            raise AuthenticationFailed("User not found or inactive.", code="user_not_found")
        return user
