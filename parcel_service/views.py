"""HTTP layer: viewsets and views. Parsing, authorization, status codes and headers; no business rules."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import health
from .schema import HealthSerializer


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
        responses={200: ReadinessSerializer, 503: ReadinessSerializer},
    )
    def get(self, request: Request) -> Response:
        """Check the database and the cache and report each."""
        checks = {"database": health.database_status(), "cache": health.cache_status()}
        if checks["database"] != "ok":
            return Response({"status": "unavailable", "checks": checks}, status=503, headers={"Retry-After": "5"})
        overall = "ok" if checks["cache"] == "ok" else "degraded"
        return Response({"status": overall, "checks": checks})
