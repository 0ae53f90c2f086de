"""ASGI entry point (unused by the Gunicorn image, kept for ASGI servers); defaults to production settings."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core_project.settings.prod")

application = get_asgi_application()
