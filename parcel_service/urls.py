"""Routes under ``/api/v1/``. Every route answers with and without a trailing slash, never redirecting."""

from django.urls import re_path

from . import views

app_name = "parcel_service"

urlpatterns = [
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^health/ready/?$", views.ReadinessView.as_view(), name="health-ready"),
]
