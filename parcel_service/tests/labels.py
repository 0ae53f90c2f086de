"""Reading labels back as a printer and a scanner would: PDF to pixels (poppler), pixels to barcodes (zxing-cpp),
PDF to text, ZPL to commands.

The tools come from Debian (poppler-utils, the fonts). Without them a test skips, saying what to install;
in CI (``CI`` set, as .ci/run sets it) it fails instead, since CI installs them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from django.conf import settings
from PIL import Image

from parcel_service.api.labels.content import LabelAddress, LabelContent
from parcel_service.api.labels.fonts import find_font_files

# A label whose addresses need Latin with diacritics, Greek, Cyrillic and Japanese.
CONTENT = LabelContent(
    tracking_number="CP123456785NL",
    tracking_url="https://parcels.example.com/api/v1/track/CP123456785NL/",
    sender=LabelAddress("Zoë O'Brien", "", "ul. Piotrkowska 1", "", "90-001", "Łódź", "PL", "POLAND"),
    recipient=LabelAddress(
        "山田 太郎", "Ωmega Ltd", "Тверская ул. 1", "Οδός Αιόλου 5", "100-0005", "東京", "JP", "JAPAN"
    ),
    weight_grams=1250,
    reference="ORDER-4711",
    dimensions_mm=(300, 200, 150),
)

TOOLS_HINT = "apt-get install poppler-utils fonts-noto-core fonts-wqy-microhei"


def _unavailable(what: str) -> None:
    message = f"{what} not installed ({TOOLS_HINT})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI installs it, so this is a CI set-up failure", pytrace=False)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """The path of a command-line tool; skips the test (fails in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        _unavailable(name)
    return str(path)


def require_label_fonts() -> None:
    """Skip the test (fail in CI) when the label fonts are not where ``LABEL_FONT_DIRS`` says."""
    _, missing = find_font_files(settings.LABEL_FONT_DIRS)
    if missing:
        _unavailable(f"label fonts {', '.join(missing)}")


def pdf_to_image(pdf: bytes, tmp_path: Path, dpi: int = 300) -> Image.Image:
    """Rasterise the first page, in grey, as a printer would."""
    source = tmp_path / "label.pdf"
    source.write_bytes(pdf)
    subprocess.run(  # noqa: S603 - fixed argv, our own temporary files
        [require_tool("pdftoppm"), "-r", str(dpi), "-gray", "-png", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    return Image.open(tmp_path / "page.png").convert("L")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The text of the PDF as a copy-and-paste (or a screen reader) gets it."""
    source = tmp_path / "label.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(  # noqa: S603 - fixed argv, our own temporary files
        [require_tool("pdftotext"), "-enc", "UTF-8", str(source), "-"],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return result.stdout.decode()


def pdf_info(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    """``pdfinfo``'s fields (Pages, Page size, ...)."""
    source = tmp_path / "label.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(  # noqa: S603 - fixed argv, our own temporary files
        [require_tool("pdfinfo"), str(source)], check=True, timeout=60, capture_output=True, text=True
    )
    fields = (line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    return {name.strip(): value.strip() for name, value in fields}


def pdf_fonts(pdf: bytes, tmp_path: Path) -> list[str]:
    """``pdffonts``' rows, one a font: name, type, encoding, embedded, subset, unicode map, object."""
    source = tmp_path / "label.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(  # noqa: S603 - fixed argv, our own temporary files
        [require_tool("pdffonts"), str(source)], check=True, timeout=60, capture_output=True, text=True
    )
    return result.stdout.splitlines()[2:]  # below the header and its underline


def scan(image: Image.Image) -> dict[str, list[zxingcpp.Barcode]]:
    """Every barcode a scanner finds in the image, by format name ("Code 128", "QR Code")."""
    found: dict[str, list[zxingcpp.Barcode]] = {}
    for barcode in zxingcpp.read_barcodes(image):
        found.setdefault(str(barcode.format), []).append(barcode)
    return found


_COMMAND = re.compile(r"[\^~][^\^~]*")


def zpl_commands(zpl: str) -> list[str]:
    """ZPL split into commands, each from its ``^`` or ``~`` up to the next one, as a printer parses it."""
    return [command.rstrip("\n") for command in _COMMAND.findall(zpl)]


def zpl_command_names(zpl: str) -> list[str]:
    """Just the command names (``^FO``, ``^A0``, ``^FD``...), in order."""
    return [command[:3] for command in zpl_commands(zpl)]


def zpl_field_text(command: str, hex_indicator: str | None = "\\") -> str:
    """What a ``^FD`` command prints, its ``^FH`` hex escapes decoded (UTF-8)."""
    data = command[3:]
    if hex_indicator is None:
        return data
    raw = re.sub(
        re.escape(hex_indicator) + r"([0-9A-Fa-f]{2})",
        lambda match: f"\x00{match.group(1)}",
        data,
    )
    decoded = bytearray()
    for index, piece in enumerate(raw.split("\x00")):
        if index:
            decoded.append(int(piece[:2], 16))
            piece = piece[2:]
        decoded += piece.encode()
    return decoded.decode()
