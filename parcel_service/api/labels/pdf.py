"""The PDF label: one 4 x 6 inch page for a 203 dpi thermal printer (or any printer), drawn with reportlab.

Bands from the top: the sender (small), the recipient (large), weight / reference / size beside a QR
code of the public tracking URL, and the tracking number as Code 128 with the number under it. Barcode
modules are whole printer dots and start on a dot, so a 203 dpi printer reproduces every bar exactly.
Everything is black: a thermal printer would dither grey. Text too long for its place shrinks, wraps,
and at last is cut with an ellipsis, so any address prints. The output is deterministic (reportlab's
``invariant`` fixes the creation date and document id): the same parcel always gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab import rl_config
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch, mm
from reportlab.pdfgen.canvas import Canvas

from .content import LabelAddress, LabelContent, wrap_lines
from .fonts import FontChain, LabelFonts
from .qr import qr_modules

# Binary streams rather than ASCII85 text: a quarter smaller and faster to write. Labels are the only
# thing this service renders with reportlab.
rl_config.useA85 = 0

PAGE_WIDTH, PAGE_HEIGHT = 4 * inch, 6 * inch
PRINTER_DPI = 203
DOT = inch / PRINTER_DPI
# Code 128 module (narrowest bar): 3 dots = 0.375 mm, above the 0.25 mm floor of common scanners and
# small enough that the number, with its quiet zones, fits well inside the label's width.
BARCODE_MODULE = 3 * DOT
BARCODE_QUIET_MODULES = 10  # ISO/IEC 15417: at least 10 modules of white on either side
BARCODE_HEIGHT = 22 * mm
QR_QUIET_MODULES = 4  # ISO/IEC 18004
QR_BOX = 30 * mm  # the QR code, its quiet zone included, fits in this square

MARGIN = 3 * mm
INNER_WIDTH = PAGE_WIDTH - 2 * MARGIN
PADDING = 2.5 * mm
TEXT_WIDTH = INNER_WIDTH - 2 * PADDING
RULE_WIDTH = 1.2
# Band heights from the top; the barcode band takes the rest.
SENDER_BAND = 24 * mm
RECIPIENT_BAND = 50 * mm
DETAILS_BAND = 32 * mm
CAPTION_SIZE = 6
LEADING = 1.2
ELLIPSIS = "…"


def snap(value: float) -> float:
    """Round a position to a whole printer dot."""
    return round(value / DOT) * DOT


def wrap(chain: FontChain, text: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` in ``chain`` at ``size``."""
    return wrap_lines(text, width, lambda line: chain.width(line, size))


