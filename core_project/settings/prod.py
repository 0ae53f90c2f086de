"""Production: DEBUG off, every secret and endpoint required from the environment, hardened HTTP.

A missing ``SECRET_KEY``, ``DATABASE_URL``, ``REDIS_URL`` or ``ALLOWED_HOSTS`` stops start-up at import
time with django-environ's ``ImproperlyConfigured: Set the <NAME> environment variable``.
"""

from .base import *  # noqa: F403
from .base import build_caches, env, tune_database

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": tune_database(env.db("DATABASE_URL"))}
# Persistent connections save a TCP + auth round trip per request; health checks drop a
# connection the server closed (failover, restart) instead of failing the next request on it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
CACHES = build_caches(env.str("REDIS_URL"))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# TLS. Set SECURE_SSL_REDIRECT=false only behind a TLS-terminating proxy that does not forward
# X-Forwarded-Proto (see API.md). Probes and metrics are exempt: kubelets speak plain HTTP to the pod.
# Plain HTTP under /api/ is a 403 problem, elsewhere a 308 (parcel_service.http.middleware.HttpsRequiredMiddleware).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?", r"^metrics/?$"]
# Django believes X-Forwarded-Proto from whoever sends it, so only the ingress may reach the pods (the
# Kubernetes NetworkPolicy admits nothing else) and the ingress must set the header itself, replacing any
# value a client sent. Anyone else who can reach a pod can claim HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
X_FRAME_OPTIONS = "DENY"

DEMO_USERS_ENABLED = False
