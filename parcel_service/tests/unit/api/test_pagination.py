"""The cursor pagination documents its own bounds, for every list that uses it."""

from parcel_service.api.pagination import ParcelCursorPagination


def test_page_size_is_documented_with_its_default_and_its_cap():
    parameters = {p["name"]: p for p in ParcelCursorPagination().get_schema_operation_parameters(view=None)}
    page_size = parameters["page_size"]
    assert page_size["schema"] == {"type": "integer", "minimum": 1}
    assert "default 25" in page_size["description"] and "clamped to 100" in page_size["description"]
    assert parameters["cursor"]["description"] == "Opaque cursor from `next` / `previous`."
