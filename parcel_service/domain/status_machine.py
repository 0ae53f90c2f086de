"""The parcel status machine: the one transition table that services, the schema and the tests read.

Mirrors API.md ("Status machine"): ``pending`` is initial; ``delivered``, ``returned``, ``cancelled``
and ``lost`` are terminal; an event repeating the current non-terminal status is allowed (another
scan); anything else is an invalid transition.
"""

from __future__ import annotations

from django.db import models


class ParcelStatus(models.TextChoices):
    """Where a parcel is in its journey."""

    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERY_FAILED = "delivery_failed", "Delivery failed"
    AVAILABLE_FOR_PICKUP = "available_for_pickup", "Available for pickup"
    EXCEPTION = "exception", "Exception"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"
    LOST = "lost", "Lost"


S = ParcelStatus

ALLOWED_TRANSITIONS: dict[ParcelStatus, frozenset[ParcelStatus]] = {
    S.PENDING: frozenset({S.IN_TRANSIT, S.EXCEPTION, S.CANCELLED}),
    S.IN_TRANSIT: frozenset(
        {S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERY_FAILED, S.EXCEPTION, S.DELIVERED, S.LOST}
    ),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.DELIVERY_FAILED, S.AVAILABLE_FOR_PICKUP, S.EXCEPTION, S.IN_TRANSIT}),
    S.DELIVERY_FAILED: frozenset({S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.IN_TRANSIT, S.EXCEPTION, S.RETURNED}),
    S.AVAILABLE_FOR_PICKUP: frozenset({S.DELIVERED, S.RETURNED, S.EXCEPTION}),
    S.EXCEPTION: frozenset(
        {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED, S.AVAILABLE_FOR_PICKUP, S.DELIVERED, S.RETURNED, S.LOST}
    ),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
    S.LOST: frozenset(),
}

TERMINAL_STATUSES: frozenset[ParcelStatus] = frozenset(
    status for status, following in ALLOWED_TRANSITIONS.items() if not following
)


def can_transition(current: str, new: str) -> bool:
    """Return whether a parcel in ``current`` may record an event with status ``new``.

    Args:
        current: The parcel's status now.
        new: The status of the event being recorded.

    Returns:
        True if the table allows it, or if ``new`` repeats a non-terminal ``current`` (another scan).
    """
    current_status, new_status = ParcelStatus(current), ParcelStatus(new)
    if current_status == new_status:
        return current_status not in TERMINAL_STATUSES
    return new_status in ALLOWED_TRANSITIONS[current_status]


def predecessors(new: str) -> list[str]:
    """Return the statuses from which a parcel may record an event with status ``new`` (``can_transition``).

    Args:
        new: The status of the event being recorded.

    Returns:
        Status values, for a ``status = ANY(...)`` condition in SQL.
    """
    return list(_PREDECESSORS[new])


def can_be_labelled(status: str) -> bool:
    """Whether a shipping label may be printed for a parcel in ``status``: a cancelled parcel never ships."""
    return ParcelStatus(status) != ParcelStatus.CANCELLED


# Worked out once from the table: recording an event asks for its status's list every time.
_PREDECESSORS: dict[str, tuple[str, ...]] = {
    new.value: tuple(status.value for status in ParcelStatus if can_transition(status, new)) for new in ParcelStatus
}


def describe_transitions() -> str:
    """Render the table as Markdown for the OpenAPI description, so the docs cannot drift from the code."""
    lines = ["| from | allowed next |", "|---|---|"]
    for status, following in ALLOWED_TRANSITIONS.items():
        allowed = ", ".join(sorted(s.value for s in following)) or "— (terminal)"
        lines.append(f"| {status.value} | {allowed} |")
    lines.append("")
    lines.append("An event repeating the current non-terminal status is allowed (another scan).")
    return "\n".join(lines)
