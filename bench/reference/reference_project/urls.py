"""The reference server's only route: the same path as the service's liveness probe."""

from django.urls import path

from .views import HealthView

urlpatterns = [path("api/v1/health/", HealthView.as_view())]
