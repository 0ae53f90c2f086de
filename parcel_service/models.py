"""Data layer: parcels, tracking events, idempotency records, API keys; the invariants the database enforces.

Addresses are embedded columns (``sender_*``, ``recipient_*``) rather than a separate table: a parcel
and both its addresses are one row, so reading a parcel never costs a query per address.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from .domain.status_machine import ParcelStatus

ADDRESS_FIELDS = ("name", "company", "street", "street2", "city", "postal_code", "country", "email", "phone")
MIN_WEIGHT_GRAMS, MAX_WEIGHT_GRAMS = 1, 70_000
MIN_DIMENSION_MM, MAX_DIMENSION_MM = 1, 3_000
CARRIERS_GROUP = "carriers"


class ParcelQuerySet(models.QuerySet):
    """Parcel queries, scoped to what a caller may see."""

    def visible_to(self, user: Any) -> ParcelQuerySet:
        """Parcels ``user`` may see: all for carriers and staff, their own for customers, none for anonymous.

        Args:
            user: The authenticated user (annotated with ``is_carrier`` by the JWT authentication, or a
                plain user, whose groups are then checked).

        Returns:
            The scoped queryset.
        """
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if sees_all_parcels(user):
            return self.all()
        return self.filter(owner=user)


def sees_all_parcels(user: Any) -> bool:
    """Carriers and staff see every parcel; customers only their own."""
    return bool(user.is_staff or is_carrier(user))


def can_see_parcel(user: Any, owner_id: int) -> bool:
    """Whether ``user`` may see a parcel owned by ``owner_id`` (the rule ``visible_to`` applies in SQL)."""
    return bool(getattr(user, "is_authenticated", False) and (owner_id == user.pk or sees_all_parcels(user)))


def is_carrier(user: Any) -> bool:
    """Whether ``user`` belongs to the ``carriers`` group (uses the auth annotation when present)."""
    annotated = getattr(user, "is_carrier", None)
    if annotated is not None:
        return bool(annotated)
    return user.groups.filter(name=CARRIERS_GROUP).exists()


class Parcel(models.Model):
    """A shipment from a sender to a recipient, identified publicly by its S10 tracking number."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Unique through Meta.constraints, not unique=True: on PostgreSQL that would also add a second,
    # varchar_pattern_ops index for LIKE queries, which nothing runs (tracking numbers match exactly).
    tracking_number = models.CharField(max_length=13, editable=False)
    # No index of its own: every composite index below starts with owner_id and serves owner lookups.
    # Each index is one more page to write when an event updates the parcel.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="parcels", db_index=False
    )
    status = models.CharField(max_length=32, choices=ParcelStatus.choices, default=ParcelStatus.PENDING)
    reference = models.CharField(max_length=64, blank=True, default="")

    sender_name = models.CharField(max_length=100)
    sender_company = models.CharField(max_length=100, blank=True, default="")
    sender_street = models.CharField(max_length=200)
    sender_street2 = models.CharField(max_length=200, blank=True, default="")
    sender_city = models.CharField(max_length=100)
    sender_postal_code = models.CharField(max_length=16)
    sender_country = models.CharField(max_length=2)
    sender_email = models.CharField(max_length=254, blank=True, default="")
    sender_phone = models.CharField(max_length=21, blank=True, default="")

    recipient_name = models.CharField(max_length=100)
    recipient_company = models.CharField(max_length=100, blank=True, default="")
    recipient_street = models.CharField(max_length=200)
    recipient_street2 = models.CharField(max_length=200, blank=True, default="")
    recipient_city = models.CharField(max_length=100)
    recipient_postal_code = models.CharField(max_length=16)
    recipient_country = models.CharField(max_length=2)
    recipient_email = models.CharField(max_length=254, blank=True, default="")
    recipient_phone = models.CharField(max_length=21, blank=True, default="")

    weight_grams = models.PositiveIntegerField()
    length_mm = models.PositiveIntegerField(null=True, blank=True)
    width_mm = models.PositiveIntegerField(null=True, blank=True)
    height_mm = models.PositiveIntegerField(null=True, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    # Bumped on every change (edit, cancel, event): the strong ETag and the If-Match check read it.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(editable=False)
    updated_at = models.DateTimeField(editable=False)

    objects = ParcelQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_grams__gte=MIN_WEIGHT_GRAMS, weight_grams__lte=MAX_WEIGHT_GRAMS),
                name="parcel_weight_in_range",
            ),
            models.CheckConstraint(condition=Q(status__in=ParcelStatus.values), name="parcel_status_valid"),
            # Dimensions are all absent or all present and in range.
            models.CheckConstraint(
                condition=Q(length_mm__isnull=True, width_mm__isnull=True, height_mm__isnull=True)
                | Q(
                    length_mm__gte=MIN_DIMENSION_MM,
                    length_mm__lte=MAX_DIMENSION_MM,
                    width_mm__gte=MIN_DIMENSION_MM,
                    width_mm__lte=MAX_DIMENSION_MM,
                    height_mm__gte=MIN_DIMENSION_MM,
                    height_mm__lte=MAX_DIMENSION_MM,
                ),
                name="parcel_dimensions_all_or_none_in_range",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="parcel_version_positive"),
            models.UniqueConstraint(fields=["tracking_number"], name="parcel_tracking_number_unique"),
        ]
        indexes = [
            # Cursor pagination: each list ordering, per owner (customers) and global (carriers, staff).
            models.Index(fields=["owner", "-created_at", "-id"], name="parcel_owner_created_idx"),
            models.Index(fields=["owner", "-updated_at", "-id"], name="parcel_owner_updated_idx"),
            models.Index(fields=["-created_at", "-id"], name="parcel_created_idx"),
            models.Index(fields=["-updated_at", "-id"], name="parcel_updated_idx"),
            models.Index(fields=["owner", "reference"], name="parcel_owner_reference_idx"),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    def address(self, role: str) -> dict[str, str]:
        """Return the ``"sender"`` or ``"recipient"`` address as a dict of the Address fields."""
        return {field: getattr(self, f"{role}_{field}") for field in ADDRESS_FIELDS}

    @property
    def sender(self) -> dict[str, str]:
        """The sender's address."""
        return self.address("sender")

    @property
    def recipient(self) -> dict[str, str]:
        """The recipient's address."""
        return self.address("recipient")

    @property
    def dimensions_mm(self) -> dict[str, int] | None:
        """``{length, width, height}`` in millimetres, or None when not given."""
        if self.length_mm is None or self.width_mm is None or self.height_mm is None:
            return None  # the three are set and cleared together (parcel_columns)
        return {"length": self.length_mm, "width": self.width_mm, "height": self.height_mm}

    @property
    def etag(self) -> str:
        """Strong ETag (RFC 9110 section 8.8.3) for the current version of this parcel."""
        return f'"{self.pk}-{self.version}"'

    def version_in_etag(self, tag: str) -> int | None:
        """The version a strong ETag of this parcel names (any version, not only the current), or None."""
        prefix = f'"{self.pk}-'
        if tag.startswith(prefix) and tag.endswith('"') and tag[len(prefix) : -1].isdigit():
            return int(tag[len(prefix) : -1])
        return None


class TrackingEvent(models.Model):
    """One scan or status change reported by a carrier. Append-only: events are never edited or deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by event_timeline_idx (parcel_id first), so no single-column index: events are the most
    # written table, and every index costs each insert.
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="events", db_index=False)
    status = models.CharField(max_length=32, choices=ParcelStatus.choices)
    location = models.CharField(max_length=128, blank=True, default="")
    description = models.CharField(max_length=500, blank=True, default="")
    # The parcel's version right after this event bumped it: assigned under the parcel's row lock, so it
    # orders the timeline as the status changes were applied (API.md "One timeline, one status").
    sequence = models.PositiveIntegerField(editable=False)
    occurred_at = models.DateTimeField()
    # Taken under the row lock too, so it never goes backwards along the timeline.
    recorded_at = models.DateTimeField(editable=False)
    # Not indexed: only deleting a user asks "which events did they record?" (a rare admin action that can
    # afford a scan), while every event insert would pay for the index.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="recorded_events",
        null=True,
        blank=True,
        db_index=False,
    )

    class Meta:
        ordering = ("parcel", "sequence")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ParcelStatus.values), name="event_status_valid"),
            # Also the timeline's index: a parcel's events in the order they were applied.
            models.UniqueConstraint(fields=["parcel", "sequence"], name="event_parcel_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.status} @ {self.occurred_at:%Y-%m-%dT%H:%M:%SZ}"


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` a user sent, and — once the request finished — the response to replay.

    Kept in the database, not only the cache: with Redis down, django-redis silently turns a failed
    ``add()`` into a miss, so Redis alone cannot promise "at most once". The unique constraint on
    (user, key) is what makes two concurrent first attempts impossible.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"

    # Covered by the (user, key) unique constraint, so no single-column index.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records", db_index=False
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and canonical body.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_location = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} ({self.state})"


class ApiKeyScope(models.TextChoices):
    """What an API key may do on its user's behalf (the user's role still decides the rest)."""

    PARCELS_READ = "parcels:read", "Read parcels and their events"
    PARCELS_WRITE = "parcels:write", "Create, edit and cancel parcels"
    EVENTS_WRITE = "events:write", "Record tracking events"
    WEBHOOKS_MANAGE = "webhooks:manage", "Manage webhook endpoints"


class ApiKeyManager(BaseAPIKeyManager):
    """Issues keys (``prefix.secret``, stored as the prefix and a SHA-512 hash) with a UUID id of their own.

    The library's key model uses ``prefix.hash`` as its primary key; here the id is a UUID like every other
    id in the API, so the hash never leaves the database in a URL or a list.
    """

    def assign_key(self, obj: AbstractAPIKey) -> str:
        """Give ``obj`` a fresh prefix and hashed secret; return the key, which is never stored."""
        key, prefix, hashed_key = self.key_generator.generate()
        obj.prefix, obj.hashed_key = prefix, hashed_key
        return key


class ApiKey(AbstractAPIKey):
    """A user's key for server-to-server clients: acts as its user, limited to its scopes.

    The library's ``revoked`` flag (which refuses to be cleared once set) is kept; ``revoked_at`` says
    when, and the two always agree (constraint).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # type: ignore[assignment]  # not "prefix.hash"
    # Replaced by created_at, the name every other resource uses.
    created = None  # type: ignore[assignment]
    # Covered by api_key_user_created_idx (user first), so no single-column index.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", db_index=False
    )
    scopes = models.JSONField(default=list, help_text="A subset of the ApiKeyScope values.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Written at most once a minute per key (see parcel_service.http.api_keys), not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyManager()  # type: ignore[assignment,misc]  # the library's manager, typed narrower in its stubs

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked=False, revoked_at__isnull=True) | Q(revoked=True, revoked_at__isnull=False),
                name="api_key_revoked_at_iff_revoked",
            ),
        ]
        indexes = [
            # The owner's list, newest first (cursor pagination on created_at with the id as tie-breaker).
            models.Index(fields=["user", "-created_at", "-id"], name="api_key_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class WebhookEventType(models.TextChoices):
    """What a webhook endpoint can subscribe to (``webhook.test`` is sent on request, to any endpoint)."""

    PARCEL_CREATED = "parcel.created"
    PARCEL_UPDATED = "parcel.updated"
    PARCEL_STATUS_CHANGED = "parcel.status_changed"


WEBHOOK_TEST = "webhook.test"


class WebhookEndpoint(models.Model):
    """A URL a customer (their own parcels) or staff (every parcel) receives signed change messages at.

    The secret signs messages, so it is kept as is (an HMAC key cannot be hashed); it leaves the service
    only in the answers to a create and a rotation. A rotated-out secret keeps signing beside the new one
    until ``previous_secret_expires_at``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Covered by webhook_endpoint_owner_created_idx (owner first), so no single-column index.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints", db_index=False
    )
    url = models.CharField(max_length=2048)
    events = models.JSONField(help_text="A non-empty subset of the WebhookEventType values.")
    description = models.CharField(max_length=200, blank=True, default="")
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    secret = models.CharField(max_length=64)
    previous_secret = models.CharField(max_length=64, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # When the current run of failed attempts began (None after a success): disabling counts from it.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["owner", "-created_at", "-id"], name="webhook_endpoint_owner_idx")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One message to one endpoint: the transactional outbox row and its delivery log in one.

    Written in the transaction of the change it reports, so it exists exactly when the change committed.
    ``snapshot`` holds the parcel (and event) rows as the change left them; the message body is rendered from
    it, the same on every attempt. ``next_attempt_at`` is when it is due (None once it succeeded or failed
    for good): retries wait here, in the database, not in the broker.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Covered by webhook_delivery_endpoint_idx (endpoint first), so no single-column index.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event_type = models.CharField(max_length=32)
    # Not a foreign key: parcels are never deleted, and the outbox insert is on the hottest write path.
    parcel_id = models.UUIDField(null=True, blank=True)
    snapshot = models.JSONField(help_text="The rows the message describes, as the change left them.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While an attempt is in flight: no other worker may start one before this (a killed worker's lease runs out).
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The endpoint's delivery log, newest first (cursor pagination).
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_endpoint_idx"),
            # What the dispatcher looks for: the due, pending rows; delivered ones stay out of the index.
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due_idx", condition=Q(status="pending")),
            # The purge of finished (succeeded or failed) messages after 30 days.
            models.Index(fields=["created_at"], name="webhook_delivery_done_idx", condition=~Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id} ({self.status})"
