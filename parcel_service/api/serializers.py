"""Request and response shapes: separate input and output serializers with unique names.

Input serializers derive from ``StrictSerializer``, which rejects unknown and read-only fields
(400 ``unknown_field``, like Stripe) at every nesting level, and use strict scalar fields: a JSON
number is not a string and a string or boolean is not an integer, so a client's type mistake is
reported rather than silently coerced. DRF's ``CharField`` already refuses NUL characters, so they
never reach PostgreSQL (which cannot store them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pycountry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, ErrorDetail, ValidationError
from rest_framework_simplejwt import serializers as simplejwt_serializers
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from ..domain.errors import InvalidTrackingNumber
from ..domain.status_machine import ParcelStatus
from ..domain.tracking_numbers import normalize
from ..http.authentication import REVOKED_DETAIL, issued_before_password_change
from ..http.outbound import TargetNotAllowed, check_target
from ..models import (
    MAX_DIMENSION_MM,
    MAX_WEIGHT_GRAMS,
    MIN_DIMENSION_MM,
    MIN_WEIGHT_GRAMS,
    ApiKeyScope,
    WebhookDelivery,
    WebhookEventType,
)
from .labels import LabelFormat
from .problems import MAX_ERRORS
from .schema import ProblemSerializer

MAX_EVENT_CLOCK_SKEW = timedelta(minutes=5)
MAX_BATCH_EVENTS = 1000
# A tracking number as people type it (API.md: case-insensitive, spaces ignored); the check digit is checked too.
TRACKING_NUMBER_SCHEMA = {
    "type": "string",
    "maxLength": 64,
    "pattern": "^( *[A-Za-z]){2}( *[0-9]){9}( *[A-Za-z]){2} *$",
}


class StrictStringMixin:
    """Accept only JSON strings, verbatim.

    DRF's string fields would otherwise turn ``123`` into ``"123"``, and trim whitespace: that silently
    alters what the client sent and can turn a valid value invalid (a phone ``"8)5 "`` matches the
    documented pattern; trimmed, it no longer does). The API stores what it was given.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        """Reject non-string input, then validate as the field normally does."""
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]  # a mixin: the Field it precedes has fail()
        return super().to_internal_value(data)  # type: ignore[misc]  # the Field after this mixin in the MRO


class StrictCharField(StrictStringMixin, serializers.CharField):
    """A ``CharField`` that accepts only JSON strings, verbatim."""


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    """An ``EmailField`` that accepts only JSON strings."""


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    """A ``RegexField`` that accepts only JSON strings."""


class StrictIntegerField(serializers.IntegerField):
    """An ``IntegerField`` that accepts only JSON integers (not booleans, strings or fractions)."""

    def to_internal_value(self, data: Any) -> int:
        """Reject anything but an integer."""
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Base for input serializers: unknown or read-only fields are a 400 ``unknown_field``, not ignored.

    The outermost strict serializer looks for them at every level at once, so one answer names every unknown
    field with its pointer (``/sender/nickname`` too, beside a top-level typo). It stops after one more than
    a problem lists: a body of 90,000 unknown keys costs the first 101, not 90,000 error entries.
    """

    def to_internal_value(self, data: Any) -> Any:
        """Refuse keys that are not writable fields, each with its own pointer, before validating the rest."""
        if not _checked_by_an_ancestor(self):
            unknown = list(islice(unknown_fields(self, data), MAX_ERRORS + 1))
            if unknown:
                raise ValidationError(_unknown_field_errors(unknown))
        return super().to_internal_value(data)


def _checked_by_an_ancestor(field: serializers.Field) -> bool:
    """Whether an outer strict serializer already checked this one's keys (items validated one by one are not)."""
    parent = field.parent
    while parent is not None:
        if isinstance(parent, ItemByItemListSerializer):
            return False
        if isinstance(parent, StrictSerializer):
            return True
        parent = parent.parent
    return False


