"""Check what each rendered kustomization exposes: Ingress paths and NetworkPolicy coverage.

Reads the per-object files that split_manifests.py wrote (``NAME--<n>-<kind>-<name>.yaml``) and checks
every render (base, each overlay) on its own:

Ingress
  * A public Ingress (one without a source-address allow-list annotation) routes only paths under
    ``PUBLIC_PREFIXES`` and has no default backend: the API, its schema and docs, their static files.
  * No Ingress, public or not, routes ``/metrics``; only Prometheus scrapes it, pod by pod.
NetworkPolicy
  * Every pod template of the service (Deployment, Job, ...) is selected by a NetworkPolicy that
    governs Ingress, so no workload is open to the whole cluster by default.
  * Every ingress rule names its peers and its ports (an empty ``from`` or ``ports`` admits everyone or
    every port), peers only by namespace name (``kubernetes.io/metadata.name``).
  * Every rule admits traffic on at least one port that each selected pod template really declares
    (by name or number): a renamed container port must not silently cut the ingress controller or
    Prometheus off.
  * The pods that open connections to addresses customers choose (``EGRESS_RESTRICTED_COMPONENTS``: the
    webhook worker, and beat beside it) are selected by a NetworkPolicy that governs Egress.
  * No egress rule admits every port to every destination, and none that admits every port lets a
    private range (``PRIVATE_NETWORKS``: RFC 1918, carrier-grade NAT, loopback, link-local and the cloud
    metadata address, IPv6 loopback, unique-local and link-local) through an ``ipBlock``: each such range
    must sit inside one ``except`` entry. Rules limited to named ports (DNS, PostgreSQL, Redis) may go
    anywhere.

Usage:
    python deploy/kubernetes/check_exposure.py OBJECTS_DIR
"""

from __future__ import annotations

import sys
from collections import defaultdict
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import yaml

PUBLIC_PREFIXES = ("/api", "/static")
NEVER_ROUTED = ("/metrics", "/metrics/")
ALLOW_LIST_ANNOTATIONS = (
    "nginx.ingress.kubernetes.io/whitelist-source-range",
    "nginx.ingress.kubernetes.io/allowlist-source-range",
)
POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# app.kubernetes.io/component values whose pods must have their egress restricted by a NetworkPolicy.
EGRESS_RESTRICTED_COMPONENTS = ("webhook-worker", "webhook-beat")
PRIVATE_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
)

Obj = dict[str, Any]


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _name(obj: Obj) -> str:
    return f"{obj['kind']}/{obj.get('metadata', {}).get('name', '?')}"


def _under(path: str, prefix: str) -> bool:
    """True if ``path`` is ``prefix`` or below it, element-wise (Kubernetes' Prefix semantics)."""
    prefix = prefix.rstrip("/")
    return path.rstrip("/") == prefix or path.startswith(prefix + "/")


def _routes(path: str, path_type: str, url: str) -> bool:
    """Would an Ingress path of this type send a request for ``url`` to the backend?"""
    if path_type == "Exact":
        return url == path
    # Prefix, and ImplementationSpecific read as ingress-nginx does by default (a prefix).
    return path.rstrip("/") == "" or _under(url, path)


def check_ingress(ingress: Obj) -> list[str]:
    """Problems with one Ingress (see the module docstring)."""
    problems = []
    annotations = ingress.get("metadata", {}).get("annotations") or {}
    public = not any(annotations.get(key) for key in ALLOW_LIST_ANNOTATIONS)
    if public and _dig(ingress, ("spec", "defaultBackend")):
        problems.append(f"{_name(ingress)}: a public Ingress must not have a defaultBackend (it routes everything)")
    for rule in _dig(ingress, ("spec", "rules")) or []:
        for entry in _dig(rule, ("http", "paths")) or []:
            path, path_type = entry.get("path", "/"), entry.get("pathType", "ImplementationSpecific")
            where = f"{_name(ingress)}: path {path!r} ({path_type}) on host {rule.get('host', '*')!r}"
            if any(_routes(path, path_type, url) for url in NEVER_ROUTED):
                problems.append(f"{where} routes /metrics, which only Prometheus may reach")
            if public and not any(_under(path, prefix) for prefix in PUBLIC_PREFIXES):
                problems.append(f"{where} is public but outside {', '.join(PUBLIC_PREFIXES)}")
    return problems


def _selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _declared_ports(template: Obj) -> set[Any]:
    ports: set[Any] = set()
    spec = template.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            ports.add(port.get("containerPort"))
            if port.get("name"):
                ports.add(port["name"])
    return ports


def _span(network: str) -> tuple[int, int, int]:
    """An address block as (IP version, first address, last address)."""
    block = ip_network(network, strict=False)
    return block.version, int(block.network_address), int(block.broadcast_address)


def _within(inner: tuple[int, int, int], outer: tuple[int, int, int]) -> bool:
    return inner[0] == outer[0] and outer[1] <= inner[1] and inner[2] <= outer[2]


