"""``manage.py sample_label``: the sample label (Polish and Japanese addresses), to try a printer or show the layout.

``manage.py sample_label --format zpl | nc printer 9100`` prints it on a Zebra printer; ``make label-png``
renders the PDF to ``docs/label.png``. Touches no database.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError, CommandParser

from parcel_service.api.labels import LabelFontsUnavailable, LabelFormat, LabelPrinter
from parcel_service.api.labels.content import SAMPLE_CONTENT
from parcel_service.api.labels.pdf import render_pdf
from parcel_service.api.labels.zpl import render_zpl


class Command(BaseCommand):
    """Write the sample label as PDF or ZPL to a file or standard output."""

    help = "Write the sample shipping label (PDF or ZPL) to --output, or to standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--format`` and ``--output``."""
        parser.add_argument("--format", choices=[f.value for f in LabelFormat], default=LabelFormat.PDF.value)
        parser.add_argument("--output", type=Path, help="File to write; standard output when left out.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Render the sample and write it."""
        if options["format"] == LabelFormat.ZPL:
            body = render_zpl(SAMPLE_CONTENT)
        else:
            try:
                fonts = LabelPrinter(cache=caches["default"], font_dirs=settings.LABEL_FONT_DIRS).fonts()
            except LabelFontsUnavailable as exc:
                raise CommandError(f"{exc.detail} Looked in LABEL_FONT_DIRS={settings.LABEL_FONT_DIRS}.") from exc
            body = render_pdf(SAMPLE_CONTENT, fonts)
        if options["output"] is None:
            sys.stdout.buffer.write(body)  # bytes: a PDF is binary
            sys.stdout.flush()
        else:
            options["output"].write_bytes(body)