def unknown_fields(field: serializers.Field, data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every key that ``field`` (a serializer, nested or many) does not accept, in document order.

    Only strict serializers refuse keys; the walk still descends through others to the strict ones inside.
    """
    if isinstance(field, ItemByItemListSerializer):
        return  # each item is checked on its own, and its unknown fields are that item's problem
    if isinstance(field, serializers.ListSerializer):
        if isinstance(data, list) and field.child is not None:
            for index, item in enumerate(data):
                yield from unknown_fields(field.child, item, (*path, str(index)))
    elif isinstance(field, serializers.Serializer) and isinstance(data, Mapping):
        strict = isinstance(field, StrictSerializer)
        fields = field.fields
        for key, value in data.items():
            child = fields.get(key)
            if child is None or child.read_only:
                if strict:
                    yield (*path, key)
            else:
                yield from unknown_fields(child, value, (*path, key))


def _unknown_field_errors(paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """Nest ``unknown_field`` errors by path, as DRF nests a serializer's errors (the handler makes pointers)."""
    errors: dict[str, Any] = {}
    for path in paths:
        node = errors
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = [ErrorDetail("Unknown or read-only field.", code="unknown_field")]
    return errors


def _country_pattern() -> str:
    """A regular expression matching exactly the assigned codes, in any letter case, for the OpenAPI schema."""
    alternatives = "|".join(
        "".join(f"[{letter}{letter.lower()}]" for letter in country.alpha_2)
        for country in sorted(pycountry.countries, key=lambda c: c.alpha_2)
    )
    return f"^(?:{alternatives})$"


@extend_schema_field({"type": "string", "minLength": 2, "maxLength": 2, "pattern": _country_pattern()})
class CountryField(StrictCharField):
    """An ISO 3166-1 alpha-2 country code that is really assigned; case-insensitive in, upper-case out."""

    default_error_messages = {"invalid_country": "Not an assigned ISO 3166-1 alpha-2 country code."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 2)
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        """Validate against the ISO 3166-1 list shipped by pycountry."""
        code = super().to_internal_value(data).upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            self.fail("invalid_country")
        return code


class AddressInputSerializer(StrictSerializer):
    """A postal address as clients send it."""

    name = StrictCharField(min_length=1, max_length=100)
    company = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    street = StrictCharField(min_length=1, max_length=200)
    street2 = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    city = StrictCharField(min_length=1, max_length=100)
    postal_code = StrictCharField(min_length=1, max_length=16)
    country = CountryField(help_text="ISO 3166-1 alpha-2, e.g. NL.")
    email = StrictEmailField(max_length=254, required=False, allow_blank=True, default="")
    phone = StrictRegexField(r"^\+?[0-9 ()-]{4,20}$", max_length=21, required=False, allow_blank=True, default="")


class AddressSerializer(serializers.Serializer):
    """A postal address as the API returns it."""

    name = serializers.CharField()
    company = serializers.CharField()
    street = serializers.CharField()
    street2 = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()


class DimensionsInputSerializer(StrictSerializer):
    """Outer dimensions in millimetres; all three are required when dimensions are given."""

    length = StrictIntegerField(min_value=MIN_DIMENSION_MM, max_value=MAX_DIMENSION_MM)
    width = StrictIntegerField(min_value=MIN_DIMENSION_MM, max_value=MAX_DIMENSION_MM)
    height = StrictIntegerField(min_value=MIN_DIMENSION_MM, max_value=MAX_DIMENSION_MM)


class DimensionsSerializer(serializers.Serializer):
    """Outer dimensions in millimetres, as returned."""

    length = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ParcelCreateSerializer(StrictSerializer):
    """Body of ``POST /api/v1/parcels/``."""

    reference = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    sender = AddressInputSerializer()
    recipient = AddressInputSerializer()
    weight_grams = StrictIntegerField(min_value=MIN_WEIGHT_GRAMS, max_value=MAX_WEIGHT_GRAMS)
    dimensions_mm = DimensionsInputSerializer(required=False, allow_null=True, default=None)


class ParcelUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /api/v1/parcels/{id}/``: any subset of the editable fields.

    Used without DRF's ``partial`` flag on purpose: with it, nested required fields would be skipped
    too, and API.md says an address in the body replaces the whole address, so it must be complete.
    """

    reference = StrictCharField(max_length=64, required=False, allow_blank=True)
    sender = AddressInputSerializer(required=False)
    recipient = AddressInputSerializer(required=False)
    weight_grams = StrictIntegerField(min_value=MIN_WEIGHT_GRAMS, max_value=MAX_WEIGHT_GRAMS, required=False)
    dimensions_mm = DimensionsInputSerializer(required=False, allow_null=True)


class ParcelSerializer(serializers.Serializer):
    """A parcel as the API returns it."""

    id = serializers.UUIDField(read_only=True)
    tracking_number = serializers.CharField(read_only=True, help_text="UPU S10, e.g. CP123456785NL.")
    status = serializers.ChoiceField(choices=ParcelStatus.choices, read_only=True)
    reference = serializers.CharField(read_only=True)
    sender = AddressSerializer(read_only=True)
    recipient = AddressSerializer(read_only=True)
    weight_grams = serializers.IntegerField(read_only=True)
    dimensions_mm = DimensionsSerializer(read_only=True, allow_null=True)
    estimated_delivery = serializers.DateField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """Render a parcel: the declared fields above, spelled out by hand.

        Profiling showed DRF's generic field-by-field rendering (two nested serializers per parcel)
        dominating list responses. The declared fields still define the OpenAPI schema, and a unit test
        asserts this output equals DRF's generic rendering for every field.
        """
        return {
            "id": str(instance.id),
            "tracking_number": instance.tracking_number,
            "status": instance.status,
            "reference": instance.reference,
            "sender": instance.sender,
            "recipient": instance.recipient,
            "weight_grams": instance.weight_grams,
            "dimensions_mm": instance.dimensions_mm,
            "estimated_delivery": instance.estimated_delivery.isoformat() if instance.estimated_delivery else None,
            "created_at": rfc3339(instance.created_at),
            "updated_at": rfc3339(instance.updated_at),
        }


def rfc3339(value: datetime) -> str:
    """Format an aware datetime exactly as DRF's ``DateTimeField`` does with ``TIME_ZONE = "UTC"``."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class CancelRequestSerializer(StrictSerializer):
    """Body of ``POST /api/v1/parcels/{id}/cancel/``: empty (any field is refused)."""


class LabelQuerySerializer(serializers.Serializer):
    """A label's query string: its format."""

    format = serializers.ChoiceField(choices=[f.value for f in LabelFormat])


class TrackingEventCreateSerializer(StrictSerializer):
    """Body of ``POST /api/v1/parcels/{id}/events/``."""

    status = serializers.ChoiceField(choices=ParcelStatus.choices)
    location = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    description = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened (RFC 3339); default now; at most 5 minutes in the future."
    )
    estimated_delivery = serializers.DateField(
        required=False, allow_null=True, help_text="Updates the parcel's estimated delivery date."
    )

    def validate_occurred_at(self, value: Any) -> Any:
        """Refuse events dated more than five minutes ahead (a carrier clock that is badly off)."""
        if value > timezone.now() + MAX_EVENT_CLOCK_SKEW:
            raise ValidationError("Must not be more than 5 minutes in the future.", code="in_future")
        return value


