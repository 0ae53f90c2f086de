"""The Celery app that delivers webhooks: ``celery -A core_project worker`` and ``celery -A core_project beat``.

Configuration comes from the Django settings (``CELERY_*``); the tasks live in ``parcel_service.webhooks``.
Without an explicit ``DJANGO_SETTINGS_MODULE`` the development settings are used, as ``manage.py`` does.
"""

from __future__ import annotations

import os

from celery import Celery  # type: ignore[import-untyped]  # no type information

from parcel_service.webhooks.worker import install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core_project.settings.dev")

app = Celery("core_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ["parcel_service.webhooks.tasks"]
install(app)
