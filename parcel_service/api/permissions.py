"""Who may do what. Tiny classes, listed together in a view's ``get_permissions`` (all must allow).

Visibility (which parcels exist for you at all) is ``Parcel.objects.visible_to``; these classes decide
what you may do with a parcel you can see.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..models import sees_all_parcels


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
