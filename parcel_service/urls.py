"""Routes under ``/api/v1/``. Every route answers with and without a trailing slash, never redirecting."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .api import batch, keys, views, webhooks

app_name = "parcel_service"


class OptionalSlashRouter(SimpleRouter):
    """A ``SimpleRouter`` whose routes match with or without the trailing slash (a redirect would lose a POST)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("parcels", views.ParcelViewSet, basename="parcel")
router.register("api-keys", keys.ApiKeyViewSet, basename="api-key")
router.register("webhooks", webhooks.WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    re_path(r"^auth/token/?$", views.TokenObtainView.as_view(), name="token-obtain"),
    re_path(r"^auth/token/refresh/?$", views.TokenRefreshView.as_view(), name="token-refresh"),
    re_path(r"^track/(?P<tracking_number>[^/]+)/?$", views.TrackingView.as_view(), name="track"),
    re_path(r"^events/batch/?$", batch.BatchEventsView.as_view(), name="events-batch"),
    re_path(
        rf"^webhooks/(?P<pk>{views.UUID_PATTERN})/deliveries/?$",
        webhooks.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^health/ready/?$", views.ReadinessView.as_view(), name="health-ready"),
    *router.urls,
]
