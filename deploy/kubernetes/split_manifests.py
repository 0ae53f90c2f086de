"""Split the output of ``kubectl kustomize`` into one file per object, for the validators CI runs on it.

kubernetes-validate knows the schemas of Kubernetes' own kinds only: a custom resource merely gets a
warning, so it would pass unchecked. Objects of kind ``PrometheusRule`` (monitoring.coreos.com/v1, the
Prometheus Operator's CRD) are therefore not written with the rest: their ``spec`` is exactly a
Prometheus rule file, and it is written to ``--rules-dir`` for ``promtool check rules`` (and the rule
tests) in .ci/stages/25-alerts.sh. Every other object goes to ``--out-dir`` for
``kubernetes-validate --strict``; CI treats any warning from it (such as another kind without a schema)
as a failure.

Usage:
    kubectl kustomize DIR | python deploy/kubernetes/split_manifests.py --name NAME --out-dir OUT \
        [--rules-dir RULES]

Files are named ``NAME--<n>-<kind>-<object name>.yaml`` and ``NAME--<object name>.rules.yaml``; the
summary on stdout lists what went where.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

RULE_KINDS = {("monitoring.coreos.com/v1", "PrometheusRule")}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()


def split(documents: list[Any], name: str, out_dir: Path, rules_dir: Path | None) -> list[str]:
    """Write each object to its own file and return one summary line per object.

    Raises:
        SystemExit: a document is not a Kubernetes object, or a rule object has nowhere to go.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, obj in enumerate(doc for doc in documents if doc is not None):
        if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
            raise SystemExit(f"{name}: document {index} is not a Kubernetes object: {str(obj)[:80]!r}")
        kind, object_name = obj["kind"], obj.get("metadata", {}).get("name", "")
        if (obj["apiVersion"], kind) in RULE_KINDS:
            if rules_dir is None:
                lines.append(f"{name}: {kind}/{object_name} left to promtool (.ci/stages/25-alerts.sh)")
                continue
            rules_dir.mkdir(parents=True, exist_ok=True)
            target = rules_dir / f"{name}--{_slug(object_name)}.rules.yaml"
            if target.exists():
                raise SystemExit(f"{name}: two {kind} objects named {object_name!r}")
            target.write_text(yaml.safe_dump(obj.get("spec", {}), sort_keys=False))
            lines.append(f"{name}: {kind}/{object_name} -> {target} (spec, for promtool)")
            continue
        target = out_dir / f"{name}--{index:02d}-{_slug(kind)}-{_slug(object_name)}.yaml"
        target.write_text(yaml.safe_dump(obj, sort_keys=False))
        lines.append(f"{name}: {kind}/{object_name}")
    if not lines:
        raise SystemExit(f"{name}: no objects in the input")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Read a multi-document stream on stdin and split it (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="prefix of the written files, e.g. base or production")
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--rules-dir", type=Path, help="where PrometheusRule specs go (skipped when absent)")
    args = parser.parse_args(argv)
    documents = list(yaml.safe_load_all(sys.stdin))
    for line in split(documents, _slug(args.name), args.out_dir, args.rules_dir):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
