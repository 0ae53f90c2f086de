from rest_framework.exceptions import ErrorDetail

from parcel_service.api.problems import MAX_ERRORS, QueryValidationError, custom_exception_handler, validation_errors


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


def test_a_problem_lists_at_most_max_errors_and_says_it_was_truncated():
    detail = {f"p{n}": [ErrorDetail("Bad.", code="invalid")] for n in range(1000)}
    body = custom_exception_handler(QueryValidationError(detail), {}).data
    assert len(body["errors"]) == MAX_ERRORS == 100
    assert body["errors"][-1]["pointer"] == "/query/p99"
    assert body["errors_truncated"] is True


def test_a_problem_with_exactly_max_errors_is_not_truncated():
    detail = {f"p{n}": [ErrorDetail("Bad.", code="invalid")] for n in range(MAX_ERRORS)}
    body = custom_exception_handler(QueryValidationError(detail), {}).data
    assert len(body["errors"]) == MAX_ERRORS and "errors_truncated" not in body
