"""UPU S10 tracking numbers: check digits, validation/normalisation and random generation.

Format (UPU standard S10): two service letters, eight serial digits, one check digit, and the
two-letter ISO 3166-1 country of the issuing operator, e.g. ``CP123456785NL``. The check digit
weights the serial by 8, 6, 4, 2, 3, 5, 9, 7; ``c = 11 - sum % 11`` with 10 -> 0 and 11 -> 5.
"""

from __future__ import annotations

import re
import secrets
from random import Random

from .errors import InvalidTrackingNumber

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10_PATTERN = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
_TWO_LETTERS = re.compile(r"[A-Z]{2}")
# Longest input worth looking at: 13 characters plus generous spacing. Longer is rejected unparsed.
_MAX_RAW_LENGTH = 64


def check_digit(serial: str) -> int:
    """Compute the S10 check digit of an eight-digit serial.

    Args:
        serial: Exactly eight ASCII digits.

    Returns:
        The check digit, 0-9.

    Raises:
        ValueError: ``serial`` is not eight digits.
    """
    if len(serial) != 8 or not serial.isascii() or not serial.isdigit():
        raise ValueError("an S10 serial is exactly eight digits")
    remainder = sum(int(digit) * weight for digit, weight in zip(serial, S10_WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    return {10: 0, 11: 5}.get(check, check)


def is_valid(tracking_number: str) -> bool:
    """Return whether ``tracking_number`` is a well-formed S10 number with a correct check digit."""
    if not _S10_PATTERN.fullmatch(tracking_number):
        return False
    return check_digit(tracking_number[2:10]) == int(tracking_number[10])


def normalize(raw: str) -> str:
    """Normalise user input to the canonical form and validate it.

    Surrounding and embedded spaces are removed and letters upper-cased, so ``" cp 1234 5678 5 nl "``
    becomes ``"CP123456785NL"``.

    Args:
        raw: The tracking number as a person typed it.

    Returns:
        The canonical 13-character tracking number.

    Raises:
        InvalidTrackingNumber: The input is malformed or its check digit is wrong.
    """
    # ASCII first: str.upper() maps some non-ASCII letters onto ASCII ones (U+017F LONG S -> "S").
    if len(raw) > _MAX_RAW_LENGTH or not raw.isascii():
        raise InvalidTrackingNumber()
    candidate = raw.replace(" ", "").upper()
    if not is_valid(candidate):
        raise InvalidTrackingNumber()
    return candidate


class TrackingNumberGenerator:
    """Issues random S10 numbers for one service prefix and country.

    Serials are drawn at random (not sequentially) so a tracking number reveals nothing about
    volumes and cannot be guessed from a neighbour; uniqueness is the database's job, and the
    service retries on the rare collision.
    """

    def __init__(self, prefix: str, country: str, rng: Random | None = None) -> None:
        if not _TWO_LETTERS.fullmatch(prefix) or not _TWO_LETTERS.fullmatch(country):
            raise ValueError("TRACKING_NUMBER_PREFIX and TRACKING_NUMBER_COUNTRY must be two upper-case letters")
        self.prefix = prefix
        self.country = country
        self._rng = rng or secrets.SystemRandom()

    def __call__(self) -> str:
        """Return a new, valid tracking number."""
        serial = f"{self._rng.randrange(10**8):08d}"
        return f"{self.prefix}{serial}{check_digit(serial)}{self.country}"
