"""A local ``.env`` configures development only; production reads the process environment alone.

Each profile is imported in a fresh interpreter from a copy of ``core_project`` whose repository root is a
temporary directory, so a developer's own ``.env`` is neither read nor touched.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import importlib, json, sys
settings = importlib.import_module(sys.argv[1])
print(json.dumps({
    "prefix": settings.TRACKING_NUMBER_PREFIX,
    "log_level": settings.LOGGING["root"]["level"],
    "database": str(settings.DATABASES["default"]["NAME"]),
}))
"""

PROD_ENV = {
    "SECRET_KEY": "p" * 60,
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/prod",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "ALLOWED_HOSTS": "parcels.example.com",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "core_project", tmp_path / "core_project", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _settings(project: Path, module: str, env: dict[str, str] | None = None) -> dict:
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed probe
        [sys.executable, "-c", PROBE, f"core_project.settings.{module}"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_dev_settings_read_the_env_file_at_the_repository_root(project):
    (project / ".env").write_text(
        "TRACKING_NUMBER_PREFIX=ZZ\nLOG_LEVEL=warning\nDATABASE_URL=sqlite:////srv/from-dotenv.db\n"
    )
    assert _settings(project, "dev") == {"prefix": "ZZ", "log_level": "WARNING", "database": "/srv/from-dotenv.db"}


def test_the_process_environment_beats_the_env_file_in_dev(project):
    (project / ".env").write_text("TRACKING_NUMBER_PREFIX=ZZ\n")
    assert _settings(project, "dev", {"TRACKING_NUMBER_PREFIX": "YY"})["prefix"] == "YY"


def test_dev_logs_at_debug_without_an_env_file(project):
    settings = _settings(project, "dev")
    assert settings["log_level"] == "DEBUG"
    assert settings["prefix"] == "CP"


def test_production_settings_never_read_the_env_file(project):
    (project / ".env").write_text(
        "TRACKING_NUMBER_PREFIX=ZZ\nLOG_LEVEL=DEBUG\nDATABASE_URL=sqlite:////srv/from-dotenv.db\n"
    )
    assert _settings(project, "prod", PROD_ENV) == {"prefix": "CP", "log_level": "INFO", "database": "prod"}


def test_production_does_not_take_a_missing_secret_from_the_env_file(project):
    (project / ".env").write_text("SECRET_KEY=" + "s" * 60 + "\n")
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    with pytest.raises(subprocess.CalledProcessError) as failure:
        _settings(project, "prod", env)
    assert "Set the SECRET_KEY environment variable" in failure.value.stderr


def test_test_settings_ignore_the_env_file(project):
    (project / ".env").write_text("TRACKING_NUMBER_PREFIX=ZZ\n")
    assert _settings(project, "test")["prefix"] == "CP"
