"""API keys endpoints: a user issues, lists and revokes their keys (with a JWT: a key cannot manage keys)."""

from __future__ import annotations

from typing import cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from ..models import ApiKey
from . import examples
from .pagination import ApiKeyCursorPagination
from .permissions import HasRequiredScope
from .schema import problems
from .serializers import ApiKeyCreatedSerializer, ApiKeyCreateSerializer, ApiKeySerializer
from .services import get_api_key_service
from .views import UUID_PATTERN


@extend_schema_view(
    list=extend_schema(
        summary="List your API keys",
        description="Newest first, revoked ones included (with `revoked_at`), cursor-paginated. Never the key.",
        parameters=[
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1},
                description="Default 25; larger values are clamped to 100; < 1 is a 400.",
            ),
            OpenApiParameter("cursor", str, description="Opaque cursor from `next` / `previous`."),
        ],
        responses={200: ApiKeySerializer(many=True), **problems(400, 401, 403, 429)},
        examples=examples.LIST_API_KEYS,
    ),
)
@extend_schema(tags=["api-keys"])
class ApiKeyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's API keys: issue one (the key is in that response only), list them, revoke one."""

    serializer_class = ApiKeySerializer
    permission_classes = [IsAuthenticated, HasRequiredScope]
    # None: with a JWT only. A key that could mint keys would outlive its own revocation.
    required_scopes = {"create": None, "list": None, "destroy": None}
    pagination_class = ApiKeyCursorPagination
    filter_backends: list = []
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> QuerySet[ApiKey]:
        """Your own keys; staff may revoke anyone's."""
        if self.action == "destroy" and self.request.user.is_staff:
            return ApiKey.objects.all()
        return ApiKey.objects.filter(user_id=cast(int, self.request.user.pk))  # authenticated: never None

    @extend_schema(
        summary="Create an API key",
        description="The response carries the key itself, once: store it. Send it as `Authorization: Api-Key <key>`. "
        "The key acts as you, limited to its scopes (a carrier scope on a customer's key gives no carrier rights).",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **problems(400, 401, 403, 413, 415, 429)},
        examples=examples.CREATE_API_KEY,
    )
    def create(self, request: Request) -> Response:
        """Issue a key for the caller; 201 with the key."""
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, key = get_api_key_service().create(user=request.user, **serializer.validated_data)
        return Response({**ApiKeySerializer(api_key).data, "key": key}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an API key",
        description="Refused from the next request on, by every worker. Revoking a revoked key changes nothing.",
        responses={204: OpenApiResponse(description="Revoked."), **problems(401, 403, 404, 429)},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        """Revoke the key (owner or staff)."""
        get_api_key_service().revoke(api_key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
