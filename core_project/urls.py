"""Root URL configuration: the versioned API, its schema and docs, metrics and the admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from parcel_service.http import problem_details

urlpatterns = [
    re_path(r"^api/v1/", include("parcel_service.urls")),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), so the page needs no inline script
    # under its Content-Security-Policy; ReDoc's page is drf-spectacular's without its Google Fonts links.
    re_path(r"^api/docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(
        r"^api/redoc/?$",
        SpectacularRedocView.as_view(url_name="schema", template_name="parcel_service/redoc.html"),
        name="redoc",
    ),
    path("admin/", admin.site.urls),
]

if settings.METRICS_ENABLED:
    from django_prometheus.exports import ExportToDjangoView

    urlpatterns.append(re_path(r"^metrics/?$", ExportToDjangoView, name="prometheus-django-metrics"))

# Anything else under /api/ is a problem+json 404, even with DEBUG on (where handler404 is bypassed).
urlpatterns.append(re_path(r"^api/", problem_details.api_not_found))

handler400 = problem_details.handler400
handler403 = problem_details.handler403
handler404 = problem_details.handler404
handler500 = problem_details.handler500
