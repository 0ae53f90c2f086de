"""The PDF label's fonts: found in ``LABEL_FONT_DIRS``, embedded (subset) in every label, chosen per text run.

Noto Sans covers Latin, Greek and Cyrillic; WenQuanYi Micro Hei covers Chinese, Japanese and Korean.
reportlab embeds TrueType outlines only, which rules out Noto Sans CJK (its outlines are CFF). Each run
of text is set in the first font of the chain whose character map has its characters, so "Zoë 東京"
prints with both fonts and never as empty boxes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ...domain.errors import ParcelServiceError

logger = logging.getLogger(__name__)

# (registered name, file name, index in a collection, faux bold) per chain, in order of preference.
REGULAR_FACES = (("LabelSans", "NotoSans-Regular.ttf", 0, False), ("LabelCJK", "wqy-microhei.ttc", 0, False))
BOLD_FACES = (("LabelSans-Bold", "NotoSans-Bold.ttf", 0, False), ("LabelCJK", "wqy-microhei.ttc", 0, True))
# WenQuanYi Micro Hei has one weight: bold CJK text is stroked as well as filled, by this share of its size.
FAUX_BOLD_STROKE = 0.035
_FILL_AND_STROKE, _FILL = 2, 0


class LabelFontsUnavailable(ParcelServiceError):
    """The label fonts are not installed, so a PDF label cannot print every name correctly."""

    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    code = "labels_unavailable"
    default_detail = "PDF labels are unavailable: the label fonts are not installed. ZPL labels still work."


@dataclass(frozen=True)
class Face:
    """One registered font and the characters it has glyphs for."""

    name: str
    characters: frozenset[int]
    faux_bold: bool

    def covers(self, character: str) -> bool:
        """Whether the font has a glyph for ``character``."""
        return ord(character) in self.characters


@dataclass(frozen=True)
class FontChain:
    """Faces in order of preference: each run of text is set in the first face that has its characters."""

    faces: tuple[Face, ...]

    def runs(self, text: str) -> Iterator[tuple[Face, str]]:
        """Split ``text`` into ``(face, run)`` pieces.

        A space stays in the run it interrupts when that run's face has it, so "東京 都" is one run.
        A character no face has goes to the first face (reportlab draws its "missing glyph" box).
        """
        current: Face | None = None
        run: list[str] = []
        for character in text:
            if current is not None and character.isspace() and current.covers(character):
                face = current
            else:
                face = next((f for f in self.faces if f.covers(character)), self.faces[0])
            if face is not current and run:
                yield current, "".join(run)  # type: ignore[misc]  # current is set once run is non-empty
                run = []
            current = face
            run.append(character)
        if run:
            yield current, "".join(run)  # type: ignore[misc]

    def width(self, text: str, size: float) -> float:
        """Width of ``text`` set at ``size`` points."""
        return sum(pdfmetrics.stringWidth(run, face.name, size) for face, run in self.runs(text))

    def draw(self, canvas: Canvas, x: float, y: float, text: str, size: float) -> None:
        """Draw ``text`` with its baseline starting at (``x``, ``y``)."""
        line = canvas.beginText(x, y)
        for face, run in self.runs(text):
            line.setFont(face.name, size)
            if face.faux_bold:
                canvas.setLineWidth(size * FAUX_BOLD_STROKE)
            line.setTextRenderMode(_FILL_AND_STROKE if face.faux_bold else _FILL)
            line.textOut(run)
        canvas.drawText(line)


@dataclass(frozen=True)
class LabelFonts:
    """The regular and bold chains, and a fingerprint of the font files (part of every PDF label's ETag)."""

    regular: FontChain
    bold: FontChain
    fingerprint: str


def find_font_files(directories: Sequence[str | Path]) -> tuple[dict[str, Path], list[str]]:
    """Look each label font file up in ``directories`` (first match wins).

    Returns:
        The files found, by file name, and the names of those that are missing.
    """
    wanted = sorted({file_name for _, file_name, _, _ in (*REGULAR_FACES, *BOLD_FACES)})
    found: dict[str, Path] = {}
    for file_name in wanted:
        path = next((Path(d) / file_name for d in directories if (Path(d) / file_name).is_file()), None)
        if path is not None:
            found[file_name] = path
    return found, [name for name in wanted if name not in found]


def load_label_fonts(directories: Sequence[str | Path]) -> LabelFonts:
    """Find, parse and register the label fonts with reportlab (about 0.3 s, so once per process).

    Raises:
        LabelFontsUnavailable: A font file is missing from every directory.
    """
    found, missing = find_font_files(directories)
    if missing:
        logger.error("label fonts missing: %s (searched LABEL_FONT_DIRS=%s)", ", ".join(missing), list(directories))
        raise LabelFontsUnavailable()
    loaded: dict[str, TTFont] = {}

    def chain(faces: tuple[tuple[str, str, int, bool], ...]) -> FontChain:
        result = []
        for name, file_name, index, faux_bold in faces:
            if name not in loaded:
                loaded[name] = TTFont(name, str(found[file_name]), subfontIndex=index)
                pdfmetrics.registerFont(loaded[name])
            result.append(Face(name, frozenset(loaded[name].face.charToGlyph), faux_bold))
        return FontChain(tuple(result))

    regular, bold = chain(REGULAR_FACES), chain(BOLD_FACES)
    # Name and size identify a packaged font version well enough; a changed file changes every label's ETag.
    identity = "|".join(f"{name}:{path.stat().st_size}" for name, path in sorted(found.items()))
    return LabelFonts(regular, bold, hashlib.sha256(identity.encode()).hexdigest()[:12])
