from rest_framework.exceptions import ErrorDetail

from parcel_service.api.problems import validation_errors


def test_nested_errors_become_json_pointers():
    detail = {
        "recipient": {"postal_code": [ErrorDetail("This field is required.", code="required")]},
        "items": [{}, {"a/b~c": [ErrorDetail("Bad.", code="invalid")]}],
        "non_field_errors": [ErrorDetail("Whole object.", code="invalid")],
    }
    assert list(validation_errors(detail)) == [
        {"pointer": "/recipient/postal_code", "code": "required", "detail": "This field is required."},
        {"pointer": "/items/1/a~1b~0c", "code": "invalid", "detail": "Bad."},
        {"pointer": "", "code": "invalid", "detail": "Whole object."},
    ]


def test_query_prefix_is_kept():
    detail = {"status": [ErrorDetail("Bad choice.", code="invalid_choice")]}
    assert list(validation_errors(detail, "/query")) == [
        {"pointer": "/query/status", "code": "invalid_choice", "detail": "Bad choice."}
    ]
