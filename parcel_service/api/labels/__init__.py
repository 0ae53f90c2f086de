"""Shipping labels: a parcel's label as a 4 x 6 inch PDF or as ZPL, rendered once per parcel version and cached.

``content`` says what a label prints, ``pdf`` and ``zpl`` print it, ``fonts`` and ``qr`` serve the PDF.
``LabelPrinter`` is what the view uses: it refuses cancelled parcels, names each label with an ETag and
renders through the cache. A label is keyed by everything its bytes depend on (the parcel's version, the
format, the tracking URL, the renderer and its fonts), so a change to any of them is a new label, and
an edit of the parcel (which bumps its version) needs no invalidation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from django.core.cache import BaseCache

from ...domain.errors import ParcelNotLabelable
from ...domain.status_machine import can_be_labelled
from ...models import Parcel
from .content import SAMPLE_CONTENT, LabelContent, tracking_url
from .fonts import LabelFonts, LabelFontsUnavailable, load_label_fonts
from .pdf import render_pdf
from .zpl import render_zpl

__all__ = ["Label", "LabelFontsUnavailable", "LabelFormat", "LabelPrinter", "tracking_url"]

# Bump when a renderer's output changes: labels cached, and ETags handed out, by the previous release are
# then never served again.
RENDERER_VERSION = 1
LABEL_CACHE_TTL_S = 3600


class LabelFormat(StrEnum):
    """What a label is printed as."""

    PDF = "pdf"
    ZPL = "zpl"


# Parsed fonts by LABEL_FONT_DIRS (None: not installed), for the life of the process: parsing takes ~0.25 s.
_FONTS: dict[tuple[str, ...], LabelFonts | None] = {}
CONTENT_TYPES = {LabelFormat.PDF: "application/pdf", LabelFormat.ZPL: "application/zpl"}


@dataclass(frozen=True)
class Label:
    """A parcel's label in one format, before it is rendered: what names it, and how to get its bytes."""

    printer: LabelPrinter
    parcel: Parcel
    label_format: LabelFormat
    tracking_url: str
    etag: str

    @property
    def content_type(self) -> str:
        """The media type of the label's bytes."""
        return CONTENT_TYPES[self.label_format]

    @property
    def filename(self) -> str:
        """``<tracking number>.pdf`` or ``.zpl``."""
        return f"{self.parcel.tracking_number}.{self.label_format}"

    def body(self) -> bytes:
        """The label's bytes: from the cache when warm, else rendered now (and cached)."""
        return self.printer.body(self)


class LabelPrinter:
    """Labels for parcels, rendered through the cache.

    Args:
        cache: A Django cache. Entries are immutable (keyed by parcel version), so no write-through is needed.
        font_dirs: Where the PDF label's fonts are looked for (``LABEL_FONT_DIRS``).
    """

    def __init__(self, *, cache: BaseCache, font_dirs: list[str] | tuple[str, ...]) -> None:
        self.cache = cache
        self.font_dirs = tuple(font_dirs)

    def fonts(self) -> LabelFonts:
        """The PDF fonts: looked for once per process (at start, see ``core_project.wsgi``) and kept.

        Raises:
            LabelFontsUnavailable: They are not installed (a restart picks up fonts installed since).
        """
        if self.font_dirs not in _FONTS:
            try:
                _FONTS[self.font_dirs] = load_label_fonts(self.font_dirs)
            except LabelFontsUnavailable:
                _FONTS[self.font_dirs] = None
                raise
        fonts = _FONTS[self.font_dirs]
        if fonts is None:
            raise LabelFontsUnavailable()
        return fonts

    def label(self, *, parcel: Parcel, label_format: LabelFormat, tracking_url: str) -> Label:
        """The label of ``parcel`` in ``label_format``, its QR code linking to ``tracking_url``.

        Raises:
            ParcelNotLabelable: The parcel is cancelled.
            LabelFontsUnavailable: A PDF was asked for and its fonts are not installed.
        """
        if not can_be_labelled(parcel.status):
            raise ParcelNotLabelable()
        renderer = f"r{RENDERER_VERSION}"
        if label_format == LabelFormat.PDF:
            renderer += f"-{self.fonts().fingerprint}"
        digest = hashlib.sha256(f"{renderer}|{tracking_url}".encode()).hexdigest()[:16]
        etag = f'"label-{parcel.pk}-{parcel.version}-{label_format}-{digest}"'
        return Label(self, parcel, label_format, tracking_url, etag)

    def body(self, label: Label) -> bytes:
        """``label``'s bytes, from the cache or rendered now."""
        key = f"label:{label.etag.strip(chr(34))}"
        body = self.cache.get(key)
        if body is None:
            body = self.render(label)
            self.cache.set(key, body, LABEL_CACHE_TTL_S)
        return bytes(body)

    def render(self, label: Label) -> bytes:
        """Render ``label`` now, bypassing the cache."""
        content = LabelContent.of(label.parcel, label.tracking_url)
        if label.label_format == LabelFormat.PDF:
            return render_pdf(content, self.fonts())
        return render_zpl(content)

    def warm_up(self) -> None:
        """Load the fonts and render a sample, so a worker's first label costs no more than any other (~30 ms)."""
        try:
            fonts = self.fonts()
        except LabelFontsUnavailable:
            return  # logged by load_label_fonts; PDF labels answer 503 until the fonts are installed
        render_pdf(SAMPLE_CONTENT, fonts)
