"""Who may do what. Tiny classes, listed together in a view's ``get_permissions`` (all must allow).

Visibility (which parcels exist for you at all) is ``Parcel.objects.visible_to``; these classes decide
what you may do with a parcel you can see.

An API key acts as its user, limited to its scopes: every view declares the scope each of its operations
needs in ``required_scopes`` (keyed by viewset action, ``"action:METHOD"`` where one action serves several
methods, or HTTP method on plain views; ``None`` for an operation no key may call), and ``HasRequiredScope``
refuses a key without it. An operation that declares nothing is refused to every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..http.credentials import ApiKeyCredentials
from ..models import sees_all_parcels

NOT_DECLARED = object()


class InsufficientScope(PermissionDenied):
    """An API key without the scope the operation needs (403 ``insufficient_scope``)."""

    default_code = "insufficient_scope"


def required_scope(view: Any, method: str) -> str | object | None:
    """The scope ``view`` declares for ``method`` (and its current action): a scope, None, or ``NOT_DECLARED``."""
    scopes: Mapping[str, str | None] = getattr(view, "required_scopes", {})
    action = getattr(view, "action", None)
    for name in (f"{action}:{method}", action) if action else (method,):
        if name in scopes:
            return scopes[name]
    return NOT_DECLARED


class IsCarrierOrStaff(BasePermission):
    """Allows members of the ``carriers`` group and staff."""

    message = "Only carriers and staff can record tracking events."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Check the role."""
        user = request.user
        return bool(user and user.is_authenticated and sees_all_parcels(user))


class IsOwnerOrStaff(BasePermission):
    """Allows the parcel's owner and staff (carriers can see a parcel, but not edit or cancel it)."""

    message = "Only the parcel's owner or staff can change it."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        """Check ownership."""
        return bool(request.user.is_staff or obj.owner_id == request.user.pk)


class HasRequiredScope(BasePermission):
    """Allows API keys only within their scopes (see ``required_scopes``); JWTs are not limited by scopes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        """Check the key's scopes against the operation's.

        Raises:
            InsufficientScope: The key lacks the scope, or no key may call this operation.
        """
        if not isinstance(request.auth, ApiKeyCredentials):
            return True
        scope = required_scope(view, request.method or "")
        if isinstance(scope, str):
            if request.auth.allows(scope):
                return True
            raise InsufficientScope(f"This API key lacks the scope this operation needs: {scope}.")
        if scope is None:
            raise InsufficientScope("API keys cannot call this operation; authenticate with a JWT.")
        raise InsufficientScope("This operation is not available to API keys.")