class TrackingEventSerializer(serializers.Serializer):
    """A tracking event as the API returns it."""

    id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=ParcelStatus.choices, read_only=True)
    location = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    occurred_at = serializers.DateTimeField(read_only=True)
    recorded_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """Render an event: the declared fields above, spelled out by hand (see ``ParcelSerializer``).

        Building the declared fields costs more than the rendering (DRF deep-copies them per serializer),
        and this is the answer to every recorded event. A unit test asserts it equals DRF's generic output.
        """
        return {
            "id": str(instance.id),
            "status": instance.status,
            "location": instance.location,
            "description": instance.description,
            "occurred_at": rfc3339(instance.occurred_at),
            "recorded_at": rfc3339(instance.recorded_at),
        }


@extend_schema_field(TRACKING_NUMBER_SCHEMA)
class TrackingNumberField(StrictCharField):
    """An S10 tracking number as typed (case and spaces ignored): normalised, with its check digit verified."""

    def to_internal_value(self, data: Any) -> str:
        """Normalise, or refuse with ``invalid_tracking_number`` (the 400 public tracking answers too)."""
        try:
            return normalize(super().to_internal_value(data))
        except InvalidTrackingNumber as error:
            raise ValidationError(error.detail, code=error.code) from None


class ItemByItemListSerializer(serializers.ListSerializer):
    """A list whose items are validated one by one: each item's validated data, or its own ``ValidationError``.

    Only the list itself — not a list, too short or long, an item that is not an object — fails the body.
    """

    default_error_messages = {"not_an_object": "Expected an object."}

    def to_internal_value(self, data: Any) -> list[Any]:
        """Check the list's shape, then validate each item on its own (the child's fields are built once)."""
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not data and not self.allow_empty:
            self.fail("empty")
        # DRF 3.15's ListSerializer takes min_length and max_length; its stubs predate them.
        min_length, max_length = getattr(self, "min_length", None), getattr(self, "max_length", None)
        if min_length is not None and len(data) < min_length:
            self.fail("min_length", min_length=min_length)
        if max_length is not None and len(data) > max_length:
            self.fail("max_length", max_length=max_length)
        message = self.error_messages["not_an_object"]
        not_objects = {index: [message] for index, item in enumerate(data) if not isinstance(item, Mapping)}
        if not_objects:
            raise ValidationError(not_objects, code="not_an_object")  # type: ignore[arg-type]  # index keys, as DRF
        results: list[Any] = []
        for item in data:
            try:
                results.append(self.child.run_validation(item))  # type: ignore[union-attr]  # many=True sets it
            except ValidationError as error:
                results.append(error)
        return results


