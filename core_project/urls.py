"""Root URL configuration: the versioned API, its schema and docs, metrics and the admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from parcel_service import exceptions

urlpatterns = [
    re_path(r"^api/v1/", include("parcel_service.urls")),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^api/redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

if settings.METRICS_ENABLED:
    from django_prometheus.exports import ExportToDjangoView

    urlpatterns.append(re_path(r"^metrics/?$", ExportToDjangoView, name="prometheus-django-metrics"))

# Anything else under /api/ is a problem+json 404, even with DEBUG on (where handler404 is bypassed).
urlpatterns.append(re_path(r"^api/", exceptions.api_not_found))

handler400 = exceptions.handler400
handler403 = exceptions.handler403
handler404 = exceptions.handler404
handler500 = exceptions.handler500
