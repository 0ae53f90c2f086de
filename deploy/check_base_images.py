"""Check the Dockerfile's base images: official CPython, the CI's Python minor, a supported Debian.

Every ``FROM`` (other than a reference to an earlier build stage) must be
``python:<major>.<minor>[.<patch>]-[slim-]<debian>[@sha256:...]`` where

- ``<major>.<minor>`` is the Python that runs this script (the one CI tested the code with), and
  that Python release is still supported upstream;
- ``<debian>`` is a Debian release still supported (``bookworm``, ``trixie``); older releases such as
  ``bullseye``, ``buster`` or ``stretch`` are refused.

End-of-life dates are upstream's (python.org release schedule; Debian security + LTS support).

Usage: ``.venv/bin/python deploy/check_base_images.py [Dockerfile]``
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

PYTHON_END_OF_LIFE = {
    "3.10": dt.date(2026, 10, 31),
    "3.11": dt.date(2027, 10, 31),
    "3.12": dt.date(2028, 10, 31),
    "3.13": dt.date(2029, 10, 31),
    "3.14": dt.date(2030, 10, 31),
}
DEBIAN_END_OF_LIFE = {
    "bookworm": dt.date(2028, 6, 30),  # Debian 12, LTS end
    "trixie": dt.date(2030, 6, 30),  # Debian 13, LTS end
}
IMAGE = re.compile(
    r"^(?:docker\.io/(?:library/)?)?python:(?P<minor>\d+\.\d+)(?:\.\d+)?-(?:slim-)?(?P<debian>[a-z]+)"
    r"(?:@sha256:[0-9a-f]{64})?$"
)


def from_images(dockerfile: str) -> list[tuple[str, str | None]]:
    """The (image, stage name) of every FROM instruction, flags such as --platform skipped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    images = []
    for line in joined.splitlines():
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [word for word in words[1:] if not word.startswith("--")]
        stage = args[2] if len(args) >= 3 and args[1].upper() == "AS" else None
        images.append((args[0], stage))
    return images


def problems(dockerfile: str, python_minor: str, today: dt.date) -> list[str]:
    """Every violation of the rules above; an empty list when the Dockerfile is fine."""
    found = []
    stages: set[str] = set()
    images = from_images(dockerfile)
    if not images:
        return ["no FROM instruction"]
    for image, stage in images:
        if image in stages:
            continue
        match = IMAGE.match(image)
        if not match:
            found.append(f"{image}: not an official python:<X.Y>-[slim-]<debian> image")
        else:
            minor, debian = match["minor"], match["debian"]
            if minor != python_minor:
                found.append(f"{image}: Python {minor}, but CI tests with Python {python_minor}")
            eol = PYTHON_END_OF_LIFE.get(minor)
            if eol is None or eol < today:
                found.append(f"{image}: Python {minor} is end-of-life or unknown (end of life: {eol})")
            debian_eol = DEBIAN_END_OF_LIFE.get(debian)
            if debian_eol is None or debian_eol < today:
                found.append(f"{image}: Debian {debian} is end-of-life or not allowed (use bookworm or trixie)")
        if stage:
            stages.add(stage)
    return found


def main() -> int:
    """Check the Dockerfile given (default ./Dockerfile) against the running Python."""
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "Dockerfile")
    python_minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = problems(path.read_text(), python_minor, dt.date.today())
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    if found:
        return 1
    images = ", ".join(image for image, _ in from_images(path.read_text()))
    print(f"{path}: base images OK for Python {python_minor}: {images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
