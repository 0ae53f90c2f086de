from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy

from parcel_service.http.renderers import JSONRenderer, dumps


def test_dumps_uses_rfc3339_z_and_handles_lazy_strings_and_decimals():
    out = dumps(
        {"at": datetime(2026, 11, 22, 10, 15, tzinfo=UTC), "msg": gettext_lazy("Not found."), "d": Decimal("1.5")}
    )
    assert out == b'{"at":"2026-11-22T10:15:00Z","msg":"Not found.","d":1.5}'


def test_unknown_types_are_refused():
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_none_renders_as_an_empty_body():
    assert JSONRenderer().render(None) == b""
