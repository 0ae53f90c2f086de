"""WSGI entry point of the reference server (``gunicorn --chdir bench/reference reference_project.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reference_project.settings")

application = get_wsgi_application()
