"""JSON rendering with orjson: the same output as DRF's renderer, several times faster on the hot paths."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from django.utils.functional import Promise
from rest_framework import renderers


def _default(value: Any) -> Any:
    # Lazy translation strings (DRF error messages) and Decimals are the only non-native types we emit.
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(data: Any) -> bytes:
    """Serialise ``data`` to compact UTF-8 JSON bytes (datetimes as RFC 3339 with ``Z``)."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)


class JSONRenderer(renderers.JSONRenderer):
    """DRF renderer backed by orjson."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        """Render ``data`` as JSON; ``None`` renders as an empty body (204/304)."""
        if data is None:
            return b""
        return dumps(data)
