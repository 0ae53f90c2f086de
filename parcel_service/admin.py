"""Django admin for staff: find parcels, read their timeline (status changes only through events), and issued tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from .models import Parcel, TrackingEvent


class TrackingEventInline(admin.TabularInline):
    """A parcel's events, read-only: the timeline is append-only."""

    model = TrackingEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "status", "location", "description", "recorded_at", "recorded_by")
    readonly_fields = fields
    ordering = ("occurred_at", "recorded_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Events are recorded through the API, where the status machine applies."""
        return False


@admin.register(Parcel)
class ParcelAdmin(admin.ModelAdmin):
    """Parcels: searchable by tracking number, reference and recipient name; filterable by status and date."""

    list_display = ("tracking_number", "status", "owner", "reference", "recipient_name", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("tracking_number", "reference", "recipient_name")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("id", "tracking_number", "status", "estimated_delivery", "version", "created_at", "updated_at")
    inlines = [TrackingEventInline]
    show_full_result_count = False  # avoid COUNT(*) over the whole table on every changelist page

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A parcel is a record: cancel it, don't delete it."""
        return False


class OutstandingTokenAdmin(token_blacklist_admin.OutstandingTokenAdmin):
    """simplejwt's read-only list of issued refresh tokens, without the tokens themselves.

    Each row keeps the signed token; shown, any admin could copy and use another user's live refresh token.
    """

    exclude = ("token",)

    def get_readonly_fields(self, *args: Any, **kwargs: Any) -> list[str]:
        """Every field but the token is shown read-only."""
        return [field for field in super().get_readonly_fields(*args, **kwargs) if field != "token"]


admin.site.unregister(OutstandingToken)
admin.site.register(OutstandingToken, OutstandingTokenAdmin)
