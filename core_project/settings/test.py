"""Test run: fast hashing; honours DATABASE_URL / REDIS_URL so one suite covers SQLite and PostgreSQL + Redis."""

from .base import *  # noqa: F403
from .base import build_logging, env

SECRET_KEY = "test-only-secret-key-with-enough-entropy-for-hs256-signing-0123456789"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = build_logging("json", env.str("LOG_LEVEL", default="WARNING").upper())
DEMO_USERS_ENABLED = True
# The suite runs instrumented, as production does with an OTLP endpoint; spans go nowhere unless a test collects them.
TRACING_ENABLED = not OTEL_SDK_DISABLED

# Tests exercise throttling explicitly with their own rates; elsewhere the limits must not interfere.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="100000/min"),
        "user": env.str("THROTTLE_USER", default="100000/min"),
        "auth": env.str("THROTTLE_AUTH", default="100000/min"),
        "api_key": env.str("THROTTLE_API_KEY", default="100000/min"),
    },
}

# Serve static files straight from the apps (no collectstatic needed outside production).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The tests' receivers listen on loopback.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=True)
# Nothing consumes tasks queued by the in-process suite unless a test starts a worker on the real broker.
# A test that needs the real broker (a worker process, Redis stopped) sets its own.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
