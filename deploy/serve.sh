#!/usr/bin/env bash
# `make serve`: run locally exactly what the production image runs: production settings, static files
# collected and served by WhiteNoise, Gunicorn with gunicorn.conf.py.
#
# The caller provides what production requires; nothing is defaulted, so a missing value fails here
# the way it would in the container:
#   SECRET_KEY, DATABASE_URL (PostgreSQL), REDIS_URL, ALLOWED_HOSTS
# and usually SECURE_SSL_REDIRECT=false (no TLS proxy in front locally) and GUNICORN_BIND=127.0.0.1:8000.
#
# This is Gunicorn alone, as the image runs it. Its sync workers must not be exposed to clients directly:
# one that sends slowly holds a worker until the 30 s timeout, and a few of them stop all workers. Anything
# others can reach needs a buffering reverse proxy in front; in Kubernetes that is the pod's nginx sidecar.
# Here the same configuration works: with Gunicorn on 127.0.0.1:8000,
#   nginx -e stderr -c "$PWD/deploy/nginx/nginx.conf"      # serves http://<host>:8080
# Migrations are not run here, as in the image: `DJANGO_SETTINGS_MODULE=core_project.settings.prod
# .venv/bin/python manage.py migrate` first. See docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# The image's ENV, mirrored.
export DJANGO_SETTINGS_MODULE=core_project.settings.prod
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/parcel-service-prometheus}"

missing=()
for name in SECRET_KEY DATABASE_URL REDIS_URL ALLOWED_HOSTS; do
  [ -n "${!name:-}" ] || missing+=("$name")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "serve: set ${missing[*]} (production settings require them; see docs/operations.md)" >&2
  exit 2
fi

mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
python manage.py collectstatic --noinput --verbosity 0
exec gunicorn --config gunicorn.conf.py core_project.wsgi:application