def fit(
    chain: FontChain, text: str, *, width: float, size: float, min_size: float, max_lines: int
) -> tuple[float, list[str]]:
    """The largest size, from ``size`` down to ``min_size``, at which ``text`` wraps into ``max_lines`` lines.

    At ``min_size`` what still does not fit is cut, ending with an ellipsis.

    Returns:
        The size and the lines.
    """
    while True:
        lines = wrap(chain, text, size, width)
        if len(lines) <= max_lines or size - 0.5 < min_size:
            break
        size -= 0.5
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and chain.width(last + ELLIPSIS, size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + ELLIPSIS
    return size, lines


@dataclass(frozen=True)
class Block:
    """A piece of an address: its text, its style and how far it may shrink or wrap."""

    text: str
    size: float
    min_size: float
    bold: bool = False
    max_lines: int = 1


def address_blocks(address: LabelAddress, *, large: bool) -> list[Block]:
    """An address as blocks, in reading order: the recipient's ``large``, the sender's small."""
    if not large:
        return [
            Block(address.name, 7.5, 6, bold=True),
            Block(address.company, 7.5, 6),
            Block(" ".join(filter(None, (address.street, address.street2))), 7.5, 6),
            Block(f"{address.postal_code} {address.city}", 7.5, 6),
            Block(address.country_name, 7.5, 6),
        ]
    return [
        Block(address.name, 15, 10, bold=True, max_lines=2),
        Block(address.company, 12, 9),
        Block(address.street, 12, 9, max_lines=2),
        Block(address.street2, 12, 9),
        Block(f"{address.postal_code} {address.city}", 16, 10, bold=True, max_lines=2),
        Block(address.country_name, 12, 9, bold=True),
    ]


class _Label:
    """Draws one label on a canvas, top to bottom."""

    def __init__(self, canvas: Canvas, content: LabelContent, fonts: LabelFonts) -> None:
        self.canvas = canvas
        self.content = content
        self.fonts = fonts

    def draw(self) -> None:
        top = PAGE_HEIGHT - MARGIN
        sender_bottom = top - SENDER_BAND
        recipient_bottom = sender_bottom - RECIPIENT_BAND
        details_bottom = recipient_bottom - DETAILS_BAND
        self._frame(top, sender_bottom, recipient_bottom, details_bottom)
        self._address("FROM", self.content.sender, top, sender_bottom, large=False)
        self._address("TO", self.content.recipient, sender_bottom, recipient_bottom, large=True)
        self._details(recipient_bottom, details_bottom)
        self._barcode(details_bottom, MARGIN)

    def _frame(self, top: float, sender_bottom: float, recipient_bottom: float, details_bottom: float) -> None:
        canvas = self.canvas
        canvas.setLineWidth(RULE_WIDTH)
        canvas.rect(MARGIN, MARGIN, INNER_WIDTH, top - MARGIN, stroke=1, fill=0)
        for y in (sender_bottom, recipient_bottom, details_bottom):
            canvas.line(MARGIN, y, PAGE_WIDTH - MARGIN, y)
        qr_left = PAGE_WIDTH - MARGIN - QR_BOX - PADDING
        canvas.line(qr_left, recipient_bottom, qr_left, details_bottom)

    def _caption(self, text: str, top: float) -> float:
        """A small bold caption ("FROM", "TO") at the top left of a band; returns the top of what follows."""
        baseline = top - PADDING - CAPTION_SIZE
        self.fonts.bold.draw(self.canvas, MARGIN + PADDING, baseline, text, CAPTION_SIZE)
        return baseline - 1.5 * mm

    def _address(self, caption: str, address: LabelAddress, top: float, bottom: float, *, large: bool) -> None:
        """The address under its caption; every size shrinks together until the whole address fits the band."""
        y = self._caption(caption, top)
        blocks = [block for block in address_blocks(address, large=large) if block.text.strip()]
        scale = 1.0
        while True:
            laid_out = [
                (
                    block,
                    *fit(
                        self.fonts.bold if block.bold else self.fonts.regular,
                        block.text,
                        width=TEXT_WIDTH,
                        size=block.size * scale,
                        min_size=block.min_size * scale,
                        max_lines=block.max_lines,
                    ),
                )
                for block in blocks
            ]
            height = sum(size * LEADING * len(lines) for _, size, lines in laid_out)
            if height <= y - bottom - PADDING or scale <= 0.5:
                break
            scale -= 0.05
        for block, size, lines in laid_out:
            chain = self.fonts.bold if block.bold else self.fonts.regular
            for line in lines:
                chain.draw(self.canvas, MARGIN + PADDING, y - size, line, size)
                y -= size * LEADING

    def _details(self, top: float, bottom: float) -> None:
        content, bold, regular = self.content, self.fonts.bold, self.fonts.regular
        x_caption, x_value = MARGIN + PADDING, MARGIN + PADDING + 16 * mm
        value_width = INNER_WIDTH - QR_BOX - 3 * PADDING - 16 * mm
        y = top - PADDING
        for caption, value in (("WEIGHT", content.weight), ("REF", content.reference), ("SIZE", content.dimensions)):
            if not value:
                continue
            size, lines = fit(regular, value, width=value_width, size=12, min_size=7, max_lines=1)
            y -= 12
            bold.draw(self.canvas, x_caption, y, caption, 8)
            regular.draw(self.canvas, x_value, y, lines[0], size)
            y -= 6
        self._qr(PAGE_WIDTH - MARGIN - QR_BOX, bottom + (DETAILS_BAND - QR_BOX) / 2)

    def _qr(self, x: float, y: float) -> None:
        """The tracking URL as a QR code, its modules whole dots, centred in the ``QR_BOX`` square at x, y."""
        modules = qr_modules(self.content.tracking_url)
        count = len(modules)
        module = max(1, int(QR_BOX / DOT) // (count + 2 * QR_QUIET_MODULES)) * DOT
        size = module * count
        rectangles = []
        for row, darks in enumerate(modules):
            column = 0
            while column < count:  # one rectangle per horizontal run of dark modules
                if not darks[column]:
                    column += 1
                    continue
                start = column
                while column < count and darks[column]:
                    column += 1
                rectangles.append(f"{start} {count - 1 - row} {column - start} 1 re")
        canvas = self.canvas
        canvas.saveState()
        canvas.translate(snap(x + (QR_BOX - size) / 2), snap(y + (QR_BOX - size) / 2))
        canvas.scale(module, module)
        # Whole-module coordinates, written directly: reportlab's path API formats every number through a
        # general float formatter, which cost a third of the label's render time for ~300 rectangles.
        canvas.addLiteral(" ".join(rectangles) + " f")
        canvas.restoreState()

    def _barcode(self, top: float, bottom: float) -> None:
        """Code 128 of the tracking number, the number grouped for people under it, centred in the band."""
        canvas, bold = self.canvas, self.fonts.bold
        below = self._caption("TRACKING NUMBER", top)
        barcode = Code128(
            self.content.tracking_number,
            barWidth=BARCODE_MODULE,
            barHeight=BARCODE_HEIGHT,
            quiet=1,
            lquiet=BARCODE_QUIET_MODULES * BARCODE_MODULE,
            rquiet=BARCODE_QUIET_MODULES * BARCODE_MODULE,
        )
        text, size, gap = self.content.tracking_number_grouped, 16, 2 * mm
        block = BARCODE_HEIGHT + gap + size
        barcode_bottom = snap(bottom + (below - bottom - block) / 2 + gap + size)
        barcode.drawOn(canvas, snap((PAGE_WIDTH - barcode.width) / 2), barcode_bottom)
        bold.draw(canvas, (PAGE_WIDTH - bold.width(text, size)) / 2, barcode_bottom - gap - size * 0.8, text, size)


def render_pdf(content: LabelContent, fonts: LabelFonts) -> bytes:
    """The label as a one-page PDF, its fonts subset and embedded."""
    buffer = io.BytesIO()
    # The initial font is ours too: reportlab would otherwise declare Helvetica, a font the PDF does not embed.
    canvas = Canvas(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        invariant=1,
        pageCompression=1,
        initialFontName=fonts.regular.faces[0].name,
    )
    canvas.setTitle(f"Shipping label {content.tracking_number}")
    canvas.setCreator("Parcel Service")
    _Label(canvas, content, fonts).draw()
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
