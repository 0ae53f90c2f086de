"""Parcels API: create, read, edit, cancel — happy and unhappy paths, roles and visibility."""

import copy
import uuid

import pytest
from django.urls import reverse

from parcel_service.domain.tracking_numbers import is_valid
from parcel_service.models import Parcel, TrackingEvent
from parcel_service.tests.factories import ParcelFactory, address

from .helpers import assert_problem

pytestmark = pytest.mark.django_db

LIST_URL = reverse("parcel_service:parcel-list") + "/"


def detail_url(parcel) -> str:
    return reverse("parcel_service:parcel-detail", kwargs={"pk": parcel.pk}) + "/"


def cancel_url(parcel) -> str:
    return reverse("parcel_service:parcel-cancel", kwargs={"pk": parcel.pk}) + "/"


def valid_body(**overrides):
    body = {
        "reference": "ORDER-1",
        "sender": address("Sender BV"),
        "recipient": address("Grace Hopper", "DE"),
        "weight_grams": 1500,
        "dimensions_mm": {"length": 300, "width": 200, "height": 100},
    }
    body.update(overrides)
    return body


# -- create ---------------------------------------------------------------------------------------------


def test_customer_creates_a_parcel_with_a_valid_tracking_number(customer_client, customer):
    response = customer_client.post(LIST_URL, valid_body(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert is_valid(body["tracking_number"])
    assert body["status"] == "pending"
    assert body["recipient"]["country"] == "DE"
    assert body["dimensions_mm"] == {"length": 300, "width": 200, "height": 100}
    assert response["Location"].endswith(f"/api/v1/parcels/{body['id']}/")
    assert response["Cache-Control"] == "no-store"
    parcel = Parcel.objects.get(pk=body["id"])
    assert parcel.owner == customer
    assert parcel.version == 1
    assert set(body) == {
        "id",
        "tracking_number",
        "status",
        "reference",
        "sender",
        "recipient",
        "weight_grams",
        "dimensions_mm",
        "estimated_delivery",
        "created_at",
        "updated_at",
    }
    assert body["created_at"].endswith("Z")


def test_create_without_trailing_slash_is_not_redirected(customer_client):
    response = customer_client.post(LIST_URL.rstrip("/"), valid_body(), format="json")
    assert response.status_code == 201


def test_create_fills_optional_defaults(customer_client):
    body = valid_body()
    del body["reference"], body["dimensions_mm"]
    response = customer_client.post(LIST_URL, body, format="json")
    assert response.status_code == 201
    assert response.json()["reference"] == ""
    assert response.json()["dimensions_mm"] is None


def test_country_is_case_insensitive_in_and_upper_case_out(customer_client):
    response = customer_client.post(LIST_URL, valid_body(recipient=address("X", "de")), format="json")
    assert response.json()["recipient"]["country"] == "DE"


def test_create_requires_authentication(anon_client):
    response = anon_client.post(LIST_URL, valid_body(), format="json")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert Parcel.objects.count() == 0


@pytest.mark.parametrize(
    ("mutate", "pointer", "code"),
    [
        (lambda b: b["recipient"].pop("postal_code"), "/recipient/postal_code", "required"),
        (lambda b: b.update(weight_grams=0), "/weight_grams", "min_value"),
        (lambda b: b.update(weight_grams=70001), "/weight_grams", "max_value"),
        (lambda b: b.update(weight_grams="1500"), "/weight_grams", "invalid"),
        (lambda b: b.update(weight_grams=True), "/weight_grams", "invalid"),
        (lambda b: b.update(weight_grams=1.5), "/weight_grams", "invalid"),
        (lambda b: b["sender"].update(country="XX"), "/sender/country", "invalid_country"),
        (lambda b: b["sender"].update(country="NLD"), "/sender/country", "invalid_country"),
        (lambda b: b["sender"].update(name=""), "/sender/name", "blank"),
        (lambda b: b["sender"].update(name="x" * 101), "/sender/name", "max_length"),
        (lambda b: b["sender"].update(name=42), "/sender/name", "invalid"),
        (lambda b: b["sender"].update(email="not-an-email"), "/sender/email", "invalid"),
        (lambda b: b["sender"].update(phone="call me"), "/sender/phone", "invalid"),
        (lambda b: b["recipient"].update(city="Ams\x00terdam"), "/recipient/city", "null_characters_not_allowed"),
        (lambda b: b.update(reference="r" * 65), "/reference", "max_length"),
        (lambda b: b["dimensions_mm"].update(length=3001), "/dimensions_mm/length", "max_value"),
        (lambda b: b["dimensions_mm"].pop("height"), "/dimensions_mm/height", "required"),
        (lambda b: b.update(sender="Damrak 1"), "/sender", "invalid"),
        (lambda b: b.pop("recipient"), "/recipient", "required"),
    ],
)
def test_invalid_create_bodies_are_400_with_a_pointer_and_write_nothing(customer_client, mutate, pointer, code):
    body = copy.deepcopy(valid_body())
    mutate(body)
    response = customer_client.post(LIST_URL, body, format="json")
    problem = assert_problem(response, 400, "validation_error", pointer)
    assert code in [e["code"] for e in problem["errors"] if e["pointer"] == pointer]
    assert Parcel.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "pointer"),
    [
        ({"owner": 1}, "/owner"),
        ({"status": "delivered"}, "/status"),
        ({"tracking_number": "RR473124829GB"}, "/tracking_number"),
        ({"id": str(uuid.uuid4())}, "/id"),
        ({"weigth_grams": 3}, "/weigth_grams"),
    ],
)
def test_unknown_and_read_only_fields_are_rejected(customer_client, field, pointer):
    response = customer_client.post(LIST_URL, valid_body(**field), format="json")
    assert_problem(response, 400, "unknown_field", pointer)
    assert Parcel.objects.count() == 0


