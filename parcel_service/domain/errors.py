"""Domain errors: plain exceptions the workflow raises, each with a stable ``code`` and the HTTP status it maps to.

Nothing here knows DRF or HTTP responses; ``api.problems`` renders these as RFC 9457 problem details.
"""

from __future__ import annotations

from http import HTTPStatus


class ParcelServiceError(Exception):
    """Base of every domain error: carries a stable ``code`` and the HTTP status it maps to."""

    status_code: int = HTTPStatus.BAD_REQUEST
    code: str = "error"
    default_detail: str = "The request could not be processed."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class InvalidTrackingNumber(ParcelServiceError):
    """The tracking number is malformed or its S10 check digit is wrong."""

    status_code = HTTPStatus.BAD_REQUEST
    code = "invalid_tracking_number"
    default_detail = "Not a valid UPU S10 tracking number."


class ParcelNotFound(ParcelServiceError):
    """No such parcel, or not one the caller may see (the two are indistinguishable on purpose)."""

    status_code = HTTPStatus.NOT_FOUND
    code = "not_found"
    default_detail = "Not found."


class InvalidTransition(ParcelServiceError):
    """The event's status is not allowed after the parcel's current status."""

    status_code = HTTPStatus.CONFLICT
    code = "invalid_transition"
    default_detail = "This status change is not allowed."

    @classmethod
    def between(cls, current: str, wanted: str) -> InvalidTransition:
        """The error for ``current`` -> ``wanted``, worded as a sentence: "An in_transit parcel cannot become ..."."""
        article = "An" if current[:1] in ("a", "e", "i", "o", "u") else "A"
        return cls(f"{article} {current} parcel cannot become {wanted}.")


class ParcelNotEditable(ParcelServiceError):
    """The parcel has left ``pending`` and can no longer be edited or cancelled."""

    status_code = HTTPStatus.CONFLICT
    code = "parcel_not_editable"
    default_detail = "Only pending parcels can be changed."


class ParcelNotLabelable(ParcelServiceError):
    """The parcel was cancelled: it will not ship, so no label is printed for it."""

    status_code = HTTPStatus.CONFLICT
    code = "parcel_not_labelable"
    default_detail = "A cancelled parcel has no shipping label."


class PreconditionFailed(ParcelServiceError):
    """``If-Match`` named a version that is no longer current."""

    status_code = HTTPStatus.PRECONDITION_FAILED
    code = "precondition_failed"
    default_detail = "The parcel has changed since you fetched it (If-Match does not match)."
