"""Conditional requests (RFC 9110 section 13): strong ETags from the parcel version, If-Match, If-None-Match."""

from __future__ import annotations

from rest_framework.request import Request

from ..domain.errors import PreconditionFailed
from ..models import Parcel


def _entity_tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def not_modified(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 13.1.2 prescribes), or is ``*``."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    tags = _entity_tags(header)
    return "*" in tags or etag in [tag.removeprefix("W/") for tag in tags]


def expected_version(request: Request, parcel: Parcel) -> int | None:
    """The parcel version the client's ``If-Match`` insists on, for the service to check under the row lock.

    Args:
        request: The request.
        parcel: The parcel being changed.

    Returns:
        None when there is no ``If-Match`` (or it is ``*``): the write proceeds unconditionally.
        Otherwise the version named by the client's ETag for this parcel.

    Raises:
        PreconditionFailed: ``If-Match`` names no strong ETag of this parcel (RFC 9110 13.1.1 uses the
            strong comparison, so a weak ``W/`` tag never matches).
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = _entity_tags(header)
    if "*" in tags:
        return None
    for tag in tags:
        version = parcel.version_in_etag(tag)
        if version is not None:
            return version
    raise PreconditionFailed()