def test_unknown_nested_field_is_rejected_with_its_pointer(customer_client):
    body = valid_body()
    body["recipient"]["floor"] = "3"
    assert_problem(customer_client.post(LIST_URL, body, format="json"), 400, "unknown_field", "/recipient/floor")


def test_malformed_json_is_a_parse_error(customer_client):
    response = customer_client.post(LIST_URL, b'{"weight_grams": ', content_type="application/json")
    assert_problem(response, 400, "parse_error")


def test_non_utf8_body_is_a_parse_error(customer_client):
    response = customer_client.post(LIST_URL, b'{"reference": "\xff\xfe"}', content_type="application/json")
    assert_problem(response, 400, "parse_error")


def test_deeply_nested_json_is_a_parse_error(customer_client):
    response = customer_client.post(LIST_URL, b"[" * 5000 + b"]" * 5000, content_type="application/json")
    assert_problem(response, 400, "parse_error")


def test_a_json_array_body_is_a_validation_error(customer_client):
    response = customer_client.post(LIST_URL, [1] * 10000, format="json")
    assert_problem(response, 400, "validation_error")


def test_non_json_content_type_is_415(customer_client):
    response = customer_client.post(LIST_URL, "weight_grams=1", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")


def test_html_and_sql_strings_are_stored_and_returned_verbatim(customer_client):
    nasty = "<script>alert(1)</script>'; DROP TABLE parcel_service_parcel; --"
    response = customer_client.post(LIST_URL, valid_body(reference=nasty[:64]), format="json")
    assert response.status_code == 201
    assert response.json()["reference"] == nasty[:64]
    assert Parcel.objects.get().reference == nasty[:64]


# -- read -----------------------------------------------------------------------------------------------


def test_owner_reads_their_parcel(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    response = customer_client.get(detail_url(parcel))
    assert response.status_code == 200
    assert response.json()["tracking_number"] == parcel.tracking_number
    assert response["Cache-Control"] == "no-store"


def test_customer_cannot_see_another_customers_parcel(other_client, customer):
    parcel = ParcelFactory(owner=customer)
    missing = other_client.get(reverse("parcel_service:parcel-detail", kwargs={"pk": uuid.uuid4()}))
    hidden = other_client.get(detail_url(parcel))
    assert_problem(hidden, 404, "not_found")
    assert hidden.json()["detail"] == missing.json()["detail"]


@pytest.mark.parametrize("client_name", ["carrier_client", "staff_client"])
def test_carriers_and_staff_read_any_parcel(request, client_name, customer):
    parcel = ParcelFactory(owner=customer)
    assert request.getfixturevalue(client_name).get(detail_url(parcel)).status_code == 200


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "..%2F..%2Fetc%2Fpasswd", "%00"])
def test_non_uuid_ids_are_404(customer_client, bad_id):
    assert_problem(customer_client.get(f"/api/v1/parcels/{bad_id}/"), 404, "not_found")


