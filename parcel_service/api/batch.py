"""Carrier batch events: ``POST /api/v1/events/batch/`` records up to 1000 scans in one request, each on its own."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..domain.errors import ParcelServiceError
from ..domain.status_machine import describe_transitions
from ..models import ApiKeyScope, Parcel, TrackingEvent
from . import examples
from .idempotency import idempotent
from .permissions import HasRequiredScope, IsCarrierOrStaff
from .problems import problem_for
from .schema import problems
from .serializers import BatchEventsResponseSerializer, BatchEventsSerializer, TrackingEventSerializer
from .services import get_parcel_service
from .views import IDEMPOTENCY_PARAMETER, replayed_header

REPLAYED_HEADER = replayed_header(200)


# One instance renders every event of a batch: building a serializer per item costs more than rendering it.
_EVENT = TrackingEventSerializer()


def item_result(index: int, outcome: TrackingEvent | ParcelServiceError | ValidationError) -> dict[str, Any]:
    """One item's entry in the answer: 201 and the event, or the item's own problem details."""
    if isinstance(outcome, TrackingEvent):
        event = _EVENT.to_representation(outcome)
        return {"index": index, "status": 201, "event": event, "parcel_id": str(outcome.parcel_id)}
    problem = problem_for(outcome, pointer=f"/events/{index}")
    return {"index": index, "status": problem["status"], "problem": problem}


class BatchEventsView(APIView):
    """A carrier's scans in bulk: every item is what a single ``POST /parcels/{id}/events/`` would be."""

    permission_classes = [IsAuthenticated, HasRequiredScope, IsCarrierOrStaff]
    required_scopes = {"POST": ApiKeyScope.EVENTS_WRITE}

    @extend_schema(
        tags=["events"],
        operation_id="events_batch_create",
        summary="Record tracking events in bulk",
        description="Carriers and staff only. 1-1000 events, each naming its parcel by tracking number, applied in "
        "list order (two items for one parcel: the first, then the second), each on its own: one item's failure "
        "never undoes another's. Every applied item is exactly a single recorded event (status machine, row lock, "
        "caches). The answer is a 200 with one result per item, in order: 201 and the event, or the item's own "
        "problem details (400 malformed number or invalid fields, 404 no such parcel, 409 not allowed now). "
        "A body that is not a list of 1-1000 objects is a 400 and nothing is applied.\n\n" + describe_transitions(),
        parameters=[IDEMPOTENCY_PARAMETER, REPLAYED_HEADER],
        request=BatchEventsSerializer,
        responses={200: BatchEventsResponseSerializer, **problems(400, 401, 403, 409, 413, 415, 422, 429)},
        examples=examples.BATCH_EVENTS,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        """Validate each item, record the valid ones in one transaction, answer per item."""
        serializer = BatchEventsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["events"]
        valid = [index for index, item in enumerate(items) if not isinstance(item, ValidationError)]
        recorded = get_parcel_service().record_events(
            items=[items[index] for index in valid], visible=Parcel.objects.visible_to(request.user), actor=request.user
        )
        outcomes = dict(zip(valid, recorded, strict=True))
        results = [item_result(index, outcomes.get(index, item)) for index, item in enumerate(items)]
        created = sum(result["status"] == 201 for result in results)
        return Response({"results": results, "summary": {"created": created, "failed": len(results) - created}})
