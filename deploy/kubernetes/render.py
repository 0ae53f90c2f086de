"""Render a kustomization offline: the subset of kustomize that deploy/kubernetes uses, nothing more.

CI has no kustomize binary, so this renders ``base`` and ``overlays/*`` for ``kubernetes-validate``.
Supported kustomization fields: ``resources`` (files and directories), ``namespace``, ``labels``
(``pairs``, ``includeSelectors``, ``includeTemplates``), ``commonLabels``, ``commonAnnotations``,
``images``, ``replicas`` and ``patches`` (strategic merge, from ``path`` or inline ``patch``, with an
optional ``target``). Any other field is an error, so a kustomization can never silently render
differently here than under kustomize. With ``--compare-kubectl`` the result is compared with
``kubectl kustomize`` when kubectl is installed.

Usage:
    python deploy/kubernetes/render.py DIR [DIR ...] [--out-dir OUT] [--compare-kubectl]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "commonLabels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
}

CLUSTER_SCOPED_KINDS = {
    "APIService",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
}

# Where kustomize's label transformer writes, besides metadata.labels (its default field specs).
# (path, create-if-missing)
TEMPLATE_LABEL_PATHS = {
    "Deployment": [(("spec", "template", "metadata", "labels"), True)],
    "ReplicaSet": [(("spec", "template", "metadata", "labels"), True)],
    "DaemonSet": [(("spec", "template", "metadata", "labels"), True)],
    "StatefulSet": [(("spec", "template", "metadata", "labels"), True)],
    "ReplicationController": [(("spec", "template", "metadata", "labels"), True)],
    "Job": [(("spec", "template", "metadata", "labels"), True)],
    "CronJob": [
        (("spec", "jobTemplate", "metadata", "labels"), True),
        (("spec", "jobTemplate", "spec", "template", "metadata", "labels"), True),
    ],
}
SELECTOR_LABEL_PATHS = {
    "Service": [(("spec", "selector"), True)],
    "Deployment": [(("spec", "selector", "matchLabels"), True)],
    "ReplicaSet": [(("spec", "selector", "matchLabels"), True)],
    "DaemonSet": [(("spec", "selector", "matchLabels"), True)],
    "StatefulSet": [(("spec", "selector", "matchLabels"), True)],
    "ReplicationController": [(("spec", "selector"), True)],
    "Job": [(("spec", "selector", "matchLabels"), False)],
    "CronJob": [(("spec", "jobTemplate", "spec", "selector", "matchLabels"), False)],
    "PodDisruptionBudget": [(("spec", "selector", "matchLabels"), False)],
    "NetworkPolicy": [(("spec", "podSelector", "matchLabels"), False)],
}
REPLICA_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"}
CONTAINER_LIST_KEYS = ("containers", "initContainers", "ephemeralContainers")

# Strategic-merge keys of the lists this repository patches (from the Kubernetes API's patchMergeKey).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}


class RenderError(Exception):
    """The kustomization uses something this renderer does not support, or is malformed."""


def load_yaml_documents(path: Path) -> list[Resource]:
    """All non-empty YAML documents of a file, each required to be a Kubernetes object."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    for doc in documents:
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
            raise RenderError(f"{path}: every document must be a Kubernetes object with apiVersion and kind")
        if not isinstance(doc.get("metadata"), dict) or not doc["metadata"].get("name"):
            raise RenderError(f"{path}: {doc['kind']} without metadata.name")
    return documents


def identity(resource: Resource) -> tuple[str, str, str, str]:
    """The (group, kind, namespace, name) that identifies an object, as kustomize keys it."""
    group = resource["apiVersion"].rpartition("/")[0]
    metadata = resource["metadata"]
    return group, resource["kind"], metadata.get("namespace", ""), metadata["name"]


def render(directory: Path) -> list[Resource]:
    """Render the kustomization in ``directory`` into a list of objects, in resource order.

    Args:
        directory: A folder holding ``kustomization.yaml``.

    Returns:
        The rendered objects.

    Raises:
        RenderError: On unsupported fields, missing files or conflicting objects.
    """
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(path.read_text()) or {}
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise RenderError(f"{path}: unsupported field(s) {sorted(unsupported)}; render.py supports {SUPPORTED_FIELDS}")

    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        loaded = render(target) if target.is_dir() else load_yaml_documents(target) if target.is_file() else None
        if loaded is None:
            raise RenderError(f"{path}: resource {entry} does not exist")
        resources.extend(loaded)
    seen: set[tuple[str, str, str, str]] = set()
    for resource in resources:
        if identity(resource) in seen:
            raise RenderError(f"{path}: {identity(resource)} is defined twice")
        seen.add(identity(resource))

    # The order kustomize's built-in transformers run in.
    for patch in kustomization.get("patches", []):
        apply_patch(resources, patch, directory)
    if "namespace" in kustomization:
        set_namespace(resources, kustomization["namespace"])
    if "commonLabels" in kustomization:
        add_labels(resources, kustomization["commonLabels"], selectors=True, templates=True)
    for entry in kustomization.get("labels", []):
        unknown = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
        if unknown:
            raise RenderError(f"{path}: unsupported labels option(s) {sorted(unknown)}")
        selectors = bool(entry.get("includeSelectors", False))
        add_labels(
            resources, entry["pairs"], selectors=selectors, templates=selectors or entry.get("includeTemplates", False)
        )
    if "commonAnnotations" in kustomization:
        for resource in resources:
            resource["metadata"].setdefault("annotations", {}).update(kustomization["commonAnnotations"])
    for replica in kustomization.get("replicas", []):
        set_replicas(resources, replica["name"], replica["count"])
    for image in kustomization.get("images", []):
        set_image(resources, image)
    return resources


