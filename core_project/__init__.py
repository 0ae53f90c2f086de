"""Project package: settings, root URLs, the WSGI/ASGI entry points and the Celery app (``core_project.celery``)."""