class BatchEventItemSerializer(TrackingEventCreateSerializer):
    """One item of ``POST /api/v1/events/batch/``: a tracking event and the tracking number of its parcel."""

    tracking_number = TrackingNumberField(help_text="UPU S10, e.g. CP123456785NL; case-insensitive, spaces ignored.")

    class Meta:
        list_serializer_class = ItemByItemListSerializer


class BatchEventsSerializer(StrictSerializer):
    """Body of ``POST /api/v1/events/batch/``: 1-1000 events, applied in list order, each on its own."""

    events = BatchEventItemSerializer(  # type: ignore[call-arg]  # many=True: ListSerializer's arguments
        many=True, min_length=1, max_length=MAX_BATCH_EVENTS, allow_empty=False
    )


class BatchEventResultSerializer(serializers.Serializer):
    """The outcome of one item of a batch: the recorded event, or the item's own problem details."""

    index = serializers.IntegerField(help_text="The item's position in `events`, from 0.")
    status = serializers.IntegerField(help_text="201 when recorded, else the status of `problem`.")
    event = TrackingEventSerializer(required=False, help_text="When recorded.")
    parcel_id = serializers.UUIDField(required=False, help_text="When recorded: the parcel the event belongs to.")
    problem = ProblemSerializer(required=False, help_text="When not recorded: why (400, 404 or 409).")


class BatchEventsSummarySerializer(serializers.Serializer):
    """How many items of a batch were recorded and how many were not."""

    created = serializers.IntegerField()
    failed = serializers.IntegerField()


class BatchEventsResponseSerializer(serializers.Serializer):
    """The answer to a batch: one result per item, in order, and a summary."""

    results = BatchEventResultSerializer(many=True)
    summary = BatchEventsSummarySerializer()


class ApiKeyCreateSerializer(StrictSerializer):
    """Body of ``POST /api/v1/api-keys/``."""

    name = StrictCharField(min_length=1, max_length=50, help_text="What the key is for, e.g. the integration.")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices),
        min_length=1,
        max_length=len(ApiKeyScope),
        help_text="What the key may do, within what its user may do.",
    )