def set_namespace(resources: list[Resource], namespace: str) -> None:
    """Put every namespaced object into ``namespace``."""
    for resource in resources:
        if resource["kind"] not in CLUSTER_SCOPED_KINDS:
            resource["metadata"]["namespace"] = namespace


def _labels_at(resource: Resource, path: tuple[str, ...], create: bool) -> dict[str, Any] | None:
    """The mapping at ``path`` in ``resource``, created when ``create`` and missing, else None."""
    node: Any = resource
    for key in path:
        if not isinstance(node, dict):
            return None
        if key not in node or node[key] is None:
            if not create:
                return None
            node[key] = {}
        node = node[key]
    return node if isinstance(node, dict) else None


def add_labels(resources: list[Resource], pairs: dict[str, str], *, selectors: bool, templates: bool) -> None:
    """Add label ``pairs`` to metadata, and to pod templates and selectors when asked, like kustomize."""
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(pairs)
        paths = list(TEMPLATE_LABEL_PATHS.get(resource["kind"], [])) if templates else []
        paths += SELECTOR_LABEL_PATHS.get(resource["kind"], []) if selectors else []
        for path, create in paths:
            target = _labels_at(resource, path, create)
            if target is not None:
                target.update(pairs)


def set_replicas(resources: list[Resource], name: str, count: int) -> None:
    """Set ``spec.replicas`` of the workload called ``name``."""
    matched = [r for r in resources if r["kind"] in REPLICA_KINDS and r["metadata"]["name"] == name]
    if not matched:
        raise RenderError(f"replicas: no workload named {name}")
    for resource in matched:
        resource.setdefault("spec", {})["replicas"] = count


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container (and init/ephemeral container) anywhere below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CONTAINER_LIST_KEYS and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """Split ``name[:tag][@digest]`` into its parts (a registry port is part of the name)."""
    name, _, digest = image.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def set_image(resources: list[Resource], image: dict[str, str]) -> None:
    """Apply one ``images`` entry (name, newName, newTag, digest) to every matching container."""
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise RenderError(f"images: unsupported option(s) {sorted(unknown)}")
    for resource in resources:
        for container in _containers(resource.get("spec")):
            name, tag, digest = split_image(container.get("image", ""))
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                tag, digest = None, image["digest"]
            elif "newTag" in image:
                tag, digest = str(image["newTag"]), None
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def apply_patch(resources: list[Resource], entry: dict[str, Any], directory: Path) -> None:
    """Apply one ``patches`` entry as a strategic merge patch to its target(s)."""
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise RenderError(f"patches: unsupported option(s) {sorted(unknown)}")
    if "path" in entry:
        documents = load_yaml_documents(directory / entry["path"])
    else:
        documents = [doc for doc in yaml.safe_load_all(entry.get("patch", "")) if doc is not None]
    for patch in documents:
        if not isinstance(patch, dict):
            raise RenderError("patches: only strategic merge patches (YAML mappings) are supported, not JSON 6902")
        targets = [r for r in resources if _matches(r, entry.get("target") or _target_of(patch))]
        if not targets:
            raise RenderError(f"patches: nothing matches {entry.get('target') or _target_of(patch)}")
        for resource in targets:
            merged = strategic_merge(resource, {k: v for k, v in patch.items() if k != "metadata"}, ())
            metadata = {k: v for k, v in patch.get("metadata", {}).items() if k not in {"name", "namespace"}}
            merged["metadata"] = strategic_merge(resource["metadata"], metadata, ("metadata",))
            merged["metadata"]["name"] = resource["metadata"]["name"]
            if "namespace" in resource["metadata"]:
                merged["metadata"]["namespace"] = resource["metadata"]["namespace"]
            merged["apiVersion"], merged["kind"] = resource["apiVersion"], resource["kind"]
            resource.clear()
            resource.update(merged)


def _target_of(patch: Resource) -> dict[str, str]:
    """The target a strategic merge patch names itself: its kind and metadata.name."""
    if "kind" not in patch or "name" not in patch.get("metadata", {}):
        raise RenderError("patches: a patch without target must have kind and metadata.name")
    return {"kind": patch["kind"], "name": patch["metadata"]["name"]}


