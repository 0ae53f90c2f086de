#!/usr/bin/env bash
# Static security checks: bandit on the project code (any high-severity finding fails; lower ones are
# printed, and every suppression in the code carries its reason inline), and pip-audit of the production
# requirements when the vulnerability service is reachable (a network failure is a printed warning, never
# a CI failure; a known vulnerability is).
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "--- bandit (medium and above shown; high fails)"
.venv/bin/bandit -q -r parcel_service core_project gunicorn.conf.py deploy -x parcel_service/tests -ll || true
.venv/bin/bandit -q -r parcel_service core_project gunicorn.conf.py deploy -x parcel_service/tests -lll
echo "bandit: no high-severity findings"

echo "--- pip-audit requirements/prod.txt"
rc=0
out=$(timeout 300 .venv/bin/pip-audit --requirement requirements/prod.txt --require-hashes --disable-pip \
  --progress-spinner off 2>&1) || rc=$?
unaudited=$(grep -c "could not be audited" <<<"$out" || true)
if [ "$unaudited" -gt 0 ]; then
  # pip-audit reports "No known vulnerabilities" even when it could look nothing up: say what really happened.
  echo "WARNING: the vulnerability service answered for none/some packages ($unaudited not audited:" \
    "its JSON API is unreachable from here); treat this audit as skipped for those."
fi
echo "$out" | grep -v "could not be audited" | tail -n 30
if [ "$rc" -ne 0 ]; then
  if grep -qiE "connection|timed out|temporary failure|name resolution|max retries|unreachable|HTTPError|SSLError" <<<"$out" \
     && ! grep -qE "^Found [0-9]+ known vulnerabilit" <<<"$out"; then
    echo "WARNING: pip-audit could not reach its vulnerability service; skipped (not a failure)."
    exit 0
  fi
  exit "$rc"
fi
