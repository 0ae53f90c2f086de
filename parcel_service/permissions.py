"""Who may do what. Tiny classes, composed in the views with ``&`` / ``|``.

Visibility (which parcels exist for you at all) is ``Parcel.objects.visible_to``; these classes decide
what you may do with a parcel you can see.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .models import is_carrier


class IsCarrierOrStaff(BasePermission):
    """Allows members of the ``carriers`` group and staff."""

    message = "Only carriers and staff can record tracking events."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Check the role."""
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or is_carrier(user)))


class IsOwnerOrStaffForWrites(BasePermission):
    """Anyone who can see a parcel may read it; only its owner or staff may change it."""

    message = "Only the parcel's owner or staff can change it."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        """Reads pass; writes need ownership or staff."""
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user.is_staff or obj.owner_id == request.user.pk)