def _matches(resource: Resource, target: dict[str, str]) -> bool:
    """Whether ``resource`` is selected by a patch ``target`` (kind, name, namespace, group, version)."""
    unknown = set(target) - {"kind", "name", "namespace", "group", "version"}
    if unknown:
        raise RenderError(f"patches: unsupported target option(s) {sorted(unknown)}")
    group, _, version = resource["apiVersion"].rpartition("/")
    actual = {
        "kind": resource["kind"],
        "name": resource["metadata"]["name"],
        "namespace": resource["metadata"].get("namespace", ""),
        "group": group,
        "version": version,
    }
    return all(actual[key] == value for key, value in target.items())


def strategic_merge(original: Any, patch: Any, path: tuple[str, ...]) -> Any:
    """Merge ``patch`` into a copy of ``original`` with Kubernetes strategic-merge semantics.

    Mappings merge key by key and ``null`` deletes a key. Lists with a known merge key (containers by
    name, volume mounts by mountPath, ...) merge item by item, honouring ``$patch: delete``; other
    lists are replaced.

    Args:
        original: The current value.
        patch: The patch value.
        path: Keys leading here, for error messages.

    Returns:
        The merged value (``original`` is not modified).
    """
    if isinstance(patch, dict) and isinstance(original, dict):
        directive = patch.get("$patch")
        if directive == "replace":
            return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        if directive is not None or any(key.startswith("$") for key in patch):
            raise RenderError(f"{'.'.join(path)}: unsupported patch directive in {sorted(patch)}")
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, (*path, key))
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and isinstance(original, list) and path:
        key = _merge_key(path[-1], patch + original)
        if key is not None:
            return _merge_list(original, patch, key, path)
    return copy.deepcopy(patch)


def _merge_key(field: str, items: list[Any]) -> str | None:
    """The strategic-merge key of list ``field``, or None when the list is replaced as a whole."""
    if field == "ports":
        if all(isinstance(item, dict) and "containerPort" in item for item in items):
            return "containerPort"
        return "port" if all(isinstance(item, dict) and "port" in item for item in items) else None
    return MERGE_KEYS.get(field)


def _merge_list(original: list[Any], patch: list[Any], key: str, path: tuple[str, ...]) -> list[Any]:
    """Merge two lists of mappings item by item on ``key``."""
    merged = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise RenderError(f"{'.'.join(path)}: every patch item needs the merge key {key!r}")
        index = next((i for i, old in enumerate(merged) if old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[index] = strategic_merge(merged[index], item, (*path, str(item[key])))
    return merged


def kubectl_render(directory: Path) -> list[Resource] | None:
    """``kubectl kustomize DIR`` parsed, or None when kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    result = subprocess.run(  # noqa: S603
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RenderError(f"kubectl kustomize {directory} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def compare(ours: list[Resource], theirs: list[Resource]) -> list[str]:
    """Differences between two renderings, object by object (order-insensitive)."""
    mine = {identity(r): r for r in ours}
    reference = {identity(r): r for r in theirs}
    problems = [f"only in render.py: {key}" for key in mine.keys() - reference.keys()]
    problems += [f"only in kubectl kustomize: {key}" for key in reference.keys() - mine.keys()]
    problems += [f"differs: {key}" for key in mine.keys() & reference.keys() if mine[key] != reference[key]]
    return problems


def main(argv: list[str] | None = None) -> int:
    """Render each directory; write ``OUT/<name>.yaml`` or print; optionally compare with kubectl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path)
    parser.add_argument("--out-dir", type=Path, help="write one multi-document file per directory here")
    parser.add_argument("--compare-kubectl", action="store_true", help="compare with `kubectl kustomize`")
    args = parser.parse_args(argv)

    failed = False
    for directory in args.directories:
        try:
            resources = render(directory)
        except (RenderError, OSError, yaml.YAMLError) as exc:
            print(f"render: {directory}: {exc}", file=sys.stderr)
            failed = True
            continue
        text = yaml.safe_dump_all(resources, sort_keys=False, default_flow_style=False)
        if args.out_dir:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            name = "-".join(directory.resolve().parts[-2:]) if directory.name != "base" else "base"
            out = args.out_dir / f"{name}.yaml"
            out.write_text(text)
            print(f"rendered {directory}: {len(resources)} objects -> {out}")
        else:
            sys.stdout.write(text)
        if args.compare_kubectl:
            try:
                reference = kubectl_render(directory)
            except (RenderError, subprocess.TimeoutExpired) as exc:
                print(f"render: {exc}", file=sys.stderr)
                failed = True
                continue
            if reference is None:
                print(f"compare {directory}: kubectl not installed, skipped")
                continue
            problems = compare(resources, reference)
            for problem in problems:
                print(f"render: {directory}: {problem}", file=sys.stderr)
            failed |= bool(problems)
            if not problems:
                print(f"compare {directory}: identical to kubectl kustomize ({len(reference)} objects)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
