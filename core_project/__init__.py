"""Project package: settings, root URLs, the WSGI/ASGI entry points and the Celery app."""

# Loaded with the project, so whatever queues a task (the web process after a commit) uses this app's broker.
from .celery import app as celery_app

__all__ = ("celery_app",)
