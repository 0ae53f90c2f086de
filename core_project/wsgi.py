"""WSGI entry point used by Gunicorn; defaults to the production settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core_project.settings.prod")

application = get_wsgi_application()
