"""Size a deployment from the bench's measurements: ``python bench/capacity.py [latest.json]``.

Prints the Markdown tables of docs/capacity.md, recomputed from ``bench/results/latest.json`` (the 1m dataset
when it was measured): cores and pods per endpoint, connections, PostgreSQL after a year, Redis memory.
The workload and the assumptions (peak factor, cache hit ratio, utilisation) are the constants below;
docs/capacity.md explains each.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
DAY_S = 86_400

# The workload to size for (per day).
PARCELS_PER_DAY = 10_000_000
EVENTS_PER_DAY = 50_000_000
TRACKING_READS_PER_DAY = 1_000_000_000
# Assumptions (docs/capacity.md): the busiest hour against the day's average; share of tracking reads the
# cache answers; the CPU share a pod may reach before the autoscaler adds one; days a parcel stays active.
PEAK_FACTOR = 3.0
TRACKING_HIT_RATIO = 0.9
TARGET_UTILISATION = 0.6
ACTIVE_DAYS = 3
CORES_PER_POD = 1  # deploy/kubernetes/base/deployment.yaml: limit 1 CPU, WEB_CONCURRENCY 3
WORKERS_PER_POD = 3
DOCUMENT_TTL_S = 300  # parcel_service/api/documents.py DOCUMENT_CACHE_TTL_S


def load(path: Path) -> tuple[dict[str, Any], str]:
    """The results and the dataset the figures come from (1m if measured)."""
    results = json.loads(path.read_text())
    dataset = "1m" if "1m" in results["datasets"] else next(iter(results["datasets"]))
    return results, dataset


def rates() -> dict[str, float]:
    """Peak requests per second per endpoint of the workload."""
    tracking = TRACKING_READS_PER_DAY / DAY_S * PEAK_FACTOR
    return {
        "tracking_warm": tracking * TRACKING_HIT_RATIO,
        "tracking_cold": tracking * (1 - TRACKING_HIT_RATIO),
        "create": PARCELS_PER_DAY / DAY_S * PEAK_FACTOR,
        "add_event": EVENTS_PER_DAY / DAY_S * PEAK_FACTOR,
    }


def compute(results: dict[str, Any], dataset: str) -> dict[str, Any]:
    """Every figure of docs/capacity.md."""
    measured = results["datasets"][dataset]
    cores_measured = results["machine"]["cores"]
    storage = results.get("storage", {}).get(dataset, {})
    rows = []
    total_cores = 0.0
    for endpoint, rate in rates().items():
        # rps per core of the whole stack on the bench machine (service, PostgreSQL, Redis and wrk share its
        # cores): an upper bound on what the service's pods need.
        per_core = measured[endpoint]["rps"] / cores_measured
        cores = rate / per_core / TARGET_UTILISATION
        total_cores += cores
        rows.append({"endpoint": endpoint, "peak_rps": rate, "rps_per_core": per_core, "cores": cores})
    pods = math.ceil(total_cores / CORES_PER_POD)
    connections = storage.get("connections_per_worker", {})
    tables = storage.get("tables", {})
    parcel = tables.get("parcel_service_parcel", {})
    event = tables.get("parcel_service_trackingevent", {})
    year_parcels = PARCELS_PER_DAY * 365
    year_events = EVENTS_PER_DAY * 365
    redis_keys = storage.get("redis_bytes_per_key", {})

    def key_bytes(prefix: str) -> float:
        return next((v["bytes_mean"] for k, v in redis_keys.items() if k.startswith(prefix)), 0.0)

    # Distinct parcels whose documents live in Redis at once: at most every read of a TTL window at peak, and
    # at most the parcels active in that window.
    reads_per_ttl = TRACKING_READS_PER_DAY / DAY_S * PEAK_FACTOR * DOCUMENT_TTL_S
    cached_parcels = min(reads_per_ttl, PARCELS_PER_DAY * ACTIVE_DAYS)
    tracking_doc = key_bytes("track:") + key_bytes("parcel-version")
    machine = results["machine"]
    return {
        "dataset": dataset,
        "machine": f"{machine['cpu_model']}, {cores_measured} cores, commit {machine['git_commit']}",
        "rows": rows,
        "total_cores": total_cores,
        "pods": pods,
        "pg_connections": pods * WORKERS_PER_POD * connections.get("postgres", 1.0),
        "redis_connections": pods * WORKERS_PER_POD * connections.get("redis", 1.0),
        "parcel_bytes": parcel.get("bytes_per_row"),
        "parcel_heap_bytes": parcel.get("heap_bytes_per_row"),
        "parcel_indexes": parcel.get("index_bytes_per_row", {}),
        "event_bytes": event.get("bytes_per_row"),
        "event_heap_bytes": event.get("heap_bytes_per_row"),
        "event_indexes": event.get("index_bytes_per_row", {}),
        "year_parcels": year_parcels,
        "year_events": year_events,
        "year_parcel_tb": year_parcels * (parcel.get("bytes_per_row") or 0) / 1e12,
        "year_event_tb": year_events * (event.get("bytes_per_row") or 0) / 1e12,
        "month_event_gb": EVENTS_PER_DAY * 30 * (event.get("bytes_per_row") or 0) / 1e9,
        "tracking_doc_bytes": tracking_doc,
        "parcel_doc_bytes": key_bytes("parcel:") + key_bytes("parcel-version"),
        "label_bytes": key_bytes("label"),
        "cached_parcels": cached_parcels,
        "redis_tracking_gb": cached_parcels * tracking_doc / 1e9,
        "contention_rps": measured.get("add_event_one_parcel", {}).get("rps"),
        "peak_writes": rates()["create"] + rates()["add_event"],
    }


def markdown(c: dict[str, Any]) -> str:
    """The tables of docs/capacity.md."""
    lines = [
        f"Figures of the `{c['dataset']}` dataset ({c['machine']}); peak factor {PEAK_FACTOR}, tracking cache hit "
        f"ratio {TRACKING_HIT_RATIO}, pods sized to {TARGET_UTILISATION:.0%} CPU.",
        "",
        "| endpoint | peak rps | measured rps per core | cores |",
        "|---|---:|---:|---:|",
    ]
    for row in c["rows"]:
        lines.append(
            f"| {row['endpoint']} | {row['peak_rps']:,.0f} | {row['rps_per_core']:,.0f} | {row['cores']:,.1f} |"
        )
    lines += [
        f"| **total** | | | **{c['total_cores']:,.1f}** |",
        "",
        "| what | figure |",
        "|---|---:|",
        f"| pods ({CORES_PER_POD} CPU, {WORKERS_PER_POD} workers each) | {c['pods']:,} |",
        f"| PostgreSQL connections (pods x workers x measured per worker) | {c['pg_connections']:,.0f} |",
        f"| Redis connections | {c['redis_connections']:,.0f} |",
        f"| parcel: bytes per row, all included (heap alone) | {c['parcel_bytes']} ({c['parcel_heap_bytes']}) |",
        f"| event: bytes per row, all included (heap alone) | {c['event_bytes']} ({c['event_heap_bytes']}) |",
        f"| parcels after a year | {c['year_parcels']:,} → {c['year_parcel_tb']:.2f} TB |",
        f"| events after a year | {c['year_events']:,} → {c['year_event_tb']:.2f} TB |",
        f"| one month of events (a partition) | {c['month_event_gb']:,.0f} GB |",
        f"| cached tracking document + version key | {c['tracking_doc_bytes']:,.0f} B |",
        f"| cached parcel document + version key | {c['parcel_doc_bytes']:,.0f} B |",
        f"| cached label | {c['label_bytes']:,.0f} B |",
        f"| parcels cached at once (peak reads in a {DOCUMENT_TTL_S} s TTL) | {c['cached_parcels']:,.0f} |",
        f"| Redis for tracking documents | {c['redis_tracking_gb']:,.1f} GB |",
        f"| peak writes (creates + events) per second | {c['peak_writes']:,.0f} |",
        f"| events per second on one parcel (measured, row lock) | {c['contention_rps']} |",
        "",
        "Index bytes per row: parcel "
        + ", ".join(f"`{k}` {v}" for k, v in c["parcel_indexes"].items())
        + "; event "
        + ", ".join(f"`{k}` {v}" for k, v in c["event_indexes"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the tables for the given (or the committed) results file."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    results, dataset = load(path)
    print(markdown(compute(results, dataset)), end="")


if __name__ == "__main__":
    main()
