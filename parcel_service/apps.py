"""Application configuration."""

from django.apps import AppConfig


class ParcelServiceConfig(AppConfig):
    """Registers the parcel service app and its schema extensions."""

    name = "parcel_service"
    verbose_name = "Parcel service"

    def ready(self) -> None:
        """Import the OpenAPI extensions so drf-spectacular knows the project's authentication class."""
        from .api import schema  # noqa: F401
