#!/usr/bin/env bash
# Schema fuzzing: schemathesis against a live Gunicorn (production settings) on PostgreSQL + Redis,
# as a customer and as a carrier, with a fixed seed and a random one, all default checks. Time-boxed
# to about three minutes. Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=.venv/bin
DB=parcel_fuzz
PORT=$($BIN/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
export DJANGO_SETTINGS_MODULE=core_project.settings.prod
export SECRET_KEY="fuzz-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 60)"
export DATABASE_URL="postgres://postgres:postgres@127.0.0.1:5432/$DB"
export REDIS_URL="redis://127.0.0.1:6379/12"
export ALLOWED_HOSTS=127.0.0.1,localhost SECURE_SSL_REDIRECT=false LOG_LEVEL=WARNING
# Throughput limits would turn the fuzzer's volume into 429s and hide real answers.
export THROTTLE_ANON=1000000/min THROTTLE_USER=1000000/min THROTTLE_AUTH=1000000/min
export PROMETHEUS_MULTIPROC_DIR="$WORK/metrics" WEB_CONCURRENCY=2 GUNICORN_BIND="127.0.0.1:$PORT"
export FUZZ_PASSWORD="fuzz-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"

dropdb --if-exists -h 127.0.0.1 -U postgres "$DB"
createdb -h 127.0.0.1 -U postgres "$DB"
redis-cli -h 127.0.0.1 -n 12 flushdb >/dev/null
$BIN/python manage.py migrate --noinput -v0
$BIN/python - <<'PY'
import django, os
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
password = os.environ["FUZZ_PASSWORD"]  # noqa: the fuzz accounts exist only in this throw-away database
User = get_user_model()
customer = User.objects.create_user("fuzz-customer", password=password)
carrier = User.objects.create_user("fuzz-carrier", password=password)
carrier.groups.add(Group.objects.get(name="carriers"))
PY

$BIN/gunicorn --config gunicorn.conf.py core_project.wsgi:application >"$WORK/gunicorn.log" 2>&1 &
GUNICORN_PID=$!
cleanup() { kill "$GUNICORN_PID" 2>/dev/null || true; wait "$GUNICORN_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$PORT/api/v1/health/" >/dev/null 2>&1 && break; sleep 0.5; done
if ! curl -fsS "http://127.0.0.1:$PORT/api/v1/health/" >/dev/null 2>&1; then
  echo "Gunicorn did not come up in 30 s; its log:"; tail -n 40 "$WORK/gunicorn.log"; exit 1
fi

token() {
  curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/auth/token/" -H 'Content-Type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"$FUZZ_PASSWORD\"}" | $BIN/python -c 'import json,sys; print(json.load(sys.stdin)["access"])'
}

status=0
for role in customer carrier; do
  TOKEN=$(token "fuzz-$role")
  for seed in 20261122 "$RANDOM$RANDOM"; do
    echo "--- schemathesis as $role, seed $seed"
    timeout 120 $BIN/schemathesis --no-color run openapi.yaml \
      --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer $TOKEN" \
      --checks all --seed "$seed" --max-time 35 --workers 1 --request-timeout 10 \
      || status=$?
  done
done
if [ "$status" -ne 0 ]; then
  echo "schemathesis found failures (exit $status); server log tail:"; tail -n 40 "$WORK/gunicorn.log"
fi
exit "$status"
