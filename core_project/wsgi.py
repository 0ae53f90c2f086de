"""WSGI entry point used by Gunicorn; defaults to the production settings."""

import os

from django.core.wsgi import get_wsgi_application

from parcel_service.http.wsgi import ChunkedBodyLength

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core_project.settings.prod")

# A chunked request body is read (up to the 1 MiB limit) rather than dropped; see ChunkedBodyLength.
application = ChunkedBodyLength(get_wsgi_application())


def warm_up() -> None:
    """Load now what Django, DRF and the cache backend would otherwise load on a worker's first request.

    Without this, the first request of every worker spent about 250 ms importing the URLconf (every view
    and serializer), the Redis client library and DRF's configured classes. Gunicorn preloads this module
    in its master, so the work is done once and every forked worker, including one that replaces a
    recycled worker under load, starts warm. Nothing here opens a connection: cache backends and the
    database connect lazily, on their first command.
    """
    from django.conf import settings
    from django.core.cache import caches
    from django.urls import get_resolver
    from rest_framework.settings import api_settings

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018  # imports the URLconf, hence every view and serializer module
    resolver.reverse_dict  # noqa: B018  # builds the lookup tables resolve() and reverse() use
    for alias in settings.CACHES:
        caches[alias]  # instantiates the backend, importing its client library
    # Label fonts parsed (~0.25 s) and a label rendered once, here in the master rather than in every worker.
    from parcel_service.api.services import get_labels

    get_labels().warm_up()
    for name in (
        "DEFAULT_AUTHENTICATION_CLASSES",
        "DEFAULT_PERMISSION_CLASSES",
        "DEFAULT_RENDERER_CLASSES",
        "DEFAULT_PARSER_CLASSES",
        "DEFAULT_THROTTLE_CLASSES",
        "DEFAULT_CONTENT_NEGOTIATION_CLASS",
        "EXCEPTION_HANDLER",
    ):
        getattr(api_settings, name)  # imports the configured class or function


warm_up()
