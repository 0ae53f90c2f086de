"""HTTP layer: viewsets and views. Parsing, authorization, status codes and headers; no business rules.

Each action validates input with an input serializer, calls ``ParcelService``, serializes the result
with an output serializer and returns it. Querysets are scoped with ``visible_to`` so another
customer's parcel is a 404, indistinguishable from one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, AuthenticationFailed, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from ..domain.errors import InvalidTrackingNumber
from ..domain.status_machine import describe_transitions
from ..domain.tracking_numbers import normalize
from ..http import health
from ..http.throttling import AnonRateThrottle, ScopedRateThrottle
from ..models import ApiKeyScope, Parcel, TrackingEvent
from . import examples
from .conditional import expected_version, not_modified
from .documents import NOT_LOOKED_UP, tracking_cache_key
from .filters import ParcelFilter, StrictFilterBackend
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import idempotent
from .labels import LabelFormat, tracking_url
from .pagination import ORDERINGS, ParcelCursorPagination
from .permissions import HasRequiredScope, IsCarrierOrStaff, IsOwnerOrStaff
from .problems import QueryValidationError
from .schema import HealthSerializer, problems
from .serializers import (
    TRACKING_NUMBER_SCHEMA,
    CancelRequestSerializer,
    LabelQuerySerializer,
    ParcelCreateSerializer,
    ParcelSerializer,
    ParcelUpdateSerializer,
    PublicTrackingSerializer,
    TrackingEventCreateSerializer,
    TrackingEventSerializer,
)
from .services import get_documents, get_labels, get_parcel_service

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
JSON = "application/json"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    description="1-255 printable ASCII characters, unique per intended operation. A retry with the same key and "
    "body replays the first response (`Idempotent-Replayed: true`); a different body is a 422; while the first "
    "request runs, a 409. Kept 24 h, per user.",
)
IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="An ETag from a previous GET. If the parcel changed since, nothing is written and the answer is 412.",
)
IF_NONE_MATCH_PARAMETER = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, description="An ETag from a previous GET; unchanged → 304."
)


LOCATION_HEADER = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[201], description="The new parcel's URL."
)


def replayed_header(status: int) -> OpenApiParameter:
    """The ``Idempotent-Replayed`` response header, documented on ``status`` (the idempotent operation's success)."""
    return OpenApiParameter(
        "Idempotent-Replayed",
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        response=[status],
        description="Present on a replay: the stored answer to an earlier request with the same Idempotency-Key.",
    )


REPLAYED_HEADER = replayed_header(201)


def etag_header(*statuses: int) -> OpenApiParameter:
    """The ``ETag`` response header, documented on the given statuses."""
    return OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=list(statuses), description="Strong ETag.")


# `cursor` and `page_size` are documented by the pagination class itself.
LIST_PARAMETERS = [OpenApiParameter("ordering", str, enum=list(ORDERINGS), description="Default -created_at.")]


class LabelContentNegotiation(DefaultContentNegotiation):
    """Content negotiation for labels: ``?format=`` is the label's format, not a renderer's, and ``Accept`` is ignored.

    DRF would answer an unknown renderer format with a 404, and a print client's ``Accept: application/pdf``
    with a 406. The label's bytes are returned as they are; only problems go through the (JSON) renderer.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        """The view's first renderer (JSON, for problems), whatever the query and ``Accept`` say."""
        first = next(iter(renderers))
        return first, first.media_type


def public_tracking_url(request: Request, tracking_number: str) -> str:
    """Where a label's QR code links: ``PUBLIC_TRACKING_URL``, else public tracking on the request's own host."""
    # Routes reverse without their optional slash; the canonical form, as documented, has it.
    own = request.build_absolute_uri(reverse("parcel_service:track", kwargs={"tracking_number": tracking_number}) + "/")
    return tracking_url(settings.PUBLIC_TRACKING_URL, tracking_number, own)


LABEL_RESPONSE = OpenApiResponse(
    OpenApiTypes.BINARY,
    description="The label, with its ETag: `application/pdf` (one 4 x 6 inch page) for `format=pdf`, "
    "`application/zpl` (ZPL II, UTF-8 text) for `format=zpl`.",
)
LABEL_FORMAT_PARAMETER = OpenApiParameter(
    "format", str, enum=[f.value for f in LabelFormat], default=LabelFormat.PDF.value, description="Default pdf."
)


