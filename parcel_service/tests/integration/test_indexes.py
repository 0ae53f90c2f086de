"""The PostgreSQL indexes: every list ordering is served by one, and nothing else is indexed.

Each index is one more page written when an event updates a parcel (such an update is never HOT, since
``updated_at`` is indexed), so an index that no query needs is a cost on the hottest write path.
"""

import uuid

import pytest
from django.db import connection

from parcel_service.models import Parcel, TrackingEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PARCEL_INDEXES = {
    "parcel_service_parcel_pkey",
    "parcel_tracking_number_unique",
    "parcel_owner_created_idx",
    "parcel_owner_updated_idx",
    "parcel_created_idx",
    "parcel_updated_idx",
    "parcel_owner_reference_idx",
}
EVENT_INDEXES = {"parcel_service_trackingevent_pkey", "event_parcel_sequence_unique"}


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def plan(queryset) -> str:
    # On near-empty tables the planner rightly prefers a sequential scan; with it disabled, it still
    # picks a sort over a scan when no index matches, which is what these tests look for.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def test_parcel_and_event_tables_carry_only_the_indexes_the_queries_use():
    assert index_names(Parcel._meta.db_table) == PARCEL_INDEXES
    assert index_names(TrackingEvent._meta.db_table) == EVENT_INDEXES


@pytest.mark.parametrize("ordering", ["created_at", "-created_at", "updated_at", "-updated_at"])
@pytest.mark.parametrize("per_owner", [True, False], ids=["customer", "carrier"])
def test_every_list_ordering_reads_an_index_without_sorting(ordering, per_owner):
    direction = "-" if ordering.startswith("-") else ""
    queryset = Parcel.objects.order_by(ordering, f"{direction}id")
    if per_owner:
        queryset = queryset.filter(owner_id=1)
    text = plan(queryset[:26])
    assert "Index Scan" in text
    assert "Sort" not in text


def test_tracking_lookup_and_timeline_use_their_indexes():
    assert "parcel_tracking_number_unique" in plan(Parcel.objects.filter(tracking_number="CP000000000NL"))
    timeline = TrackingEvent.objects.filter(parcel_id=uuid.uuid4()).order_by("sequence")
    text = plan(timeline)
    assert "event_parcel_sequence_unique" in text
    assert "Sort" not in text
