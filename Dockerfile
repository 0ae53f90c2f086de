# syntax=docker/dockerfile:1
# Parcel Service production image.
#   docker build -t parcel-service .
#   docker run --rm --env-file prod.env parcel-service migrate      # one-off: migrations
#   docker run --env-file prod.env -p 127.0.0.1:8000:8000 parcel-service   # Gunicorn on :8000, for a proxy
# The image runs Gunicorn only, with sync workers, which must never face clients directly: a worker reads
# its request itself, so a client that sends slowly holds it until the 30 s timeout, and a few such
# clients stop them all. Put a buffering reverse proxy in front. The Kubernetes pod runs nginx as a
# sidecar (deploy/kubernetes); anywhere else use the same deploy/nginx/nginx.conf, which the image carries:
#   docker run --rm --entrypoint cat parcel-service deploy/nginx/nginx.conf > nginx.conf
# Both stages use the same Debian 12 + CPython 3.11 base, so the virtualenv built in the first stage
# runs unchanged in the second. CI (.ci/stages/20-ship.sh) keeps the Python minor equal to the one
# the test suite ran on and rejects end-of-life Debian releases.

# ---- builder: dependencies, application, collected static files ----------------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /app

# Dependencies first, so code changes do not invalidate this layer. Every wheel is hash-checked.
COPY requirements/prod.txt requirements/prod.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/prod.txt

COPY manage.py gunicorn.conf.py ./
COPY core_project/ core_project/
COPY parcel_service/ parcel_service/
COPY --chmod=0755 deploy/docker-entrypoint.sh deploy/docker-entrypoint.sh
COPY deploy/nginx/nginx.conf deploy/nginx/nginx.conf

# Static files (admin, Swagger UI, ReDoc) are collected at build time and served by WhiteNoise.
# The production settings refuse to load without these variables; the values below are build-only
# placeholders that exist on this RUN line alone, never in the image's environment.
RUN DJANGO_SETTINGS_MODULE=core_project.settings.prod \
    SECRET_KEY=build-only-not-secret-collectstatic-needs-a-value \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    REDIS_URL=redis://localhost:6379/0 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && python -m compileall -q core_project parcel_service

# ---- runtime: the virtualenv and the application, run by an unprivileged user --------------------
FROM python:3.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="parcel-service" \
      org.opencontainers.image.description="Parcel Service: Django REST API for parcels and tracking events"

ENV PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=core_project.settings.prod \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# The fonts PDF shipping labels embed (LABEL_FONT_DIRS): Noto Sans for Latin, Greek and Cyrillic, WenQuanYi
# Micro Hei for Chinese, Japanese and Korean. Pinned to Debian 12's versions, like the base image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-core=20201225-1 fonts-wqy-microhei=0.2.0-beta-3.1 \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot/runAsUser can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
# Owned by root and not writable by the app user: the code cannot be changed at run time.
COPY --from=builder /app /app

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness through the standard library only (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/', timeout=3).status == 200 else 1)"]

ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "core_project.wsgi:application"]
