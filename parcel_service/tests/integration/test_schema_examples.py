"""The OpenAPI document's request examples are bodies the API accepts, as Swagger UI's "Try it out" sends them."""

import pytest

from parcel_service.tests.factories import ParcelFactory

pytestmark = pytest.mark.django_db

# Token examples carry placeholders for credentials; everything else must work exactly as shown.
PLACEHOLDER_TAGS = {"auth"}


def request_examples(schema: dict) -> list[tuple[str, str, str, dict]]:
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if PLACEHOLDER_TAGS & set(operation.get("tags", [])):
                continue
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name, example in content.get("examples", {}).items():
                found.append((method, path, name, example["value"]))
    return found


def test_every_request_example_is_accepted_as_shown(customer_client, carrier_client, customer):
    schema = customer_client.get("/api/schema/?format=json").json()
    examples = request_examples(schema)
    assert {(method, path) for method, path, _, _ in examples} >= {
        ("post", "/api/v1/parcels/"),
        ("patch", "/api/v1/parcels/{id}/"),
        ("post", "/api/v1/parcels/{id}/events/"),
    }
    for method, path, name, body in examples:
        parcel = ParcelFactory(owner=customer)
        client = carrier_client if path.endswith(("/events/", "/events/batch/")) else customer_client
        response = getattr(client, method)(path.replace("{id}", str(parcel.pk)), body, format="json")
        assert response.status_code in (200, 201), (method, path, name, response.content)


def test_every_operation_documents_the_request_id_and_the_edge_problems(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    for item in schema["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            assert {"400", "414", "431"} <= responses.keys()
            assert all("X-Request-ID" in response["headers"] for response in responses.values())
            assert all("Retry-After" in responses[s]["headers"] for s in ("429", "503") if s in responses)
