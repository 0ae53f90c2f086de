"""Fail when a relative link in the project's Markdown points at nothing.

Checks every inline link and image (``[text](target)``) outside code in README.md, docs/*.md and
bench/README.md (or the files given as arguments): a relative target must name an existing file or folder
of the repository, and a ``#fragment`` must name a heading of the Markdown file it points into (GitHub's
anchor rules). Links with a scheme (https:, mailto:) are not fetched.

    python3 .ci/check_links.py [FILE.md ...]      # exit 0: all links resolve; 1: the broken ones are listed
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))
DEFAULT_FILES = ["README.md", *DOCS, "bench/README.md"]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with inline code removed, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, INLINE_CODE.sub("", line)))
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file (lower case, punctuation dropped, spaces to hyphens)."""
    seen: dict[str, int] = {}
    result = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1))  # a link in a heading keeps its text
        slug = re.sub(r"[^\w\- ]", "", title.lower().replace("`", "")).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    for match in re.finditer(r'<a\s+(?:name|id)="([^"]+)"', path.read_text(encoding="utf-8")):
        result.add(match.group(1))
    return result


def broken_links(markdown: Path) -> list[str]:
    """``file:line: target (why)`` for every link of ``markdown`` that does not resolve."""
    problems = []
    for number, line in prose_lines(markdown.read_text(encoding="utf-8")):
        for match in LINK.finditer(line):
            target = match.group(1)
            if SCHEME.match(target):
                continue
            path_part, _, fragment = target.partition("#")
            destination = (markdown.parent / unquote(path_part)).resolve() if path_part else markdown
            where = f"{markdown.relative_to(ROOT)}:{number}: {target}"
            if not destination.exists():
                problems.append(f"{where} (no such file)")
            elif ROOT not in destination.parents and destination != ROOT:
                problems.append(f"{where} (outside the repository: a clone does not have it)")
            elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                problems.append(f"{where} (no heading #{fragment} in {destination.relative_to(ROOT)})")
    return problems


def main(argv: list[str]) -> int:
    """Check the given files (default: the project's documentation) and report."""
    files = [ROOT / name for name in (argv or DEFAULT_FILES)]
    problems = [problem for path in files for problem in broken_links(path)]
    for problem in problems:
        print(f"broken link: {problem}")
    if problems:
        return 1
    print(f"links: every relative link in {len(files)} Markdown files resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
