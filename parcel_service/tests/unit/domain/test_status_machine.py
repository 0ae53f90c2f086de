import pytest

from parcel_service.domain.status_machine import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    ParcelStatus,
    can_be_labelled,
    can_transition,
    describe_transitions,
    predecessors,
)

# The table from API.md, written out independently so a change to the code's table is caught here.
API_MD_TABLE = {
    "pending": {"in_transit", "exception", "cancelled"},
    "in_transit": {"out_for_delivery", "available_for_pickup", "delivery_failed", "exception", "delivered", "lost"},
    "out_for_delivery": {"delivered", "delivery_failed", "available_for_pickup", "exception", "in_transit"},
    "delivery_failed": {"out_for_delivery", "available_for_pickup", "in_transit", "exception", "returned"},
    "available_for_pickup": {"delivered", "returned", "exception"},
    "exception": {
        "in_transit",
        "out_for_delivery",
        "delivery_failed",
        "available_for_pickup",
        "delivered",
        "returned",
        "lost",
    },
    "delivered": set(),
    "returned": set(),
    "cancelled": set(),
    "lost": set(),
}
ALL_PAIRS = [(a, b) for a in ParcelStatus.values for b in ParcelStatus.values]


def test_table_matches_api_md():
    assert {k.value: {s.value for s in v} for k, v in ALLOWED_TRANSITIONS.items()} == API_MD_TABLE


def test_terminal_statuses():
    assert {s.value for s in TERMINAL_STATUSES} == {"delivered", "returned", "cancelled", "lost"}


@pytest.mark.parametrize(("current", "new"), ALL_PAIRS)
def test_every_pair_follows_the_table(current, new):
    expected = new in API_MD_TABLE[current] or (current == new and current not in TERMINAL_STATUSES)
    assert can_transition(current, new) is expected


def test_repeating_a_terminal_status_is_refused():
    assert not can_transition("delivered", "delivered")


def test_repeating_a_non_terminal_status_is_another_scan():
    assert can_transition("in_transit", "in_transit")


def test_description_lists_every_status():
    text = describe_transitions()
    assert all(f"| {status} |" in text for status in ParcelStatus.values)


def test_the_contract_in_docs_shows_the_same_table():
    from pathlib import Path

    from django.conf import settings

    contract = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    section = contract[contract.index("### Status machine") : contract.index("## Endpoints")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells[0] not in ("from", "---"):
            for status in cells[0].split(", "):
                rows[status] = set() if cells[1] == "—" else set(cells[1].split(", "))
    assert rows == API_MD_TABLE


def test_predecessors_are_the_statuses_an_event_may_follow():
    assert predecessors("delivered") == ["in_transit", "out_for_delivery", "available_for_pickup", "exception"]
    assert predecessors("pending") == ["pending"]  # nothing leads back to pending; a repeat is another scan
    assert predecessors("cancelled") == ["pending"]  # and a terminal status is never repeated
    for status in ParcelStatus:
        assert not set(predecessors(status)) & {s.value for s in TERMINAL_STATUSES}


@pytest.mark.parametrize("status", list(ParcelStatus))
def test_every_parcel_but_a_cancelled_one_can_have_a_shipping_label(status):
    assert can_be_labelled(status) is (status != ParcelStatus.CANCELLED)