@extend_schema_view(
    list=extend_schema(
        summary="List parcels",
        description="Your parcels (customers) or all parcels (carriers, staff), newest first, cursor-paginated.",
        parameters=LIST_PARAMETERS,
        responses={200: ParcelSerializer(many=True), **problems(400, 401, 429)},
        examples=examples.LIST_PARCELS,
    ),
    retrieve=extend_schema(
        summary="Get a parcel",
        description="Returns a strong `ETag`; send it back in `If-None-Match` to get a 304 when nothing changed.",
        parameters=[IF_NONE_MATCH_PARAMETER, etag_header(200, 304)],
        responses={
            200: OpenApiResponse(ParcelSerializer, description="The parcel, with its ETag."),
            304: OpenApiResponse(description="Not modified since the ETag in If-None-Match."),
            **problems(401, 404, 429),
        },
        examples=examples.GET_PARCEL,
    ),
)
class ParcelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Parcels: create, list, read, edit while pending, cancel; their tracking events."""

    serializer_class = ParcelSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = ParcelCursorPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = ParcelFilter
    lookup_value_regex = UUID_PATTERN
    required_scopes = {
        "list": ApiKeyScope.PARCELS_READ,
        "retrieve": ApiKeyScope.PARCELS_READ,
        "events:GET": ApiKeyScope.PARCELS_READ,
        "create": ApiKeyScope.PARCELS_WRITE,
        "partial_update": ApiKeyScope.PARCELS_WRITE,
        "cancel": ApiKeyScope.PARCELS_WRITE,
        "events:POST": ApiKeyScope.EVENTS_WRITE,
        "label": ApiKeyScope.PARCELS_READ,
    }

    def get_queryset(self) -> QuerySet[Parcel]:
        """Only the parcels the caller may see."""
        return Parcel.objects.visible_to(self.request.user)

    def get_permissions(self) -> list[BasePermission]:
        """Reads need a login; edits need ownership (or staff); recording events needs the carrier role.

        Role checks run before the parcel is looked up, so a customer posting an event learns nothing
        about which ids exist. An API key also needs the operation's scope (``required_scopes``).
        """
        if self.action in ("partial_update", "cancel"):
            return [IsAuthenticated(), HasRequiredScope(), IsOwnerOrStaff()]
        if self.action == "events" and self.request.method == "POST":
            return [IsAuthenticated(), HasRequiredScope(), IsCarrierOrStaff()]
        return [IsAuthenticated(), HasRequiredScope()]

    def retrieve(self, request: Request, pk: str) -> HttpResponse:  # type: ignore[override]  # pre-rendered bytes
        """Return the parcel, pre-rendered (from the cache when warm), with its ETag; 304 if unchanged."""
        document = get_documents().parcel_document(parcel_id=pk, user=request.user)
        if document is None:
            raise NotFound()
        if not_modified(request, document.etag):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(document.body, content_type=JSON)
        response["ETag"] = document.etag
        return response

    @extend_schema(
        summary="Create a parcel",
        parameters=[IDEMPOTENCY_PARAMETER, LOCATION_HEADER, REPLAYED_HEADER],
        request=ParcelCreateSerializer,
        responses={201: ParcelSerializer, **problems(400, 401, 409, 413, 415, 422, 429)},
        examples=examples.CREATE_PARCEL,
    )
    @idempotent
    def create(self, request: Request) -> Response:
        """Create a pending parcel owned by the caller; 201 with ``Location``."""
        serializer = ParcelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        parcel = get_parcel_service().create(owner=request.user, data=serializer.validated_data)
        # Routes reverse without their optional slash; the canonical form, as documented, has it. Relative (RFC 9110
        # section 10.2.2): an absolute URL would be built from the Host header, port and all, whatever a client sent.
        location = reverse("parcel_service:parcel-detail", kwargs={"pk": parcel.pk}) + "/"
        return Response(ParcelSerializer(parcel).data, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(
        summary="Edit a pending parcel",
        description="Only while `pending`. An address in the body replaces the whole address.",
        parameters=[IF_MATCH_PARAMETER, etag_header(200)],
        request=ParcelUpdateSerializer,
        responses={200: ParcelSerializer, **problems(400, 401, 403, 404, 409, 412, 413, 415, 429)},
        examples=examples.UPDATE_PARCEL,
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        """Edit the parcel's editable fields."""
        parcel = self.get_object()
        serializer = ParcelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        parcel = get_parcel_service().update(
            parcel=parcel, data=serializer.validated_data, expected_version=expected_version(request, parcel)
        )
        return Response(ParcelSerializer(parcel).data, headers={"ETag": parcel.etag})

    @extend_schema(
        summary="Cancel a pending parcel",
        description="`pending` → `cancelled`, recording a `cancelled` event. Any other status is a 409.",
        parameters=[IF_MATCH_PARAMETER, etag_header(200)],
        request=CancelRequestSerializer,
        responses={200: ParcelSerializer, **problems(400, 401, 403, 404, 409, 412, 415, 429)},
        examples=examples.CANCEL_PARCEL,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Cancel the parcel."""
        parcel = self.get_object()
        CancelRequestSerializer(data=request.data or {}).is_valid(raise_exception=True)
        parcel = get_parcel_service().cancel(
            parcel=parcel, actor=request.user, expected_version=expected_version(request, parcel)
        )
        return Response(ParcelSerializer(parcel).data, headers={"ETag": parcel.etag})

    @extend_schema(
        summary="Print a parcel's shipping label",
        description="A 4 x 6 inch label: sender, recipient, weight, reference, the tracking number as Code 128 and "
        "in print, and a QR code of the public tracking URL. `pdf` (default) embeds its fonts, so names in any "
        "Latin, Greek, Cyrillic or CJK script print; `zpl` is for Zebra printers (203 dpi, UTF-8, the printer's "
        "font 0). Returns an `ETag`; send it in `If-None-Match` to get a 304 while the parcel is unchanged. "
        "A cancelled parcel has no label (409 `parcel_not_labelable`); without the label fonts installed a PDF "
        "is a 503 `labels_unavailable`.",
        parameters=[LABEL_FORMAT_PARAMETER, IF_NONE_MATCH_PARAMETER, etag_header(200, 304)],
        responses={
            (200, "application/pdf"): LABEL_RESPONSE,
            (200, "application/zpl"): LABEL_RESPONSE,
            304: OpenApiResponse(description="Not modified since the ETag in If-None-Match."),
            **problems(400, 401, 404, 409, 429, 503),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="label",
        url_name="label",
        content_negotiation_class=LabelContentNegotiation,
        pagination_class=None,
        filter_backends=[],
    )
    def label(self, request: Request, pk: str) -> HttpResponse:
        """The parcel's shipping label (rendered once per parcel version, then cached); 304 if unchanged."""
        # A plain dict, not the QueryDict: DRF would read an empty ?format= from a query string as "absent".
        query = LabelQuerySerializer(data={"format": request.query_params.get("format", LabelFormat.PDF.value)})
        if not query.is_valid():
            raise QueryValidationError(query.errors)
        parcel = self.get_object()
        label = get_labels().label(
            parcel=parcel,
            label_format=LabelFormat(query.validated_data["format"]),
            tracking_url=public_tracking_url(request, parcel.tracking_number),
        )
        if not_modified(request, label.etag):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(label.body(), content_type=label.content_type)
            response["Content-Disposition"] = f'inline; filename="{label.filename}"'
        response["ETag"] = label.etag
        return response

    @extend_schema(
        methods=["GET"],
        summary="List a parcel's tracking events",
        description="Oldest first, in the order the events were recorded (a per-parcel sequence taken under the "
        "row lock); `occurred_at` is shown but does not reorder the timeline.",
        responses={200: TrackingEventSerializer(many=True), **problems(401, 404, 429)},
        examples=examples.LIST_EVENTS,
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a tracking event",
        parameters=[IDEMPOTENCY_PARAMETER, REPLAYED_HEADER],
        description="Carriers and staff only. Moves the parcel through the status machine:\n\n"
        + describe_transitions()
        + "\n\nAnything else is a 409 `invalid_transition` and nothing is written.",
        request=TrackingEventCreateSerializer,
        responses={201: TrackingEventSerializer, **problems(400, 401, 403, 404, 409, 413, 415, 422, 429)},
        examples=examples.RECORD_EVENT,
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="events",
        url_name="events",
        pagination_class=None,  # a parcel's timeline is short and returned whole, as a plain array
        filter_backends=[],
    )
    def events(self, request: Request, pk: str) -> HttpResponse:
        """List the parcel's events (GET) or record a new one (POST)."""
        if request.method == "POST":
            return self._record_event(request)
        parcel = self.get_object()
        events = TrackingEvent.objects.filter(parcel=parcel).order_by("sequence")
        return Response(TrackingEventSerializer(events, many=True).data)

    @idempotent
    def _record_event(self, request: Request) -> Response:
        serializer = TrackingEventCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The service finds and locks the parcel in one query, within what the caller may see.
        event = get_parcel_service().record_event(
            parcel_id=self.kwargs["pk"], visible=self.get_queryset(), actor=request.user, data=serializer.validated_data
        )
        return Response(TrackingEventSerializer(event).data, status=status.HTTP_201_CREATED)


class TrackingView(APIView):
    """Public tracking by S10 number: anyone may ask; the answer holds nothing about people."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]  # per client IP; authentication is not even attempted here

    def throttle_prefetch_key(self, request: Request) -> str | None:
        """The cached document's key, read by the throttle in its own Redis round trip (measured: one of two)."""
        try:
            return tracking_cache_key(normalize(self.kwargs["tracking_number"]))
        except InvalidTrackingNumber:
            return None  # the handler answers 400

    @extend_schema(
        tags=["tracking"],
        operation_id="track_parcel",
        summary="Track a parcel",
        description="Case-insensitive; spaces are ignored. Malformed or wrong check digit → 400; unknown → 404.",
        parameters=[
            OpenApiParameter(
                "tracking_number",
                TRACKING_NUMBER_SCHEMA,
                OpenApiParameter.PATH,
                description="UPU S10, e.g. CP123456785NL; case-insensitive, spaces ignored. The last of the nine "
                "digits is a check digit: a number that matches the pattern but fails the check is a 400.",
            )
        ],
        responses={200: PublicTrackingSerializer, **problems(400, 404, 429)},
        examples=examples.TRACK,
    )
    def get(self, request: Request, tracking_number: str) -> HttpResponse:
        """Return the public tracking document (pre-rendered JSON, served from the cache when warm)."""
        prefetched = getattr(request, "throttle_prefetched", NOT_LOOKED_UP)
        document = get_documents().track(tracking_number=tracking_number, cached=prefetched)
        if document is None:
            raise NotFound("No parcel has this tracking number.")
        return HttpResponse(document, content_type=JSON)


class LoginLockedOut(APIException):
    """Too many failed sign-ins for this username from this address (django-axes); lasts ``AXES_COOLOFF_TIME``."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many failed sign-ins for this username from this address. Try again later."
    default_code = "locked_out"

    def __init__(self) -> None:
        super().__init__()
        self.wait = settings.AXES_COOLOFF_TIME.total_seconds()  # the Retry-After: a refused attempt restarts it


TOKEN_PAIR = inline_serializer("TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()})


@extend_schema(
    tags=["auth"],
    summary="Obtain a token pair",
    examples=examples.OBTAIN_TOKEN,
    description="Exchange username and password for an access and a refresh token. After repeated wrong passwords "
    "for one username from one address (5 by default) that username is locked out from that address for a while "
    "(15 minutes by default), even with the right password: 429 `locked_out` with `Retry-After`.",
    responses={200: TOKEN_PAIR, **problems(400, 401, 429)},
)
class TokenObtainView(jwt_views.TokenObtainPairView):
    """Exchange username and password for an access and a refresh token."""

    # Brute-force protection: a tight per-IP budget for password guesses (THROTTLE_AUTH), and django-axes'
    # lockout per username and address, whose authentication backend refuses even the right password.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Issue a token pair; a locked-out username and address get 429 ``locked_out`` instead of 401."""
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):  # set by axes on this request when it locks or refuses
                raise LoginLockedOut() from None
            raise