def _private_ranges_opened(block: Obj) -> list[str]:
    """The private ranges an ``ipBlock`` lets through: those that overlap its CIDR and no ``except`` entry covers."""
    cidr = _span(block.get("cidr", ""))
    excepts = [_span(entry) for entry in block.get("except") or []]
    opened = []
    for private in PRIVATE_NETWORKS:
        span = _span(private)
        if span[0] != cidr[0] or span[2] < cidr[1] or cidr[2] < span[1]:
            continue  # no overlap
        # Two overlapping CIDR blocks: one contains the other. What passes is the smaller of the two.
        inside = span if _within(span, cidr) else cidr
        if not any(_within(inside, entry) for entry in excepts):
            opened.append(private)
    return opened


def check_egress(policy: Obj) -> list[str]:
    """Problems with one NetworkPolicy's egress rules (see the module docstring)."""
    problems = []
    for index, rule in enumerate(_dig(policy, ("spec", "egress")) or []):
        if rule.get("ports"):
            continue
        where = f"{_name(policy)} egress rule {index}"
        if not rule.get("to"):
            problems.append(f"{where}: no `to` and no `ports`, so it admits every destination on every port")
        for peer in rule.get("to") or []:
            if "ipBlock" in peer:
                opened = _private_ranges_opened(peer["ipBlock"])
                if opened:
                    problems.append(f"{where}: ipBlock {peer['ipBlock'].get('cidr')} admits every port of {opened}")
    return problems


def check_network_policies(objects: list[Obj]) -> list[str]:
    """Problems with the render's NetworkPolicies against its pod templates (see the module docstring)."""
    problems = []
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    templates = [
        (obj, _dig(obj, POD_TEMPLATE_PATHS[obj["kind"]])) for obj in objects if obj["kind"] in POD_TEMPLATE_PATHS
    ]
    for workload, template in templates:
        labels = _dig(template, ("metadata", "labels")) or {}
        governing = [
            policy
            for policy in policies
            if "Ingress" in (_dig(policy, ("spec", "policyTypes")) or ["Ingress"])
            and _selects(_dig(policy, ("spec", "podSelector")), labels)
        ]
        if not governing:
            problems.append(f"{_name(workload)}: no NetworkPolicy governs inbound traffic to its pods")
        if labels.get("app.kubernetes.io/component") in EGRESS_RESTRICTED_COMPONENTS and not any(
            "Egress" in (_dig(policy, ("spec", "policyTypes")) or [])
            and _selects(_dig(policy, ("spec", "podSelector")), labels)
            for policy in policies
        ):
            problems.append(f"{_name(workload)}: no NetworkPolicy restricts its pods' outbound traffic")
        for policy in governing:
            for index, rule in enumerate(_dig(policy, ("spec", "ingress")) or []):
                ports = {port.get("port") for port in rule.get("ports") or []}
                if ports and not ports & _declared_ports(template):
                    problems.append(
                        f"{_name(policy)} ingress rule {index}: none of the ports {sorted(map(str, ports))} is "
                        f"declared by the pods of {_name(workload)}, so the rule admits nothing"
                    )
    for policy in policies:
        problems += check_egress(policy)
        for index, rule in enumerate(_dig(policy, ("spec", "ingress")) or []):
            where = f"{_name(policy)} ingress rule {index}"
            if not rule.get("from"):
                problems.append(f"{where}: no `from`, so it admits every source")
            if not rule.get("ports"):
                problems.append(f"{where}: no `ports`, so it admits every port")
            for peer in rule.get("from") or []:
                namespace = _dig(peer, ("namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
                if set(peer) - {"namespaceSelector", "podSelector"} or not namespace:
                    problems.append(f"{where}: peers must name their namespace (kubernetes.io/metadata.name): {peer}")
    return problems


def main(argv: list[str]) -> int:
    """Check every render found in the directory; print the problems, exit 1 if there are any."""
    if len(argv) != 1:
        print(__doc__)
        return 2
    renders: dict[str, list[Obj]] = defaultdict(list)
    for path in sorted(Path(argv[0]).glob("*--*.yaml")):
        renders[path.name.split("--", 1)[0]].append(yaml.safe_load(path.read_text()))
    if not renders:
        print(f"no rendered objects in {argv[0]}")
        return 1
    problems = []
    for name, objects in sorted(renders.items()):
        found = [f"{name}: {problem}" for obj in objects if obj["kind"] == "Ingress" for problem in check_ingress(obj)]
        found += [f"{name}: {problem}" for problem in check_network_policies(objects)]
        ingresses = sum(obj["kind"] == "Ingress" for obj in objects)
        policies = sum(obj["kind"] == "NetworkPolicy" for obj in objects)
        print(f"{name}: {ingresses} Ingress, {policies} NetworkPolicy: {'ok' if not found else 'PROBLEMS'}")
        problems += found
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