def test_read_requires_authentication(anon_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(anon_client.get(detail_url(parcel)), 401, "not_authenticated")


@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_are_405(customer_client, customer, method):
    parcel = ParcelFactory(owner=customer)
    response = getattr(customer_client, method)(detail_url(parcel), valid_body(), format="json")
    assert_problem(response, 405, "method_not_allowed")
    assert "PATCH" in response["Allow"]
    assert Parcel.objects.filter(pk=parcel.pk).exists()


# -- edit -----------------------------------------------------------------------------------------------


def test_owner_edits_a_pending_parcel_and_the_version_moves(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    response = customer_client.patch(detail_url(parcel), {"reference": "NEW", "weight_grams": 99}, format="json")
    assert response.status_code == 200
    assert response.json()["reference"] == "NEW"
    parcel.refresh_from_db()
    assert (parcel.reference, parcel.weight_grams, parcel.version) == ("NEW", 99, 2)


def test_an_address_in_a_patch_replaces_the_whole_address(customer_client, customer):
    parcel = ParcelFactory(owner=customer, recipient_company="Old Co")
    new = address("New Person", "BE")
    response = customer_client.patch(detail_url(parcel), {"recipient": new}, format="json")
    assert response.status_code == 200
    assert response.json()["recipient"] == {**new, "country": "BE"}


def test_a_partial_address_in_a_patch_is_refused(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    response = customer_client.patch(detail_url(parcel), {"recipient": {"city": "Gent"}}, format="json")
    assert_problem(response, 400, "validation_error", "/recipient/name")


def test_patch_can_clear_dimensions(customer_client, customer):
    parcel = ParcelFactory(owner=customer, length_mm=1, width_mm=2, height_mm=3)
    response = customer_client.patch(detail_url(parcel), {"dimensions_mm": None}, format="json")
    assert response.json()["dimensions_mm"] is None


def test_patch_of_a_parcel_in_transit_is_409(customer_client, customer):
    parcel = ParcelFactory(owner=customer, status="in_transit")
    response = customer_client.patch(detail_url(parcel), {"reference": "X"}, format="json")
    assert_problem(response, 409, "parcel_not_editable")
    parcel.refresh_from_db()
    assert parcel.reference != "X"


def test_patch_with_read_only_field_is_rejected(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    response = customer_client.patch(detail_url(parcel), {"status": "delivered"}, format="json")
    assert_problem(response, 400, "unknown_field", "/status")


def test_patch_invalid_value_is_400(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(
        customer_client.patch(detail_url(parcel), {"weight_grams": -1}, format="json"), 400, "validation_error"
    )


def test_carrier_cannot_edit_a_parcel(carrier_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(
        carrier_client.patch(detail_url(parcel), {"reference": "X"}, format="json"), 403, "permission_denied"
    )


def test_staff_can_edit_any_parcel(staff_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert staff_client.patch(detail_url(parcel), {"reference": "X"}, format="json").status_code == 200


def test_other_customer_gets_404_on_patch_and_cancel(other_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(other_client.patch(detail_url(parcel), {"reference": "X"}, format="json"), 404, "not_found")
    assert_problem(other_client.post(cancel_url(parcel)), 404, "not_found")


# -- cancel ---------------------------------------------------------------------------------------------


def test_owner_cancels_a_pending_parcel_and_an_event_is_recorded(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    response = customer_client.post(cancel_url(parcel))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    event = TrackingEvent.objects.get(parcel=parcel)
    assert (event.status, event.recorded_by) == ("cancelled", customer)


def test_cancel_twice_is_409(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    customer_client.post(cancel_url(parcel))
    assert_problem(customer_client.post(cancel_url(parcel)), 409, "parcel_not_editable")
    assert TrackingEvent.objects.filter(parcel=parcel).count() == 1


def test_cancel_with_a_body_field_is_rejected(customer_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(customer_client.post(cancel_url(parcel), {"reason": "x"}, format="json"), 400, "unknown_field")
    parcel.refresh_from_db()
    assert parcel.status == "pending"


def test_carrier_cannot_cancel(carrier_client, customer):
    parcel = ParcelFactory(owner=customer)
    assert_problem(carrier_client.post(cancel_url(parcel)), 403, "permission_denied")


def test_a_lone_surrogate_escape_is_a_parse_error(customer_client):
    response = customer_client.post(LIST_URL, b'{"reference": "\\udb9b"}', content_type="application/json")
    assert_problem(response, 400, "parse_error")


def test_strings_are_kept_verbatim_so_a_pattern_valid_phone_with_a_trailing_space_is_accepted(customer_client):
    body = valid_body()
    body["recipient"]["phone"] = "8)5 "
    response = customer_client.post(LIST_URL, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["recipient"]["phone"] == "8)5 "
