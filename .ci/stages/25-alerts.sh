#!/usr/bin/env bash
# Alerting as code: the PrometheusRule deploy/prometheus/rules.yaml, as every kustomization ships it.
# Renders base and each overlay with the pinned kubectl (as 20-ship.sh does), extracts every
# PrometheusRule's spec (a plain Prometheus rule file) and runs `promtool check rules` on each, checks that
# every alert has a firing and a quiet test case and a runbook section (docs/alerts.md), then runs the
# unit tests deploy/prometheus/tests.yaml against the base's rules with `promtool test rules`.
# promtool comes from Debian's prometheus package when the machine does not have it.
# Run by .ci/run from the repository root after `make venv`.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }

work="$(mktemp -d)"
own_policy=""
cleanup() {
  rm -rf "$work"
  if [ -n "$own_policy" ]; then rm -f "$own_policy"; fi
}
trap cleanup EXIT

ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then return 0; fi
  step "alerts: installing promtool (Debian package prometheus)"
  # The package also ships the Prometheus server, which its maintainer scripts would start (and
  # enable) as a service. A policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d and
  # deb-systemd-invoke from starting anything; it is removed again unless the machine had one already.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$own_policy"
    chmod 755 "$own_policy"
  fi
  local before after
  before="$(pgrep -x prometheus || true)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -n "$own_policy" ]; then rm -f "$own_policy" && own_policy=""; fi
  # Only promtool is wanted: never leave the server enabled or running because of this install.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  after="$(pgrep -x prometheus || true)"
  for pid in $after; do
    if ! grep -qx "$pid" <<<"$before"; then
      echo "stopping the Prometheus server the package started (pid $pid)"
      kill "$pid" || true
    fi
  done
  command -v promtool >/dev/null 2>&1 || { echo "promtool still missing after installing prometheus"; exit 1; }
}

ensure_promtool
promtool --version 2>&1 | head -1

step "alerts: render the kustomizations and extract every PrometheusRule's spec"
for dir in deploy/kubernetes/base deploy/kubernetes/overlays/*/; do
  name="$(basename "$dir")"
  .venv/bin/kubectl kustomize "$dir" >"$work/$name.yaml"
  .venv/bin/python deploy/kubernetes/split_manifests.py --name "$name" --out-dir "$work/objects" \
    --rules-dir "$work/rules" <"$work/$name.yaml" >"$work/$name.split.txt"
  grep -F '(spec, for promtool)' "$work/$name.split.txt" || echo "$name: no PrometheusRule"
done
base_rules=("$work"/rules/base--*.rules.yaml)
if [ ! -e "${base_rules[0]}" ] || [ "${#base_rules[@]}" -ne 1 ]; then
  echo "expected exactly one PrometheusRule in deploy/kubernetes/base, found ${#base_rules[@]}"
  exit 1
fi

step "alerts: promtool check rules (every rendered PrometheusRule)"
promtool check rules "$work"/rules/*.rules.yaml

step "alerts: every alert has a firing and a quiet test case and a runbook section"
.venv/bin/python deploy/prometheus/check_alerts.py "${base_rules[0]}" deploy/prometheus/tests.yaml docs/alerts.md

step "alerts: promtool test rules deploy/prometheus/tests.yaml"
# tests.yaml loads rules.yaml from its own directory: the base's rules, as rendered.
mkdir -p "$work/test"
cp "${base_rules[0]}" "$work/test/rules.yaml"
cp deploy/prometheus/tests.yaml "$work/test/tests.yaml"
promtool test rules "$work/test/tests.yaml"
