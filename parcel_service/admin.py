"""Django admin for staff: find parcels and read their timeline; issued tokens; list and revoke API keys.

Status changes only through events; keys are issued only through the API, where the key is shown once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from .api.services import get_api_key_service
from .models import ApiKey, Parcel, TrackingEvent


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
# The library registers its own concrete key model, whose table stays empty here (keys are ApiKey).
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: searchable by prefix, name and user; revoked with the action, never edited or deleted."""

    list_display = ("prefix", "name", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked", "created_at")
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    fields = ("id", "prefix", "name", "user", "scopes", "created_at", "last_used_at", "expiry_date", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Keys are issued through the API: only there is the key shown (once)."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Revoke instead: the record of a key stays."""
        return False

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        """Revoke each selected key through the service, so every worker refuses it from the next request."""
        service = get_api_key_service()
        revoked = 0
        for api_key in queryset.filter(revoked=False):
            service.revoke(api_key=api_key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)
