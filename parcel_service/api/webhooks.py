"""Webhook endpoints: customers subscribe to their own parcels' changes, staff to every parcel's (API.md "Webhooks").

Each endpoint is its owner's alone (another user's is a 404, staff's included); carriers cannot subscribe. The
secret appears in two answers only: the create and a rotation.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from ..models import ApiKeyScope, WebhookDelivery, WebhookEndpoint, is_carrier
from .pagination import WebhookCursorPagination
from .permissions import HasRequiredScope
from .schema import problems
from .serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWriteSerializer,
    WebhookSecretSerializer,
)
from .services import get_webhook_service
from .views import UUID_PATTERN

PAGE_PARAMETERS = [
    OpenApiParameter(
        "page_size", {"type": "integer", "minimum": 1}, description="Default 25; larger values are clamped to 100."
    ),
    OpenApiParameter("cursor", str, description="Opaque cursor from `next` / `previous`."),
]


class IsNotCarrier(BasePermission):
    """Customers and staff; not carriers, who see every parcel but may not subscribe to them."""

    message = "Carriers cannot subscribe to webhooks."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Check the role."""
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or not is_carrier(user)))


@extend_schema_view(
    list=extend_schema(
        summary="List your webhook endpoints",
        description="Newest first, cursor-paginated. Never the secret.",
        parameters=PAGE_PARAMETERS,
        responses={200: WebhookEndpointSerializer(many=True), **problems(400, 401, 403, 429)},
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        responses={200: WebhookEndpointSerializer, **problems(401, 403, 404, 429)},
    ),
)
@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's webhook endpoints, their secrets, test messages and delivery logs."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAuthenticated, HasRequiredScope, IsNotCarrier]
    required_scopes = dict.fromkeys(
        ("list", "create", "retrieve", "partial_update", "destroy", "rotate_secret", "test", "redeliver"),
        ApiKeyScope.WEBHOOKS_MANAGE,
    )
    pagination_class = WebhookCursorPagination
    filter_backends: list = []
    lookup_value_regex = UUID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        """Your own endpoints (staff too: an endpoint is its owner's alone)."""
        return WebhookEndpoint.objects.filter(owner_id=cast(int, self.request.user.pk))  # authenticated: never None

    @extend_schema(
        summary="Subscribe a webhook endpoint",
        description="The response carries the signing secret, once: store it. The URL must be `https` to a host "
        "whose every address is public (400 `webhook_url_not_allowed` otherwise); it is checked again before every "
        "delivery. Customers receive their own parcels' changes, staff every parcel's.",
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **problems(400, 401, 403, 413, 415, 429)},
    )
    def create(self, request: Request) -> Response:
        """Subscribe an endpoint; 201 with its secret and ``Location``."""
        serializer = WebhookEndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = get_webhook_service().subscribe(owner=request.user, data=serializer.validated_data)
        body = {**WebhookEndpointSerializer(endpoint).data, "secret": endpoint.secret}
        return Response(
            body,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"{reverse('parcel_service:webhook-detail', kwargs={'pk': endpoint.pk})}/"},
        )

    @extend_schema(
        summary="Change a webhook endpoint",
        description="Any of `url`, `events`, `description`, `is_active`. `is_active: true` re-enables an endpoint "
        "that was disabled after failing; its messages that failed meanwhile can be redelivered.",
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, **problems(400, 401, 403, 404, 413, 415, 429)},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the endpoint; 200 with it."""
        endpoint = self.get_object()
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = get_webhook_service().update(endpoint=endpoint, data=serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Delete a webhook endpoint",
        description="Its pending messages are dropped with it.",
        responses={204: OpenApiResponse(description="Deleted."), **problems(401, 403, 404, 429)},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the endpoint and its delivery log."""
        return super().destroy(request, *args, **kwargs)

    @extend_schema(
        summary="Rotate a webhook endpoint's secret",
        description="A new secret, in this response only. For 24 hours messages carry two signatures, one per "
        "secret, so the receiver can switch at its own pace.",
        request=None,
        responses={200: WebhookSecretSerializer, **problems(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """Rotate the secret; 200 with the new one."""
        return Response({"secret": get_webhook_service().rotate_secret(endpoint=self.get_object())})

    @extend_schema(
        summary="Send a test message",
        description="Queues a `webhook.test` message to the endpoint; its delivery appears in the log.",
        request=None,
        responses={202: WebhookDeliverySerializer, **problems(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Queue a test message; 202 with its delivery."""
        delivery = get_webhook_service().send_test(endpoint=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Redeliver a message",
        description="A new attempt of the same message (the same `webhook-id`), whatever became of it so far.",
        request=None,
        responses={202: WebhookDeliverySerializer, **problems(401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"], url_path=rf"deliveries/(?P<delivery_id>{UUID_PATTERN})/redeliver")
    def redeliver(self, request: Request, pk: str, delivery_id: str) -> Response:
        """Queue the message again; 202 with its delivery."""
        delivery = get_object_or_404(WebhookDelivery, endpoint=self.get_object(), pk=delivery_id)
        delivery = get_webhook_service().redeliver(delivery=delivery)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["webhooks"],
    summary="List an endpoint's deliveries",
    description="Every message to the endpoint and what became of it, newest first, cursor-paginated.",
    parameters=PAGE_PARAMETERS,
    responses={200: WebhookDeliverySerializer(many=True), **problems(400, 401, 403, 404, 429)},
)
class WebhookDeliveryListView(generics.ListAPIView[WebhookDelivery]):
    """``GET /webhooks/{id}/deliveries/``: the delivery log of one of the caller's endpoints."""

    serializer_class = WebhookDeliverySerializer
    permission_classes = [IsAuthenticated, HasRequiredScope, IsNotCarrier]
    required_scopes = {"GET": ApiKeyScope.WEBHOOKS_MANAGE}
    pagination_class = WebhookCursorPagination
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        """The deliveries of the endpoint in the URL, if it is the caller's (else a 404)."""
        owner = cast(int, self.request.user.pk)  # authenticated: never None
        endpoint = get_object_or_404(WebhookEndpoint, pk=self.kwargs["pk"], owner_id=owner)
        return WebhookDelivery.objects.filter(endpoint=endpoint)
