"""The ZPL label, parsed into commands as a Zebra printer parses it."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import pytest

from parcel_service.api.labels.content import LabelContent
from parcel_service.api.labels.zpl import TEXT_WIDTH, field, render_zpl, text_width
from parcel_service.tests.labels import CONTENT, zpl_command_names, zpl_commands, zpl_field_text

HOSTILE = "X^XA^FO0,0^FDhacked^FS~JR"


def with_recipient_name(name: str) -> LabelContent:
    return dataclasses.replace(CONTENT, recipient=dataclasses.replace(CONTENT.recipient, name=name))


def printed_texts(zpl: str) -> list[str]:
    commands = zpl_commands(zpl)
    return [
        zpl_field_text(command, "\\" if previous == "^FH\\" else None)
        for previous, command in pairwise(commands)
        if command.startswith("^FD")
    ]


def test_the_label_is_one_utf8_format_for_a_4_by_6_inch_label_at_203_dpi():
    zpl = render_zpl(CONTENT).decode()
    commands = zpl_commands(zpl)
    assert commands[0] == "^XA" and commands[-1] == "^XZ"
    assert commands.count("^XA") == 1
    assert commands.index("^CI28") < zpl_command_names(zpl).index("^FD")  # UTF-8 before the first field
    assert "^PW812" in commands and "^LL1218" in commands


def test_the_code_128_field_is_exactly_the_tracking_number():
    commands = zpl_commands(render_zpl(CONTENT).decode())
    (barcode,) = [index for index, command in enumerate(commands) if command.startswith("^BC")]
    field_data = next(command for command in commands[barcode:] if command.startswith("^FD"))
    assert field_data == "^FDCP123456785NL"
    assert commands[barcode - 1].startswith("^BY3")  # 3-dot modules, as on the PDF


def test_the_qr_code_field_is_the_tracking_url_at_level_m():
    commands = zpl_commands(render_zpl(CONTENT).decode())
    (qr,) = [index for index, command in enumerate(commands) if command.startswith("^BQ")]
    assert commands[qr].startswith("^BQN,2,")
    assert commands[qr + 1] == "^FH\\"
    assert zpl_field_text(commands[qr + 2]) == "MA," + CONTENT.tracking_url


def test_names_print_in_their_own_script_and_the_grouped_tracking_number_too():
    texts = printed_texts(render_zpl(CONTENT).decode())
    for expected in ("Zoë O'Brien", "Łódź", "山田 太郎", "東京", "Тверская ул. 1", "Οδός Αιόλου 5", "1.25 kg"):
        assert any(expected in text for text in texts), expected
    assert "CP 123 456 785 NL" in texts


def test_a_name_full_of_zpl_commands_adds_no_command_and_still_prints_as_typed():
    harmless = render_zpl(with_recipient_name("X" * len(HOSTILE))).decode()
    hostile = render_zpl(with_recipient_name(HOSTILE)).decode()
    assert zpl_command_names(hostile) == zpl_command_names(harmless)
    assert HOSTILE in printed_texts(hostile)


@pytest.mark.parametrize("text", ["^XA", "~JR", "back\\slash \\5E", "caret^tilde~", "\\&line"])
def test_a_field_decodes_to_exactly_its_text_whatever_the_characters(text):
    encoded = field(text)
    assert encoded.startswith("^FH\\^FD") and encoded.endswith("^FS")
    data = encoded[len("^FH\\") : -len("^FS")]
    assert "^" not in data[1:] and "~" not in data
    assert zpl_field_text(data) == text


def test_a_long_address_is_cut_rather_than_overprinted():
    long = dataclasses.replace(
        CONTENT, recipient=dataclasses.replace(CONTENT.recipient, street="Long street name " * 12)
    )
    texts = printed_texts(render_zpl(long).decode())
    street_lines = [text for text in texts if text.startswith("Long street")]
    assert len(street_lines) == 2
    assert street_lines[-1].endswith("...")


def test_the_same_content_renders_to_the_same_bytes():
    assert render_zpl(CONTENT) == render_zpl(CONTENT)


def test_text_without_spaces_is_broken_inside_a_word_rather_than_run_off_the_label():
    chinese = dataclasses.replace(
        CONTENT, recipient=dataclasses.replace(CONTENT.recipient, street="東京都千代田区丸の内" * 8)
    )
    street_lines = [
        text
        for text in printed_texts(render_zpl(chinese).decode())
        if text and set(text) <= set("東京都千代田区丸の内.")
    ]
    assert len(street_lines) == 2
    assert street_lines[-1].endswith("...")
    assert all(text_width(line, 34) <= TEXT_WIDTH for line in street_lines)
