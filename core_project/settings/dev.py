"""Local development: DEBUG on, SQLite file and local-memory cache unless DATABASE_URL / REDIS_URL are set."""

from .base import *  # noqa: F403
from .base import build_logging, env

DEBUG = True
# A dev-only placeholder; prod refuses to start without a real SECRET_KEY from the environment.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

LOGGING = build_logging("text", env.str("LOG_LEVEL", default="INFO").upper())

# Demo accounts are created only here (see the create_demo_users command).
DEMO_USERS_ENABLED = True

# Serve static files straight from the apps (no collectstatic needed outside production).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
