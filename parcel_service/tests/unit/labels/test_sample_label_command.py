"""``manage.py sample_label``: the sample label for a printer test or the docs."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from parcel_service.tests.labels import pdf_text, require_label_fonts


def test_the_sample_pdf_is_written_to_a_file_with_its_japanese_recipient(tmp_path):
    require_label_fonts()
    output = tmp_path / "sample.pdf"
    call_command("sample_label", "--output", str(output))
    assert "山田 太郎" in pdf_text(output.read_bytes(), tmp_path)


def test_the_sample_zpl_goes_to_standard_output_for_a_printer(capfdbinary):
    call_command("sample_label", "--format", "zpl")
    out = capfdbinary.readouterr().out
    assert out.startswith(b"^XA") and out.rstrip().endswith(b"^XZ")


def test_without_the_fonts_the_sample_pdf_is_refused_naming_the_setting(settings, tmp_path):
    settings.LABEL_FONT_DIRS = [str(tmp_path)]
    with pytest.raises(CommandError, match="LABEL_FONT_DIRS"):
        call_command("sample_label", "--output", str(tmp_path / "sample.pdf"))
