#!/usr/bin/env bash
# Container entry point: the image's default command serves HTTP; anything else is a one-off.
#   (no arguments) | gunicorn ...   -> exec Gunicorn (the image's CMD)
#   --workers 4 ...                 -> exec Gunicorn with the default config and app plus these options
#   migrate | check | shell | ...   -> exec `python manage.py <command> ...` (any manage.py command)
#   manage <command> ...            -> the same, spelled explicitly
#   worker [celery options]         -> exec the webhook worker (Celery, threads pool, WEBHOOK_WORKER_THREADS)
#   beat [celery options]           -> exec Celery beat (one replica: it schedules the dispatcher and the purges)
#   python | bash | sh ...          -> exec as given (debugging)
# Migrations never run on start: they are a separate, explicit step (`docker run ... migrate`, the
# Kubernetes migrate Job), so replicas starting together never race on the schema.
set -euo pipefail

# prometheus_client writes metric files there as soon as a metric exists, in every process that
# imports the app (manage.py commands too); Gunicorn's on_starting hook also empties it.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

if [ "$#" -eq 0 ]; then
  set -- gunicorn --config gunicorn.conf.py core_project.wsgi:application
fi

case "$1" in
  gunicorn)
    exec "$@"
    ;;
  -*)
    exec gunicorn --config gunicorn.conf.py "$@" core_project.wsgi:application
    ;;
  manage)
    shift
    exec python manage.py "$@"
    ;;
  worker)
    shift
    # The probes' files from a previous run of this container (a per-pod /tmp outlives a restart; a
    # SIGKILL or an OOM kill leaves them behind): a stale ".ready" would make a worker that cannot reach
    # the broker look ready, and a fresh-looking heartbeat would pass the startup probe early.
    heartbeat="${CELERY_HEARTBEAT_FILE:-/tmp/celery-heartbeat}"
    rm -f "$heartbeat" "$heartbeat.ready"
    # Threads: a delivery waits on the network, not the CPU; one process also keeps its metrics in one place.
    exec celery -A core_project worker --pool threads --concurrency "${WEBHOOK_WORKER_THREADS:-8}" \
      --without-mingle --without-gossip --loglevel INFO "$@"
    ;;
  beat)
    shift
    rm -f "${CELERY_BEAT_HEARTBEAT_FILE:-/tmp/celerybeat-heartbeat}"
    exec celery -A core_project beat --loglevel INFO "$@"
    ;;
  python | python3 | bash | sh)
    exec "$@"
    ;;
  *)
    exec python manage.py "$@"
    ;;
esac
