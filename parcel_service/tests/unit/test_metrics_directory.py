"""A management command runs before Gunicorn has created the metrics directory (migrate in a fresh container)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_management_command_creates_a_missing_metrics_directory(tmp_path):
    directory = tmp_path / "not-yet" / "prometheus"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core_project.settings.test",
        "DATABASE_URL": "sqlite:///:memory:",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert directory.is_dir()
