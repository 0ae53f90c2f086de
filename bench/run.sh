#!/usr/bin/env bash
# Reproducible benchmark of the Parcel Service: `make bench` runs this. See bench/README.md for the knobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]]; then
  echo "bench: .venv is missing; run 'make venv' (or any make target) first" >&2
  exit 1
fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: wrk is not installed; installing it with apt-get" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo -n"; fi
  if ! { timeout 300 $SUDO apt-get update -qq && timeout 300 $SUDO apt-get install -y -qq wrk; } >&2; then
    echo "bench: could not install wrk. Install it yourself (Debian/Ubuntu: 'apt-get install wrk'," >&2
    echo "       macOS: 'brew install wrk') and run 'make bench' again." >&2
    exit 1
  fi
fi

# The label rows measure rendering with the fonts the image ships; without them labels answer 503.
if ! timeout 300 bash deploy/label-tools.sh; then
  echo "bench: could not install the label fonts (see deploy/label-tools.sh); the label rows will fail" >&2
fi

if [[ "${1:-}" == "--soak" ]]; then
  shift
  exec .venv/bin/python bench/soak.py "$@"
fi
# The endpoints, then the webhooks (the outbox's cost on an event, delivery throughput): see bench/README.md.
.venv/bin/python bench/bench.py "$@"
exec .venv/bin/python bench/webhooks.py
