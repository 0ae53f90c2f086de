"""QR codes: every symbol scans as its data, and the mask penalty follows ISO/IEC 18004."""

from __future__ import annotations

import pytest
from PIL import Image

from parcel_service.api.labels.qr import penalty, qr_modules, qr_version
from parcel_service.tests.labels import scan


def as_image(modules: list[list[bool]], scale: int = 4, quiet: int = 4) -> Image.Image:
    size = (len(modules) + 2 * quiet) * scale
    image = Image.new("L", (size, size), 255)
    for row, darks in enumerate(modules):
        for column, dark in enumerate(darks):
            if dark:
                x, y = (column + quiet) * scale, (row + quiet) * scale
                image.paste(0, (x, y, x + scale, y + scale))
    return image


@pytest.mark.parametrize(
    "data",
    [
        "https://parcels.example.com/api/v1/track/CP123456785NL/",
        "http://testserver/api/v1/track/CP000000000NL/",
        "https://parcels.example.com/t/CP123456785NL?source=label&campaign=" + "x" * 120,
        "a",
    ],
)
def test_every_symbol_scans_as_exactly_its_data(data):
    modules = qr_modules(data)
    assert len(modules) == 4 * qr_version(data) + 17
    (barcode,) = scan(as_image(modules))["QR Code"]
    assert barcode.text == data


def test_the_penalty_counts_runs_blocks_and_balance_as_the_standard_does():
    size = 21
    blank = [0] * size
    # N1: every row and column is one run of 21 (3 + 16 each, 42 lines); N2: 20 x 20 light 2 x 2 blocks at 3;
    # N3: no finder-like pattern; N4: 0 % dark is 50 points off, 10 steps of 5 %, 10 each.
    assert penalty(blank, size) == 42 * 19 + 400 * 3 + 100


def test_the_penalty_counts_a_finder_like_pattern():
    size = 21
    finder_like = int("10111010000" + "10101010", 2) << 2  # a pattern, then no more runs than needed
    with_pattern = [finder_like] + [0] * (size - 1)
    without = [int("10101010101" + "10101010", 2) << 2] + [0] * (size - 1)
    assert penalty(with_pattern, size) - penalty(without, size) >= 40
