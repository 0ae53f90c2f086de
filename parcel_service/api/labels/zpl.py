"""The ZPL label: the PDF label's content for Zebra printers, 4 x 6 inch at 203 dpi (812 x 1218 dots).

Text is UTF-8 (``^CI28``) in the printer's scalable font 0; scripts that font lacks (Chinese, Japanese,
Korean) print only where the printer has a Unicode font assigned to it. Every piece of text a customer
typed goes through ``field``: ``^`` and ``~`` start ZPL commands wherever they appear, so they, and the
hexadecimal indicator itself, are written as ``^FH`` hex escapes. A name can print a caret; it cannot
add a command.
"""

from __future__ import annotations

import unicodedata

from .content import LabelAddress, LabelContent, wrap_lines
from .qr import qr_version

WIDTH, HEIGHT = 812, 1218
MARGIN, PADDING, RULE = 24, 20, 3
INNER = WIDTH - 2 * MARGIN
TEXT_WIDTH = INNER - 2 * PADDING
SENDER_BAND, RECIPIENT_BAND, DETAILS_BAND = 192, 400, 256  # dots: 24, 50 and 32 mm, as on the PDF
BARCODE_MODULE_DOTS, BARCODE_HEIGHT = 3, 176
QR_BOX = 240
# Font 0 is condensed: a character is at most about 0.6 of its height wide; a CJK character (from a
# Unicode font the printer may have) is square.
CHARACTER_WIDTH, WIDE = 0.6, 1.0
HEX_INDICATOR = "\\"
ESCAPED = {"^", "~", HEX_INDICATOR}


def field(text: str) -> str:
    """A ``^FD`` field printing ``text`` exactly, with every ZPL-significant character hex-escaped (``^FH``)."""
    escaped = "".join(f"{HEX_INDICATOR}{ord(c):02X}" if c in ESCAPED else c for c in text)
    return f"^FH{HEX_INDICATOR}^FD{escaped}^FS"


def text_width(text: str, height: int) -> float:
    """An upper estimate of the width of ``text`` in font 0 at ``height`` dots: CJK characters are square."""
    return sum(height * (WIDE if unicodedata.east_asian_width(c) in ("W", "F") else CHARACTER_WIDTH) for c in text)


def wrap(text: str, height: int, max_lines: int, width: int = TEXT_WIDTH) -> list[str]:
    """``text`` in lines no wider than ``width`` at ``height``, cut with "..." after ``max_lines`` lines."""
    lines = wrap_lines(text, width, lambda line: text_width(line, height))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "...", height) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "..."
    return lines


class _Label:
    """Collects the commands of one label, top to bottom."""

    def __init__(self, content: LabelContent) -> None:
        self.content = content
        self.commands: list[str] = []

    def text(self, x: int, y: int, text: str, height: int) -> None:
        self.commands.append(f"^FO{x},{y}^A0N,{height},{height}{field(text)}")

    def lines(self, y: int, text: str, height: int, max_lines: int = 1) -> int:
        """``text`` wrapped from ``y`` down at the left of the text column; returns the next line's top."""
        for line in wrap(text, height, max_lines) if text else []:
            self.text(MARGIN + PADDING, y, line, height)
            y += int(height * 1.15)
        return y

    def rule(self, y: int) -> None:
        self.commands.append(f"^FO{MARGIN},{y}^GB{INNER},{RULE},{RULE}^FS")

    def render(self) -> str:
        content = self.content
        sender_bottom = MARGIN + SENDER_BAND
        recipient_bottom = sender_bottom + RECIPIENT_BAND
        details_bottom = recipient_bottom + DETAILS_BAND
        self.commands += ["^XA", "^CI28", f"^PW{WIDTH}", f"^LL{HEIGHT}", "^LH0,0"]
        self.commands.append(f"^FO{MARGIN},{MARGIN}^GB{INNER},{HEIGHT - 2 * MARGIN},{RULE}^FS")
        for y in (sender_bottom, recipient_bottom, details_bottom):
            self.rule(y)
        qr_left = WIDTH - MARGIN - QR_BOX - PADDING
        self.commands.append(f"^FO{qr_left},{recipient_bottom}^GB{RULE},{DETAILS_BAND},{RULE}^FS")
        self.address("FROM", content.sender, MARGIN, large=False)
        self.address("TO", content.recipient, sender_bottom, large=True)
        self.details(recipient_bottom, qr_left)
        self.barcode(details_bottom)
        self.commands.append("^XZ")
        return "\n".join(self.commands) + "\n"

    def address(self, caption: str, address: LabelAddress, top: int, *, large: bool) -> None:
        self.text(MARGIN + PADDING, top + PADDING, caption, 18)
        y = top + PADDING + 26
        street = " ".join(filter(None, (address.street, address.street2)))
        if large:
            y = self.lines(y, address.name, 44, max_lines=2)
            y = self.lines(y, address.company, 34)
            y = self.lines(y, address.street, 34, max_lines=2)
            y = self.lines(y, address.street2, 34)
            y = self.lines(y, f"{address.postal_code} {address.city}", 48, max_lines=2)
            self.lines(y, address.country_name, 34)
        else:
            for text in (address.name, address.company, street, f"{address.postal_code} {address.city}"):
                y = self.lines(y, text, 22)
            self.lines(y, address.country_name, 22)

    def details(self, top: int, qr_left: int) -> None:
        content = self.content
        y = top + PADDING
        value_width = qr_left - MARGIN - 2 * PADDING - 130
        for caption, value in (("WEIGHT", content.weight), ("REF", content.reference), ("SIZE", content.dimensions)):
            if value:
                self.text(MARGIN + PADDING, y + 6, caption, 24)
                self.text(MARGIN + PADDING + 130, y, wrap(value, 34, 1, value_width)[0], 34)
                y += 52
        # Model 2, level M, automatic input mode ("MA,"), modules sized to fill the QR box.
        modules = 4 * qr_version(content.tracking_url) + 17
        magnification = max(1, min(10, QR_BOX // (modules + 8)))
        size = modules * magnification
        x, y = qr_left + RULE + (QR_BOX + PADDING - size) // 2, top + (DETAILS_BAND - size) // 2
        self.commands.append(f"^FO{x},{y}^BQN,2,{magnification}{field('MA,' + content.tracking_url)}")

    def barcode(self, top: int) -> None:
        content = self.content
        self.text(MARGIN + PADDING, top + PADDING, "TRACKING NUMBER", 18)
        # Code 128, subset B from the start (mode N): a scanner reads exactly the tracking number.
        modules = 11 * (len(content.tracking_number) + 2) + 13
        x = (WIDTH - modules * BARCODE_MODULE_DOTS) // 2
        self.commands.append(
            f"^FO{x},{top + 70}^BY{BARCODE_MODULE_DOTS}^BCN,{BARCODE_HEIGHT},N,N,N,N^FD{content.tracking_number}^FS"
        )
        self.commands.append(
            f"^FO{MARGIN},{top + 70 + BARCODE_HEIGHT + 16}^A0N,52,52^FB{INNER},1,0,C"
            f"^FD{content.tracking_number_grouped}^FS"
        )


def render_zpl(content: LabelContent) -> bytes:
    """The label as ZPL II, UTF-8."""
    return _Label(content).render().encode()
