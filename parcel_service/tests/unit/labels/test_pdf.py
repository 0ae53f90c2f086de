"""The PDF label, read back as a thermal printer and a scanner would read it (poppler, zxing-cpp)."""

from __future__ import annotations

import dataclasses

import pytest
from django.conf import settings
from django.core.cache import caches

from parcel_service.api.labels import LabelPrinter
from parcel_service.api.labels.content import SAMPLE_CONTENT
from parcel_service.api.labels.fonts import FontChain, LabelFontsUnavailable, load_label_fonts
from parcel_service.api.labels.pdf import BARCODE_MODULE, BARCODE_QUIET_MODULES, DOT, fit, render_pdf
from parcel_service.tests.labels import CONTENT, pdf_fonts, pdf_info, pdf_text, pdf_to_image, require_label_fonts, scan

MM = 72 / 25.4


@pytest.fixture(scope="module")
def fonts():
    require_label_fonts()
    return LabelPrinter(cache=caches["default"], font_dirs=settings.LABEL_FONT_DIRS).fonts()


@pytest.fixture(scope="module")
def pdf(fonts):
    return render_pdf(CONTENT, fonts)


def test_the_code_128_scans_as_exactly_the_tracking_number(pdf, tmp_path):
    found = scan(pdf_to_image(pdf, tmp_path))
    assert [barcode.text for barcode in found["Code 128"]] == ["CP123456785NL"]


def test_the_qr_code_scans_as_exactly_the_tracking_url(pdf, tmp_path):
    found = scan(pdf_to_image(pdf, tmp_path))
    assert [barcode.text for barcode in found["QR Code"]] == ["https://parcels.example.com/api/v1/track/CP123456785NL/"]


def test_the_barcodes_still_scan_at_the_printers_own_203_dpi(pdf, tmp_path):
    found = scan(pdf_to_image(pdf, tmp_path, dpi=203))
    assert [barcode.text for barcode in found["Code 128"]] == ["CP123456785NL"]
    assert len(found["QR Code"]) == 1


def test_the_code_128_has_whole_dot_modules_of_at_least_a_quarter_millimetre_and_ten_module_quiet_zones(pdf, tmp_path):
    assert BARCODE_MODULE >= 0.25 * MM
    assert round(BARCODE_MODULE / DOT) == BARCODE_MODULE / DOT
    dpi = 300
    image = pdf_to_image(pdf, tmp_path, dpi=dpi)
    (barcode,) = scan(image)["Code 128"]
    left = min(point.x for point in (barcode.position.top_left, barcode.position.bottom_left))
    right = max(point.x for point in (barcode.position.top_right, barcode.position.bottom_right))
    middle = (barcode.position.top_left.y + barcode.position.bottom_left.y) // 2
    quiet = round(BARCODE_QUIET_MODULES * BARCODE_MODULE / 72 * dpi)
    row = [image.getpixel((x, middle)) for x in range(left - quiet, right + quiet + 1)]
    assert min(row[: quiet - 1]) > 128, "white before the first bar"
    assert min(row[-quiet + 1 :]) > 128, "white after the last bar"


def test_the_text_holds_every_script_of_the_addresses(pdf, tmp_path):
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "Zoë O'Brien",
        "Łódź",
        "山田 太郎",
        "東京",
        "Тверская ул. 1",
        "Οδός Αιόλου 5",
        "Ωmega Ltd",
        "JAPAN",
    ):
        assert expected in text
    assert "1.25 kg" in text
    assert "ORDER-4711" in text
    assert "CP 123 456 785 NL" in text


def test_the_fonts_are_embedded_so_no_printer_needs_them(pdf, tmp_path):
    fonts = pdf_fonts(pdf, tmp_path)
    assert len(fonts) == 3
    assert all(" yes yes " in line for line in fonts), fonts  # every font embedded, as a subset


def test_the_label_is_one_4_by_6_inch_page(pdf, tmp_path):
    info = pdf_info(pdf, tmp_path)
    assert info["Pages"] == "1"
    assert info["Page size"].startswith("288 x 432 pts")


def test_the_same_content_renders_to_the_same_bytes(pdf, fonts):
    assert render_pdf(CONTENT, fonts) == pdf
    assert render_pdf(SAMPLE_CONTENT, fonts) == render_pdf(SAMPLE_CONTENT, fonts)


def test_an_address_too_long_for_the_label_is_cut_with_an_ellipsis_and_the_barcodes_still_scan(fonts, tmp_path):
    long = dataclasses.replace(
        CONTENT,
        recipient=dataclasses.replace(
            CONTENT.recipient, name="Wolfeschlegelsteinhausenbergerdorff " * 3, street="東京都千代田区丸の内" * 20
        ),
        reference="R" * 64,
    )
    pdf = render_pdf(long, fonts)
    assert "…" in pdf_text(pdf, tmp_path)
    found = scan(pdf_to_image(pdf, tmp_path))
    assert [barcode.text for barcode in found["Code 128"]] == ["CP123456785NL"]
    assert [barcode.text for barcode in found["QR Code"]] == [CONTENT.tracking_url]


def test_each_run_of_text_is_set_in_a_font_that_has_its_characters(fonts):
    runs = [(face.name, run) for face, run in fonts.regular.runs("Zoë 東京 Łódź")]
    assert runs == [("LabelSans", "Zoë "), ("LabelCJK", "東京 "), ("LabelSans", "Łódź")]


def test_bold_cjk_is_drawn_stroked_because_its_font_has_one_weight(fonts):
    assert [face.faux_bold for face, _ in fonts.bold.runs("Zoë 東京")] == [False, True]


def test_text_shrinks_before_it_wraps_and_wraps_before_it_is_cut(fonts):
    chain: FontChain = fonts.regular
    assert fit(chain, "Short", width=100, size=12, min_size=8, max_lines=1) == (12, ["Short"])
    size, lines = fit(chain, "A rather longer line of text", width=120, size=12, min_size=8, max_lines=1)
    assert 8 <= size < 12 and len(lines) == 1
    size, lines = fit(chain, "word " * 40, width=150, size=12, min_size=8, max_lines=2)
    assert size == 8 and len(lines) == 2 and lines[-1].endswith("…")


def test_missing_fonts_are_refused_rather_than_printed_as_empty_boxes(tmp_path):
    with pytest.raises(LabelFontsUnavailable):
        load_label_fonts([tmp_path])
