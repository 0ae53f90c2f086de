"""Request and response examples for the OpenAPI document (Swagger UI's "Try it out" sends the request ones).

Every request example is a body the API accepts as shown (a test posts each one), so a developer trying the
docs gets a 2xx, not a validation error.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

PARCEL_ID = "0b8a3c52-6a0f-4e0b-9b8e-2f1c7d4a9e10"
TRACKING_NUMBER = "CP123456785NL"

SENDER = {
    "name": "Shop Logistics BV",
    "company": "Shop Logistics BV",
    "street": "Keizersgracht 1",
    "street2": "",
    "city": "Amsterdam",
    "postal_code": "1015 CJ",
    "country": "NL",
    "email": "dispatch@shop.example",
    "phone": "+31 20 555 0100",
}
RECIPIENT = {
    "name": "Zoë O'Brien",
    "company": "",
    "street": "Unter den Linden 1",
    "street2": "",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
    "email": "",
    "phone": "",
}
PARCEL_REQUEST = {
    "reference": "ORDER-1042",
    "sender": SENDER,
    "recipient": RECIPIENT,
    "weight_grams": 1200,
    "dimensions_mm": {"length": 300, "width": 200, "height": 100},
}
PARCEL = {
    "id": PARCEL_ID,
    "tracking_number": TRACKING_NUMBER,
    "status": "pending",
    **PARCEL_REQUEST,
    "estimated_delivery": None,
    "created_at": "2026-12-01T09:30:00Z",
    "updated_at": "2026-12-01T09:30:00Z",
}
EVENT_REQUEST = {
    "status": "in_transit",
    "location": "Amsterdam hub",
    "description": "Sorted and dispatched.",
    "estimated_delivery": "2026-12-03",
}
EVENT = {
    "id": "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
    "status": "in_transit",
    "location": "Amsterdam hub",
    "description": "Sorted and dispatched.",
    "occurred_at": "2026-12-01T14:02:11Z",
    "recorded_at": "2026-12-01T14:02:11Z",
}


def request_example(name: str, value: object, summary: str = "") -> OpenApiExample:
    """An example of a request body (shown and sent by Swagger UI's "Try it out")."""
    return OpenApiExample(name, value=value, summary=summary, request_only=True)


def response_example(name: str, value: object, status: int = 200) -> OpenApiExample:
    """An example of a response body for ``status``."""
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


CREATE_PARCEL = [
    request_example("Parcel", PARCEL_REQUEST, "A parcel from a shop to a customer"),
    response_example("Created", PARCEL, 201),
]
UPDATE_PARCEL = [
    request_example("New reference and weight", {"reference": "ORDER-1042-B", "weight_grams": 1350}),
    response_example("Updated", {**PARCEL, "reference": "ORDER-1042-B", "weight_grams": 1350}),
]
CANCEL_PARCEL = [response_example("Cancelled", {**PARCEL, "status": "cancelled"})]  # no body to show
GET_PARCEL = [response_example("Parcel", PARCEL)]
LIST_PARCELS = [
    response_example(
        "A page",
        {
            "next": "https://parcels.example.com/api/v1/parcels/?cursor=cD0yMDI2LTEyLTAx",
            "previous": None,
            "results": [PARCEL],
        },
    )
]
RECORD_EVENT = [
    request_example("Scanned at a hub", EVENT_REQUEST, "A carrier's scan"),
    response_example("Recorded", EVENT, 201),
]
LIST_EVENTS = [response_example("Timeline", [EVENT])]
TRACK = [
    response_example(
        "In transit",
        {
            "tracking_number": TRACKING_NUMBER,
            "status": "in_transit",
            "estimated_delivery": "2026-12-03",
            "updated_at": "2026-12-01T14:02:11Z",
            "events": [{k: EVENT[k] for k in ("status", "location", "description", "occurred_at")}],
        },
    )
]
OBTAIN_TOKEN = [request_example("Demo customer", {"username": "alice", "password": "<the password make run printed>"})]
REFRESH_TOKEN = [request_example("Refresh token", {"refresh": "<the refresh token from /auth/token/>"})]

BATCH_EVENTS = [
    request_example(
        "Two scans",
        {
            "events": [
                {"tracking_number": TRACKING_NUMBER, **EVENT_REQUEST},
                {"tracking_number": "RR473124829GB", "status": "in_transit", "location": "Utrecht hub"},
            ]
        },
        "A hub's scans; the second parcel is not known",
    ),
    response_example(
        "One recorded, one not",
        {
            "results": [
                {"index": 0, "status": 201, "event": EVENT, "parcel_id": PARCEL_ID},
                {
                    "index": 1,
                    "status": 404,
                    "problem": {
                        "type": "about:blank",
                        "title": "Not Found",
                        "status": 404,
                        "detail": "No parcel has this tracking number.",
                        "code": "not_found",
                        "request_id": "9f2c4e1a-7b3d-4c5e-8a6f-0d1e2f3a4b5c",
                    },
                },
            ],
            "summary": {"created": 1, "failed": 1},
        },
    ),
]
API_KEY = {
    "id": "6f1d2c3b-4a5e-4f60-9b7a-8c9d0e1f2a3b",
    "name": "Hub scanners",
    "prefix": "Xk3pQ9aZ",
    "scopes": ["events:write", "parcels:read"],
    "created_at": "2026-12-01T09:00:00Z",
    "last_used_at": "2026-12-01T14:02:00Z",
    "revoked_at": None,
}
CREATE_API_KEY = [
    request_example("Scanners", {"name": "Hub scanners", "scopes": ["events:write", "parcels:read"]}),
    response_example(
        "Created",
        {**API_KEY, "last_used_at": None, "key": "Xk3pQ9aZ.7fG2hJ5kL8mN1pQ4rS6tU9vW2xY5zA3b"},
        201,
    ),
]
LIST_API_KEYS = [response_example("A page", API_KEY)]  # drf-spectacular wraps it in the page
