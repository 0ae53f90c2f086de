"""One DRF ``APIView`` with DRF's default authentication, permission and renderer classes."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class HealthView(APIView):
    """Answers ``{"status": "ok"}``, as the textbook liveness view would."""

    def get(self, request: Request) -> Response:
        """Report that the process is alive."""
        return Response({"status": "ok"})
