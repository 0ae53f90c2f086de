"""core_project.wsgi loads, at import, what a worker's first request would otherwise load lazily."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, sys
from django.urls import get_resolver
import core_project.wsgi
from parcel_service.api.labels import _FONTS
print(json.dumps({
    "label_fonts": any(_FONTS.values()),
    "views": "parcel_service.api.views" in sys.modules,
    "redis": "redis" in sys.modules,
    "resolver_populated": get_resolver()._populated,
}))
"""


def _label_fonts_installed() -> bool:
    from django.conf import settings

    from parcel_service.api.labels.fonts import find_font_files

    return not find_font_files(settings.LABEL_FONT_DIRS)[1]


def test_importing_the_wsgi_module_loads_the_urlconf_the_cache_client_and_the_label_fonts_without_a_request():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core_project.settings.test",
        # Nothing listens on port 1: the import must not need Redis, only load its client library.
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "label_fonts": bool(_label_fonts_installed()),
        "views": True,
        "redis": True,
        "resolver_populated": True,
    }