@extend_schema(
    tags=["auth"],
    examples=examples.REFRESH_TOKEN,
    summary="Refresh a token pair",
    description="Returns a new access token and a new refresh token. The refresh token sent is spent: sending it "
    "again is a 401. Tokens of a user who was deactivated, deleted or changed their password are refused.",
    responses={200: TOKEN_PAIR, **problems(400, 401, 429)},
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    """Exchange a refresh token for a new token pair; the refresh token sent cannot be used again."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class HealthView(APIView):
    """Liveness: the process can serve HTTP. Touches no dependency, so a database outage never restarts pods."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(tags=["health"], operation_id="health_live", responses={200: HealthSerializer})
    def get(self, request: Request) -> Response:
        """Report that the process is alive."""
        return Response({"status": "ok"})


ReadinessSerializer = inline_serializer(
    "Readiness",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "checks": inline_serializer(
            "ReadinessChecks",
            fields={
                "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
                "cache": serializers.ChoiceField(choices=["ok", "unavailable"]),
            },
        ),
    },
)


class ReadinessView(APIView):
    """Readiness: the database is required (503 without it); a cache outage only degrades the service."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        tags=["health"],
        operation_id="health_ready",
        responses={
            200: ReadinessSerializer,
            503: OpenApiResponse(ReadinessSerializer, description="The database is unavailable."),
        },
    )
    def get(self, request: Request) -> Response:
        """Check the database and the cache and report each."""
        checks = {"database": health.database_status(), "cache": health.cache_status()}
        if checks["database"] != "ok":
            return Response({"status": "unavailable", "checks": checks}, status=503, headers={"Retry-After": "5"})
        overall = "ok" if checks["cache"] == "ok" else "degraded"
        return Response({"status": overall, "checks": checks})
