"""GET /api/v1/parcels/{id}/label/: who may print a label, in which format, and what a scanner reads off it."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from parcel_service.api.labels import LabelPrinter
from parcel_service.domain.status_machine import ParcelStatus
from parcel_service.tests.factories import ParcelFactory
from parcel_service.tests.labels import (
    pdf_text,
    pdf_to_image,
    require_label_fonts,
    scan,
    zpl_commands,
    zpl_field_text,
)

from .helpers import assert_problem

pytestmark = pytest.mark.django_db


def label_url(parcel, slash: str = "/") -> str:
    return reverse("parcel_service:parcel-label", kwargs={"pk": parcel.pk}) + slash


def detail_url(parcel) -> str:
    return reverse("parcel_service:parcel-detail", kwargs={"pk": parcel.pk}) + "/"


def qr_data(zpl: bytes) -> str:
    commands = zpl_commands(zpl.decode())
    index = next(i for i, command in enumerate(commands) if command.startswith("^BQ"))
    return zpl_field_text(commands[index + 2]).removeprefix("MA,")


@pytest.fixture
def fonts():
    require_label_fonts()


@pytest.fixture
def parcel(customer):
    return ParcelFactory(
        owner=customer, recipient_name="Zoë O'Brien", recipient_city="Łódź", recipient_country="PL", reference="A-1"
    )


# -- who ---------------------------------------------------------------------------------------------------


def test_the_owner_gets_a_pdf_label_by_default(customer_client, parcel, fonts):
    response = customer_client.get(label_url(parcel))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{parcel.tracking_number}.pdf"'
    assert response.content.startswith(b"%PDF-")
    assert response["ETag"].startswith('"label-')


def test_a_carrier_and_staff_can_print_any_parcels_label(carrier_client, staff_client, parcel, fonts):
    assert carrier_client.get(label_url(parcel)).status_code == 200
    assert staff_client.get(label_url(parcel), {"format": "zpl"}).status_code == 200


def test_another_customers_parcel_has_no_label_for_you(other_client, parcel):
    assert_problem(other_client.get(label_url(parcel)), 404, "not_found")


def test_an_anonymous_request_is_unauthorised(anon_client, parcel):
    response = anon_client.get(label_url(parcel))
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_parcel_that_does_not_exist_is_not_found(customer_client):
    response = customer_client.get("/api/v1/parcels/00000000-0000-0000-0000-000000000000/label/")
    assert_problem(response, 404, "not_found")


# -- what ---------------------------------------------------------------------------------------------------


def test_a_cancelled_parcel_has_no_label(customer_client, customer):
    cancelled = ParcelFactory(owner=customer, status=ParcelStatus.CANCELLED)
    assert_problem(customer_client.get(label_url(cancelled), {"format": "zpl"}), 409, "parcel_not_labelable")
    assert_problem(customer_client.get(label_url(cancelled)), 409, "parcel_not_labelable")


def test_a_delivered_parcel_still_has_its_label(customer_client, customer):
    delivered = ParcelFactory(owner=customer, status=ParcelStatus.DELIVERED)
    assert customer_client.get(label_url(delivered), {"format": "zpl"}).status_code == 200


@pytest.mark.parametrize("label_format", ["png", "PDF", "zpl ", ""])
def test_an_unknown_format_is_a_400_pointing_at_the_parameter(customer_client, parcel, label_format):
    response = customer_client.get(label_url(parcel), {"format": label_format})
    assert_problem(response, 400, "validation_error", pointer="/query/format")


def test_the_zpl_label_is_zpl_text_with_the_tracking_number_as_code_128(customer_client, parcel):
    response = customer_client.get(label_url(parcel), {"format": "zpl"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zpl"
    assert response["Content-Disposition"] == f'inline; filename="{parcel.tracking_number}.zpl"'
    commands = zpl_commands(response.content.decode())
    barcode = next(i for i, command in enumerate(commands) if command.startswith("^BC"))
    assert commands[barcode + 1] == f"^FD{parcel.tracking_number}"
    assert "^CI28" in commands


def test_the_route_answers_without_its_trailing_slash_too(customer_client, parcel):
    assert customer_client.get(label_url(parcel, slash=""), {"format": "zpl"}).status_code == 200


def test_a_print_client_asking_for_a_pdf_by_accept_header_gets_it(customer_client, parcel, fonts):
    response = customer_client.get(label_url(parcel), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_the_pdf_labels_barcodes_scan_and_its_text_has_the_recipient(customer_client, parcel, fonts, tmp_path):
    pdf = customer_client.get(label_url(parcel)).content
    found = scan(pdf_to_image(pdf, tmp_path))
    assert [barcode.text for barcode in found["Code 128"]] == [parcel.tracking_number]
    assert [barcode.text for barcode in found["QR Code"]] == [
        f"http://testserver/api/v1/track/{parcel.tracking_number}/"
    ]
    text = pdf_text(pdf, tmp_path)
    assert "Zoë O'Brien" in text and "Łódź" in text and "POLAND" in text


# -- the tracking URL ----------------------------------------------------------------------------------


def test_the_qr_code_links_to_public_tracking_on_the_requests_own_host(customer_client, parcel):
    response = customer_client.get(label_url(parcel), {"format": "zpl"}, HTTP_HOST="parcels.example.com")
    assert qr_data(response.content) == f"http://parcels.example.com/api/v1/track/{parcel.tracking_number}/"


def test_the_qr_code_follows_public_tracking_url_when_it_is_set(customer_client, parcel, settings):
    settings.PUBLIC_TRACKING_URL = "https://track.example.com/t/{tracking_number}?from=label"
    response = customer_client.get(label_url(parcel), {"format": "zpl"})
    assert qr_data(response.content) == f"https://track.example.com/t/{parcel.tracking_number}?from=label"


def test_a_label_for_another_host_is_another_label(customer_client, parcel):
    one = customer_client.get(label_url(parcel), {"format": "zpl"}, HTTP_HOST="a.example.com")
    other = customer_client.get(label_url(parcel), {"format": "zpl"}, HTTP_HOST="b.example.com")
    assert one["ETag"] != other["ETag"]
    assert qr_data(other.content) == f"http://b.example.com/api/v1/track/{parcel.tracking_number}/"


# -- ETags, the cache, determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("label_format", ["pdf", "zpl"])
def test_if_none_match_with_the_labels_etag_is_a_304(customer_client, parcel, fonts, label_format):
    first = customer_client.get(label_url(parcel), {"format": label_format})
    again = customer_client.get(label_url(parcel), {"format": label_format}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_the_pdf_and_the_zpl_label_have_different_etags(customer_client, parcel, fonts):
    pdf = customer_client.get(label_url(parcel))
    zpl = customer_client.get(label_url(parcel), {"format": "zpl"})
    assert pdf["ETag"] != zpl["ETag"]
    assert customer_client.get(label_url(parcel), HTTP_IF_NONE_MATCH=zpl["ETag"]).status_code == 200


def test_an_edit_of_the_parcel_makes_a_new_label(customer_client, parcel, fonts, tmp_path):
    before = customer_client.get(label_url(parcel))
    patched = customer_client.patch(detail_url(parcel), {"reference": "CHANGED-42"}, format="json")
    assert patched.status_code == 200
    after = customer_client.get(label_url(parcel), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert "CHANGED-42" in pdf_text(after.content, tmp_path)


@pytest.mark.cache
def test_a_label_is_rendered_once_then_served_from_the_cache(customer_client, parcel, monkeypatch):
    renders = []
    render = LabelPrinter.render
    monkeypatch.setattr(LabelPrinter, "render", lambda self, label: renders.append(label) or render(self, label))
    first = customer_client.get(label_url(parcel), {"format": "zpl"})
    second = customer_client.get(label_url(parcel), {"format": "zpl"})
    assert len(renders) == 1
    assert second.content == first.content


def test_the_same_parcel_renders_to_the_same_bytes(customer_client, parcel, fonts):
    first = customer_client.get(label_url(parcel))
    cache.clear()
    second = customer_client.get(label_url(parcel))
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


# -- without fonts --------------------------------------------------------------------------------------


def test_without_the_label_fonts_a_pdf_is_a_503_but_zpl_still_prints(customer_client, parcel, settings, tmp_path):
    settings.LABEL_FONT_DIRS = [str(tmp_path)]
    for _ in range(2):  # looked for once; asked again, still a problem rather than empty boxes
        assert_problem(customer_client.get(label_url(parcel)), 503, "labels_unavailable")
    assert customer_client.get(label_url(parcel), {"format": "zpl"}).status_code == 200