class ApiKeySerializer(serializers.Serializer):
    """An API key as listed: never the key itself, which only the response to its creation carries."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True, help_text="The key's first 8 characters: how logs name it.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices), read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When it last authenticated a request (to the minute)."
    )
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """A new API key, with the key itself: shown this once, and never again."""

    key = serializers.CharField(read_only=True, help_text="Send as `Authorization: Api-Key <key>`. Store it now.")


class WebhookUrlField(StrictCharField):
    """A webhook URL: ``https`` to a host whose every address is public (API.md "SSRF"), checked now."""

    def to_internal_value(self, data: Any) -> str:
        """The URL, once ``check_target`` resolved its host and found it allowed."""
        url = super().to_internal_value(data)
        try:
            check_target(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
        except TargetNotAllowed as refusal:
            raise ValidationError(str(refusal), code="webhook_url_not_allowed") from None
        return url


class WebhookEndpointWriteSerializer(StrictSerializer):
    """Body of ``POST /api/v1/webhooks/`` (and, every field optional, of its PATCH)."""

    url = WebhookUrlField(max_length=2048, help_text="`https` only; a host that resolves to a public address.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        min_length=1,
        max_length=len(WebhookEventType) * 2,
        help_text="The changes to be told of.",
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True)


class WebhookEndpointUpdateSerializer(WebhookEndpointWriteSerializer):
    """Body of ``PATCH /api/v1/webhooks/{id}/``: any of the fields; ``is_active: true`` re-enables a disabled one."""

    is_active = serializers.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class WebhookEndpointSerializer(serializers.Serializer):
    """A webhook endpoint as listed: never its secret, which only the answers to a create and a rotation carry."""

    id = serializers.UUIDField(read_only=True)
    url = serializers.CharField(read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEventType.choices), read_only=True)
    description = serializers.CharField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    disabled_reason = serializers.CharField(read_only=True, help_text="Why it was disabled; empty while active.")
    created_at = serializers.DateTimeField(read_only=True)


class WebhookSecretSerializer(serializers.Serializer):
    """A signing secret, shown this once."""

    secret = serializers.CharField(
        read_only=True, help_text="`whsec_` + base64 of 24 random bytes: verify each message's signature with it."
    )


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer, WebhookSecretSerializer):
    """A new webhook endpoint, with its signing secret: shown this once."""


class WebhookDeliverySerializer(serializers.Serializer):
    """One message to one endpoint and what became of it."""

    id = serializers.UUIDField(read_only=True, help_text="The message id: the `webhook-id` header of every attempt.")
    event_type = serializers.CharField(read_only=True)
    parcel_id = serializers.UUIDField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    last_status_code = serializers.IntegerField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True, help_text="Short, ours: never the receiver's body.")
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    delivered_at = serializers.DateTimeField(read_only=True, allow_null=True)


class PublicTrackingEventSerializer(serializers.Serializer):
    """A tracking event in the public tracking document: no ids, no people."""

    status = serializers.ChoiceField(choices=ParcelStatus.choices)
    location = serializers.CharField()
    description = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class PublicTrackingSerializer(serializers.Serializer):
    """The public tracking document: exactly these keys, nothing about people or addresses."""

    tracking_number = serializers.CharField()
    status = serializers.ChoiceField(choices=ParcelStatus.choices)
    estimated_delivery = serializers.DateField(allow_null=True)
    updated_at = serializers.DateTimeField()
    events = PublicTrackingEventSerializer(many=True)


# simplejwt's serializers trim whitespace: a username, password or token made only of whitespace-class
# characters (e.g. U+001C) became a "blank" 400 although it is a non-empty string, and a password with
# leading or trailing spaces could never match. Kept verbatim (as Django's own login form keeps passwords),
# a wrong one is simply wrong credentials or an invalid token: 401, as for any other.
class TokenObtainPairSerializer(simplejwt_serializers.TokenObtainPairSerializer):
    """Username and password, exchanged for an access and a refresh token."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = serializers.CharField(write_only=True, trim_whitespace=False)
        self.fields["password"] = simplejwt_serializers.PasswordField(trim_whitespace=False)


class TokenRefreshSerializer(simplejwt_serializers.TokenRefreshSerializer):
    """A refresh token, exchanged for a new access and refresh token pair; the one sent is spent."""

    refresh = serializers.CharField(write_only=True, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        """Check the refresh token and its user now (no cache), blacklist it and issue a new pair.

        Unlike simplejwt's own, this refuses a token issued under an old password, answers a deleted user
        with 401 (not a ``DoesNotExist`` 500), and lets only one of several concurrent uses of a token win.

        Raises:
            TokenError: The token is invalid, expired, spent or issued under an old password (the view's 401).
            AuthenticationFailed: Its user was deleted or deactivated.
        """
        try:
            used = self.token_class(attrs["refresh"])  # signature, expiry, type, and not blacklisted
        except ExpiredTokenError as error:
            login_url = reverse("parcel_service:token-obtain").rstrip("/") + "/"
            raise TokenError(f"Refresh token has expired; sign in again at {login_url}.") from error
        user_id = used.get(jwt_settings.USER_ID_CLAIM)
        user = get_user_model()._default_manager.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if issued_before_password_change(used, user):
            raise TokenError(REVOKED_DETAIL)
        with transaction.atomic():
            # The unique blacklist row decides a race: of two concurrent refreshes with one token, one creates it.
            spent, _ = OutstandingToken._default_manager.get_or_create(
                jti=used[jwt_settings.JTI_CLAIM],
                defaults={"user": user, "token": attrs["refresh"], "expires_at": datetime_from_epoch(used["exp"])},
            )
            _, first_use = BlacklistedToken._default_manager.get_or_create(token=spent)
            if not first_use:
                raise TokenError("Token is blacklisted")
            fresh = self.token_class.for_user(user)
        return {"access": str(fresh.access_token), "refresh": str(fresh)}
