#!/usr/bin/env bash
# Ship checks, without a Docker engine: the Dockerfile (hadolint, supported base images), the
# Kubernetes manifests (rendered offline, validated against the Kubernetes API schemas), the Backstage
# descriptor (Backstage's own validators) and `make serve` end to end (the image's command, healthcheck,
# static files and graceful shutdown). Run by .ci/run from the repository root after `make venv`.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }
# Oldest Kubernetes the manifests support (preStop sleep action) and the newest the pinned validator knows.
K8S_VERSIONS=(1.30.0 1.37.0)

step "ship: hadolint Dockerfile (.hadolint.yaml)"
.venv/bin/hadolint --config .hadolint.yaml Dockerfile
echo "hadolint: no findings at or above the failure threshold"

step "ship: base images supported, Python minor = CI's ($(.venv/bin/python -c 'import sys;print(f"{sys.version_info[0]}.{sys.version_info[1]}")'))"
.venv/bin/python deploy/check_base_images.py Dockerfile

step "ship: Kubernetes manifests render and validate (strict, Kubernetes ${K8S_VERSIONS[*]})"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
.venv/bin/python deploy/kubernetes/render.py --compare-kubectl --out-dir "$rendered" \
  deploy/kubernetes/base deploy/kubernetes/overlays/*/
k8s_args=()
for version in "${K8S_VERSIONS[@]}"; do k8s_args+=(-k "$version"); done
.venv/bin/kubernetes-validate --strict --quiet "${k8s_args[@]}" "$rendered"/*.yaml
echo "kubernetes-validate: $(grep -c '^kind:' "$rendered"/*.yaml | awk -F: '{n += $2} END {print n}') objects valid"

step "ship: Backstage catalog-info.yaml (@backstage/catalog-model validators)"
(cd deploy/backstage-validate && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
node deploy/backstage-validate/validate.mjs catalog-info.yaml

step "ship: make serve smoke test (prod settings, Gunicorn, HEALTHCHECK, static files, graceful shutdown)"
timeout 240 .venv/bin/python deploy/smoke_serve.py
