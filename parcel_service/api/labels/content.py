"""What a shipping label says, independent of how it is printed: both renderers (PDF, ZPL) read this."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pycountry

from ...models import Parcel


@dataclass(frozen=True)
class LabelAddress:
    """An address as printed: the lines of the block, top to bottom, and the destination country."""

    name: str
    company: str
    street: str
    street2: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    country_name: str  # upper-case English name, as the UPU asks for the last line of an address

    @classmethod
    def of(cls, parcel: Parcel, role: str) -> LabelAddress:
        """The ``sender`` or ``recipient`` address of ``parcel``."""
        fields = {field: printable(value) for field, value in parcel.address(role).items()}
        return cls(
            name=fields["name"],
            company=fields["company"],
            street=fields["street"],
            street2=fields["street2"],
            postal_code=fields["postal_code"],
            city=fields["city"],
            country=fields["country"],
            country_name=country_name(fields["country"]),
        )


@dataclass(frozen=True)
class LabelContent:
    """Everything a label prints."""

    tracking_number: str
    tracking_url: str
    sender: LabelAddress
    recipient: LabelAddress
    weight_grams: int
    reference: str
    dimensions_mm: tuple[int, int, int] | None

    @classmethod
    def of(cls, parcel: Parcel, tracking_url: str) -> LabelContent:
        """The label of ``parcel``, its QR code linking to ``tracking_url``."""
        dimensions = parcel.dimensions_mm
        return cls(
            tracking_number=parcel.tracking_number,
            tracking_url=tracking_url,
            sender=LabelAddress.of(parcel, "sender"),
            recipient=LabelAddress.of(parcel, "recipient"),
            weight_grams=parcel.weight_grams,
            reference=printable(parcel.reference),
            dimensions_mm=(
                None if dimensions is None else (dimensions["length"], dimensions["width"], dimensions["height"])
            ),
        )

    @property
    def tracking_number_grouped(self) -> str:
        """The S10 number as people read it: ``CP 123 456 785 NL`` (public tracking accepts the spaces)."""
        number = self.tracking_number
        return f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:11]} {number[11:]}"

    @property
    def weight(self) -> str:
        """The weight in kilograms, to the gram: ``1.2 kg``, ``0.075 kg``."""
        return f"{self.weight_grams / 1000:.3f}".rstrip("0").rstrip(".") + " kg"

    @property
    def dimensions(self) -> str:
        """``L x W x H cm`` to the millimetre, or an empty string."""
        if self.dimensions_mm is None:
            return ""
        return " x ".join(f"{mm / 10:g}" for mm in self.dimensions_mm) + " cm"


def printable(text: str) -> str:
    """``text`` NFC-normalised, with control characters and lone surrogates (which no printer can print) as spaces."""
    return "".join(
        " " if unicodedata.category(character) in ("Cc", "Cs") else character
        for character in unicodedata.normalize("NFC", text)
    ).strip()


def country_name(code: str) -> str:
    """The upper-case English short name of an ISO 3166-1 alpha-2 code (the code itself if unknown)."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name).upper()


def tracking_url(template: str, tracking_number: str, default: str) -> str:
    """The public tracking URL a label's QR code links to.

    Args:
        template: ``PUBLIC_TRACKING_URL``, with ``{tracking_number}``; empty to use ``default``.
        tracking_number: The parcel's S10 number.
        default: This service's own public tracking URL for the parcel.
    """
    if not template:
        return default
    return template.replace("{tracking_number}", quote(tracking_number, safe=""))


# A label to show and to test printers with (``manage.py sample_label``, ``make label-png``): names and
# places in Polish and Japanese.
SAMPLE_CONTENT = LabelContent(
    tracking_number="CP123456785NL",
    tracking_url="https://parcels.example.com/api/v1/track/CP123456785NL/",
    sender=LabelAddress("Zoë O'Brien", "", "ul. Piotrkowska 1", "", "90-001", "Łódź", "PL", "POLAND"),
    recipient=LabelAddress("山田 太郎", "株式会社サンプル", "丸の内1丁目1-1", "", "100-0005", "東京", "JP", "JAPAN"),
    weight_grams=1250,
    reference="ORDER-4711",
    dimensions_mm=(300, 200, 150),
)


def wrap_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break ``text`` into lines ``measure`` finds no wider than ``width``: between words, or inside a word too long."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for character in word:  # a word wider than the line, or text without spaces (Chinese, Japanese)
            if line and measure(line + character) > width:
                lines.append(line)
                line = ""
            line += character
    if line:
        lines.append(line)
    return lines
