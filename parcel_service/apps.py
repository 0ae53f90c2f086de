"""Application configuration."""

from django.apps import AppConfig


class ParcelServiceConfig(AppConfig):
    """Registers the parcel service app and its schema extensions."""

    name = "parcel_service"
    verbose_name = "Parcel service"

    def ready(self) -> None:
        """Import the OpenAPI extensions (drf-spectacular must know the authentication class); set up observability.

        Tracing is instrumented here, before Django loads the middleware, and started in each process on
        its first request (``parcel_service.http.tracing`` says why); database metrics watch every connection.
        """
        from django.conf import settings

        from . import metrics
        from .api import schema  # noqa: F401
        from .http import tracing

        tracing.instrument()
        if settings.METRICS_ENABLED:
            metrics.watch_database()
