"""Settings shared by every environment.

All configuration comes from the environment through the single ``env`` object defined here
(12-factor); ``dev``, ``test`` and ``prod`` import this module and override only what differs.
Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from core_project.logformat import JSON_FORMATTER

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Overridden per environment: prod requires it from the environment, dev/test use a placeholder.
SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = False
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    # Spent and revoked refresh tokens (rotation below); `manage.py flushexpiredtokens` purges expired rows.
    "rest_framework_simplejwt.token_blacklist",
    # Needed for its abstract key model (the app's own concrete APIKey table stays empty; ours is ApiKey).
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "axes",
    "parcel_service",
]

METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)

MIDDLEWARE = [
    # First, so every later line of the request — including errors raised by other
    # middleware — carries the request id, and the access line measures the whole stack.
    "parcel_service.http.middleware.RequestIdMiddleware",
    # With SECURE_SSL_REDIRECT: plain HTTP under /api/ is a 403 problem, elsewhere a 308, before
    # SecurityMiddleware would answer 301 (which loses a POST's body).
    "parcel_service.http.middleware.HttpsRequiredMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "parcel_service.http.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Rejects oversized bodies with 413 before anything reads them.
    "parcel_service.http.middleware.BodySizeLimitMiddleware",
    # Django's session, authentication and messages middleware, skipped under /api/ (the API keeps no session).
    "parcel_service.http.middleware.SiteSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "parcel_service.http.middleware.SiteAuthenticationMiddleware",
    "parcel_service.http.middleware.SiteMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last (django-axes' rule): turns a locked-out admin login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]
if METRICS_ENABLED:
    MIDDLEWARE.insert(1, "django_prometheus.middleware.PrometheusBeforeMiddleware")
    # django-prometheus' PrometheusAfterMiddleware with its label lookups cached (same series).
    MIDDLEWARE.append("parcel_service.http.middleware.PrometheusMetricsMiddleware")

ROOT_URLCONF = "core_project.urls"
WSGI_APPLICATION = "core_project.wsgi.application"

# Every route answers with and without a trailing slash itself; CommonMiddleware must not
# redirect (a redirected POST loses its body).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=5000)
DB_CONNECT_TIMEOUT_S = env.int("DB_CONNECT_TIMEOUT_S", default=3)


def tune_database(database: dict[str, Any]) -> dict[str, Any]:
    """Apply the connection policy every environment shares.

    On PostgreSQL a server-side ``statement_timeout`` cuts off runaway queries so one bad request
    cannot hold a worker (and a connection) forever, and a short ``connect_timeout`` turns an
    unreachable database into a fast 503 rather than a hung worker.

    Args:
        database: A ``DATABASES`` entry as parsed by django-environ.

    Returns:
        The same entry, with PostgreSQL options added when it is PostgreSQL.
    """
    if "postgresql" in database["ENGINE"]:
        options = database.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT_S)
        options.setdefault("options", f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}")
    return database


tune_database(DATABASES["default"])

REDIS_URL = env.str("REDIS_URL", default="")
CACHE_SOCKET_TIMEOUT_S = env.float("CACHE_SOCKET_TIMEOUT_S", default=0.25)
# After a Redis failure, skip Redis for this long before trying again (see parcel_service.http.cache).
CACHE_RETRY_AFTER_S = env.float("CACHE_RETRY_AFTER_S", default=5.0)


def build_caches(redis_url: str) -> dict[str, Any]:
    """Return ``CACHES`` for Redis when a URL is given, else a per-process local-memory cache.

    Redis is treated as an optimisation, never a dependency of correctness: short socket timeouts
    and ``IGNORE_EXCEPTIONS`` make an outage cost at most one timeout and a warning, not a failed
    request (see ``parcel_service.http.cache``).

    Args:
        redis_url: ``redis://`` URL, or an empty string for local memory.

    Returns:
        A ``CACHES`` setting.
    """
    if not redis_url:
        return {"default": {"BACKEND": "parcel_service.http.cache.LocalMemoryCache", "LOCATION": "parcel-service"}}
    return {
        "default": {
            "BACKEND": "parcel_service.http.cache.ResilientRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "ps",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": CACHE_SOCKET_TIMEOUT_S,
                "SOCKET_TIMEOUT": CACHE_SOCKET_TIMEOUT_S,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }


CACHES = build_caches(REDIS_URL)
# django-redis would log every ignored exception; the circuit breaker logs one warning per outage instead.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Content-Security-Policy of the HTML pages (Swagger UI, ReDoc, the admin), all served from this origin
# (drf-spectacular-sidecar, WhiteNoise). Inline styles: Swagger UI and ReDoc (styled-components) set them;
# data: images: both draw icons as data: SVGs; blob: workers: ReDoc's search. JSON responses get no policy.
HTML_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

CSRF_FAILURE_VIEW = "parcel_service.http.problem_details.csrf_failure"

# 1 MiB: larger API bodies are refused with 413 (see BodySizeLimitMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["ETag", "Location", "X-Request-ID", "Retry-After", "Idempotent-Replayed"]

NUM_PROXIES = env.int("NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    # JWT first: its challenge (WWW-Authenticate: Bearer) is the one a 401 carries.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "parcel_service.http.authentication.JWTAuthentication",
        "parcel_service.http.api_keys.ApiKeyAuthentication",
    ],
    # IsAuthenticated, and an API key's scopes on every view that does not list its own permissions.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "parcel_service.api.permissions.HasRequiredScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["parcel_service.http.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["parcel_service.http.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "parcel_service.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "parcel_service.api.problems.custom_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Counters live in the shared cache (Redis in production), so a limit holds across workers and pods.
    # With Redis down the counters read as empty: throttling fails open and the cache logs one warning.
    "DEFAULT_THROTTLE_CLASSES": [
        "parcel_service.http.throttling.AnonRateThrottle",
        "parcel_service.http.throttling.UserRateThrottle",
        "parcel_service.http.throttling.ApiKeyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        "user": env.str("THROTTLE_USER", default="1000/min"),
        "auth": env.str("THROTTLE_AUTH", default="10/min"),
        # Per API key, instead of the user's limit: a carrier's scanners post far more than a person.
        "api_key": env.str("THROTTLE_API_KEY", default="6000/min"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# django-axes: password guessing on the admin login and on POST /api/v1/auth/token/ is locked out per username
# and client address (never per username alone, which would let anyone lock a user out), in the database.
# LOGIN_FAILURE_LIMIT: failures that lock (default 5); LOGIN_LOCKOUT_S: seconds the lock lasts (default 900).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_S", default=15 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client address exactly as the throttles take it (NUM_PROXIES); axes' AXES_IPWARE_* settings would need
# django-ipware, which is not installed, and would then read forwarding headers their own way.
AXES_CLIENT_IP_CALLABLE = "parcel_service.http.throttling.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
# The same words whether or not the username exists.
AXES_COOLOFF_MESSAGE = "Too many failed sign-ins from this address. Try again later."

# Seconds a worker reuses a user loaded for a JWT (see parcel_service.http.authentication); 0 disables.
# It bounds how long another worker honours a token after its user was deactivated, deleted, given a new
# password or removed from `carriers` (API.md: "Tokens end when the account changes"); each user costs one
# query per worker per TTL.
AUTH_USER_CACHE_TTL_S = env.int("AUTH_USER_CACHE_TTL_S", default=5)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME_S", default=15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME_S", default=24 * 60 * 60)),
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # A refresh returns a new refresh token and blacklists the one sent, so a replayed refresh token is refused.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Every token carries a digest of the password hash it was issued under: a password change ends them all.
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_OBTAIN_SERIALIZER": "parcel_service.api.serializers.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "parcel_service.api.serializers.TokenRefreshSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Parcel Service API",
    "DESCRIPTION": (
        "Create parcels with verifiable UPU S10 tracking numbers, record carrier tracking events through a strict "
        "status machine, and look parcels up publicly by tracking number. Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        "defaultModelsExpandDepth": -1,
        "defaultModelRendering": "model",
        "displayRequestDuration": True,
        "filter": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        "tryItOutEnabled": True,
        # No persistAuthorization: it would keep the bearer token in localStorage, where any script on the
        # origin can read it, long after the tab is closed.
    },
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Stable component names for clients that generate code from the schema.
    "ENUM_NAME_OVERRIDES": {
        "ParcelStatusEnum": "parcel_service.domain.status_machine.ParcelStatus",
        "ReadinessStatusEnum": ["ok", "degraded", "unavailable"],
        "DependencyStatusEnum": ["ok", "unavailable"],
        "ParcelOrderingEnum": "parcel_service.api.pagination.ORDERINGS",
        "ApiKeyScopeEnum": "parcel_service.models.ApiKeyScope",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "parcel_service.api.schema.forbid_unknown_request_fields",
        "parcel_service.api.schema.hoist_defaults_out_of_one_of",
        "parcel_service.api.schema.document_cross_cutting_responses",
    ],
}

TRACKING_NUMBER_PREFIX = env.str("TRACKING_NUMBER_PREFIX", default="CP")
TRACKING_NUMBER_COUNTRY = env.str("TRACKING_NUMBER_COUNTRY", default="NL")

# Shipping labels. The QR code on a label links to PUBLIC_TRACKING_URL, a template with "{tracking_number}"
# (e.g. https://parcels.example.com/t/{tracking_number}); empty: this service's own public tracking route,
# on the scheme and host of the request that asked for the label.
PUBLIC_TRACKING_URL = env.str("PUBLIC_TRACKING_URL", default="")
if PUBLIC_TRACKING_URL and "{tracking_number}" not in PUBLIC_TRACKING_URL:
    raise ImproperlyConfigured("PUBLIC_TRACKING_URL must contain {tracking_number}.")
# Where the PDF label's fonts are found: Noto Sans (Debian's fonts-noto-core) for Latin, Greek and Cyrillic,
# WenQuanYi Micro Hei (fonts-wqy-microhei) for Chinese, Japanese and Korean. Without them labels answer 503.
LABEL_FONT_DIRS: list[str] = env.list(
    "LABEL_FONT_DIRS", default=["/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/wqy"]
)
# Traces (parcel_service.http.tracing): the standard OpenTelemetry variables. Spans are exported over OTLP/HTTP
# only when an endpoint is set; the exporter itself reads the other OTEL_EXPORTER_OTLP_* (headers, timeout).
OTEL_SDK_DISABLED = env.bool("OTEL_SDK_DISABLED", default=False)
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="parcel-service")
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
# One request in ten starts a trace; a request whose caller sampled it (traceparent flag 01) is always traced.
OTEL_TRACES_SAMPLER = env.str("OTEL_TRACES_SAMPLER", default="parentbased_traceidratio")
OTEL_TRACES_SAMPLER_ARG = env.float("OTEL_TRACES_SAMPLER_ARG", default=0.1)
# Probes and scrapes every few seconds would only add noise traces (the instrumentation's own variable).
OTEL_PYTHON_DJANGO_EXCLUDED_URLS = env.str("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", default="api/v1/health,metrics")
# Instrumented only when spans go somewhere: even with nothing recording, the instrumentation's own work costs
# a warm tracking read 40 % more CPU (measured; see parcel_service.http.tracing).
TRACING_ENABLED = not OTEL_SDK_DISABLED and bool(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)

# Webhooks (API.md "Webhooks"): an outbox in the database, delivered by Celery workers.
# Without Redis (local development) the broker is a directory: a worker on the same machine still delivers.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_DIR = env.str("CELERY_BROKER_DIR", default=str(BASE_DIR / ".celery-broker"))
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = (
    {"data_folder_in": CELERY_BROKER_DIR, "data_folder_out": CELERY_BROKER_DIR, "processed_folder": CELERY_BROKER_DIR}
    if CELERY_BROKER_URL.startswith("filesystem:")
    # Publishing happens after a commit, in the request: a Redis outage must cost a short timeout, not a hang
    # (the dispatcher picks up whatever was not queued).
    else {"socket_connect_timeout": CACHE_SOCKET_TIMEOUT_S, "socket_timeout": 1.0}
)
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task is acknowledged when it finished, so a worker killed mid-delivery leaves it to be redelivered; a task
# is short (one attempt of each of its messages), so the broker's visibility timeout never cuts in.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
# No task time limit: the threads pool cannot enforce one. What bounds a task is its client: each attempt is
# bounded by WEBHOOK_TIMEOUT_S (connect, read, and reading the answer), and a task holds at most 20 messages.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes the task thread's database connection before and after every task unless this is set; then only
# every this many tasks. A new PostgreSQL connection per task (a server process forked, authenticated, its
# caches warmed) cost a worker delivering to a fast receiver about a third of the machine's CPU (bench/README.md).
# The worker closes connections as Django does around a request instead: when CONN_MAX_AGE has passed, or after
# an error left one unusable (parcel_service.webhooks.worker).
CELERY_DB_REUSE_MAX = 1000
CELERY_WORKER_SEND_TASK_EVENTS = False
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)
WEBHOOK_DISABLE_AFTER_S = env.int("WEBHOOK_DISABLE_AFTER_S", default=5 * 24 * 3600)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# Scales the retry schedule (tests compress hours into seconds); 1 in production.
WEBHOOK_RETRY_SCALE = env.float("WEBHOOK_RETRY_SCALE", default=1.0)
WEBHOOK_DISPATCH_INTERVAL_S = env.float("WEBHOOK_DISPATCH_INTERVAL_S", default=2.0)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
# Where a worker says it is alive (see parcel_service.webhooks.probes): the Kubernetes probes read it.
CELERY_HEARTBEAT_FILE = env.str("CELERY_HEARTBEAT_FILE", default="/tmp/celery-heartbeat")  # noqa: S108
CELERY_BEAT_HEARTBEAT_FILE = env.str("CELERY_BEAT_HEARTBEAT_FILE", default="/tmp/celerybeat-heartbeat")  # noqa: S108
CELERY_BEAT_SCHEDULER = "parcel_service.webhooks.worker:Scheduler"
# Beat's record of when each task last ran: a file it may lose (the schedule itself is above), on the pod's /tmp.
BEAT_SCHEDULE_FILE = "/tmp/celerybeat-schedule"  # noqa: S108
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=BEAT_SCHEDULE_FILE)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-webhooks": {
        "task": "parcel_service.webhooks.dispatch_due",
        "schedule": WEBHOOK_DISPATCH_INTERVAL_S,
        "options": {"expires": WEBHOOK_DISPATCH_INTERVAL_S * 5},
    },
    "purge-webhook-deliveries": {"task": "parcel_service.webhooks.purge_deliveries", "schedule": 3600.0},
    "purge-idempotency-keys": {"task": "parcel_service.webhooks.purge_idempotency_keys", "schedule": 3600.0},
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = "json"


def build_logging(log_format: str, level: str) -> dict[str, Any]:
    """Return a ``LOGGING`` dict: JSON lines (prod) or readable text (dev), both with the request id.

    Args:
        log_format: ``"json"`` or ``"text"``.
        level: Root log level name.

    Returns:
        A ``logging.config.dictConfig`` dictionary.
    """
    formatters = {
        "json": JSON_FORMATTER,
        "text": {"format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "parcel_service.http.logging.RequestIdFilter"}},
        "formatters": {"default": formatters[log_format]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Our access line replaces Django's per-request 4xx/5xx lines, which would duplicate it.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            "django.db.backends": {"level": "INFO"},
            # A line per task received and finished (every dispatcher run too) would drown the delivery log: each
            # attempt has its own "webhook attempt" line; task failures are still logged.
            "celery": {"level": "INFO"},  # its DEBUG (development's level) logs every timer tick
            "kombu": {"level": "INFO"},
            "celery.worker.strategy": {"level": "WARNING"},
            "celery.app.trace": {"level": "WARNING"},
            "celery.beat": {"level": "WARNING"},
        },
    }


LOGGING = build_logging(LOG_FORMAT, LOG_LEVEL)
