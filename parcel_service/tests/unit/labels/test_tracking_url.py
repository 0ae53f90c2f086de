"""Where a label's QR code links: PUBLIC_TRACKING_URL, or the service's own public tracking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from parcel_service.api.labels.content import tracking_url

ROOT = Path(__file__).resolve().parents[4]


def test_without_a_template_the_services_own_tracking_url_is_used():
    own = "http://testserver/api/v1/track/CP123456785NL/"
    assert tracking_url("", "CP123456785NL", own) == own


def test_the_template_gets_the_tracking_number():
    template = "https://parcels.example.com/t/{tracking_number}"
    assert tracking_url(template, "CP123456785NL", "unused") == "https://parcels.example.com/t/CP123456785NL"


def test_a_template_without_the_tracking_number_stops_start_up_naming_the_setting():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "core_project.settings.test"}
    env["PUBLIC_TRACKING_URL"] = "https://parcels.example.com/track"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "PUBLIC_TRACKING_URL must contain {tracking_number}" in result.stderr
