"""Local development: DEBUG on, SQLite file and local-memory cache unless DATABASE_URL / REDIS_URL are set.

An optional ``.env`` file at the repository root is read first (development only; ``prod`` never reads a
file, its configuration is the process environment alone).
"""

from pathlib import Path

import environ

# Read before base.py evaluates the environment, so every setting sees the file. Variables already set in
# the process environment win: read_env never overwrites them. A missing file is not an error.
environ.Env.read_env(Path(__file__).resolve().parent.parent.parent / ".env")

from .base import *  # noqa: E402, F403
from .base import build_logging, env  # noqa: E402

DEBUG = True
# A dev-only placeholder; prod refuses to start without a real SECRET_KEY from the environment.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

LOGGING = build_logging("text", env.str("LOG_LEVEL", default="DEBUG").upper())

# Demo accounts are created only here (see the create_demo_users command).
DEMO_USERS_ENABLED = True

# Serve static files straight from the apps (no collectstatic needed outside production).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Webhooks to a receiver on this machine (http://127.0.0.1:…) are what development needs; production refuses them.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=True)
