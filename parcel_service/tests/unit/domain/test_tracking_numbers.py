import itertools
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcel_service.domain.errors import InvalidTrackingNumber
from parcel_service.domain.tracking_numbers import TrackingNumberGenerator, check_digit, is_valid, normalize


def test_published_vector_rr473124829gb_is_valid():
    assert is_valid("RR473124829GB")


def test_serial_12345678_has_check_digit_5():
    assert check_digit("12345678") == 5


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("47312482", 9),  # RR473124829GB
        ("12345678", 5),  # c = 11 -> 5
        ("00000000", 5),  # sum 0 -> c = 11 -> 5
    ],
)
def test_check_digit_vectors(serial, expected):
    assert check_digit(serial) == expected


def test_check_digit_ten_maps_to_zero():
    # Find a serial whose raw check value is 10 (sum % 11 == 1) and confirm it maps to 0.
    serial = next(
        f"{n:08d}"
        for n in range(1000)
        if sum(int(d) * w for d, w in zip(f"{n:08d}", (8, 6, 4, 2, 3, 5, 9, 7), strict=False)) % 11 == 1
    )
    assert check_digit(serial) == 0


@pytest.mark.parametrize("bad", ["1234567", "123456789", "1234567a", "١٢٣٤٥٦٧٨"])
def test_check_digit_rejects_anything_but_eight_ascii_digits(bad):
    with pytest.raises(ValueError):
        check_digit(bad)


@pytest.mark.parametrize(
    "bad",
    ["RR473124828GB", "RR47312482GB", "R473124829GB", "RR473124829G", "12473124829GB", "RR4731248X9GB", "", "x" * 100],
)
def test_invalid_numbers_are_refused(bad):
    assert not is_valid(bad)
    with pytest.raises(InvalidTrackingNumber):
        normalize(bad)


def test_normalize_upper_cases_and_strips_spaces():
    assert normalize("  rr 4731 2482 9 gb ") == "RR473124829GB"


def test_generated_numbers_pass_the_s10_check_and_use_configured_prefix_and_country():
    generate = TrackingNumberGenerator("XY", "DE", rng=Random(7))
    numbers = [generate() for _ in range(2000)]
    assert all(is_valid(n) and n.startswith("XY") and n.endswith("DE") for n in numbers)


def test_generated_serials_are_not_sequential():
    generate = TrackingNumberGenerator("CP", "NL")
    serials = [int(generate()[2:10]) for _ in range(200)]
    steps = {b - a for a, b in itertools.pairwise(serials)}
    assert len(set(serials)) > 190
    assert len(steps) > 150  # a counter would show one constant step


@pytest.mark.parametrize(("prefix", "country"), [("C", "NL"), ("CP", "nl"), ("C1", "NL")])
def test_generator_refuses_malformed_prefix_or_country(prefix, country):
    with pytest.raises(ValueError):
        TrackingNumberGenerator(prefix, country)


@given(st.integers(min_value=0, max_value=10**8 - 1))
def test_property_every_serial_round_trips_and_every_other_check_digit_fails(serial_number):
    serial = f"{serial_number:08d}"
    digit = check_digit(serial)
    assert 0 <= digit <= 9
    assert is_valid(f"CP{serial}{digit}NL")
    for wrong in set(range(10)) - {digit}:
        assert not is_valid(f"CP{serial}{wrong}NL")
