"""Two commits side by side on one machine: ``python bench/ab.py OLD_CHECKOUT [NEW_CHECKOUT]``.

Without ``NEW_CHECKOUT`` the new side is this checkout. A ``NEW_CHECKOUT`` runs from its own ``.venv`` on this
checkout's bench database (seeded and migrated by this checkout: fine while the migrations in between only add
tables).

Across runs, ``make bench``'s ratios move with the health baseline itself (a lighter floor lowers every ratio
while no endpoint got slower) and rps move with the machine. Here both servers run at once, each on the database
its own commit's bench seeded (``OLD_CHECKOUT`` needs its ``.venv`` and ``<BENCH_AB_OLD_DB>_<dataset>``; run its
``make bench`` once), idle while the other is driven, and every endpoint is measured in rounds that alternate
old, new / new, old: the per-round new/old rps ratio compares the two under the same machine conditions.

Knobs: ``BENCH_AB_DATASET`` (``1m``), ``BENCH_AB_OLD_DB`` (``parcel_bench_old``), ``BENCH_AB_OLD_REDIS_DB`` (14),
``BENCH_AB_ROUNDS`` (5), ``BENCH_AB_SECONDS`` (3), ``BENCH_TRACING`` (``0`` here: the new server untraced),
``BENCH_ONLY`` (endpoints to measure), ``BENCH_AB_NAME`` (results ``bench/results/<name>.md``/``.json``, default
``ab``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import warm_caches

import bench as bench_module
from bench import RESULTS, Bench, Config, env_int, log, machine_info, write_specs

# make bench's endpoints but the API-key and label rows (commits before them have neither).
ENDPOINTS = ("health", *(e for e in bench_module.ENDPOINTS if e not in ("detail_api_key", "label_warm", "label_cold")))


def specs(bench: Bench) -> dict[str, dict[str, Any]]:
    """The endpoints as ``make bench`` drives them, on this bench's database and server; caches warmed."""
    shipper, carrier = bench.token("bench-shipper"), bench.token("bench-carrier")
    inputs = bench.prepare_inputs()
    deep_path, _ = bench.deep_cursor(carrier)
    warm_caches(bench, {"track_list": inputs["warm_list"], "shipper": shipper, "detail_list": inputs["detail_list"]})
    return {
        "health": {"script": "get.lua", "path": "/api/v1/health/"},
        "tracking_warm": {"script": "get.lua", "path": "/api/v1/track/{item}/", "items": inputs["warm"]},
        "tracking_cold": {"script": "get.lua", "path": "/api/v1/track/{item}/", "items": inputs["cold"]},
        "customer_list": {"script": "get.lua", "path": "/api/v1/parcels/", "token": shipper},
        "carrier_list_first": {"script": "get.lua", "path": "/api/v1/parcels/?page_size=25", "token": carrier},
        "carrier_list_deep": {"script": "get.lua", "path": deep_path, "token": carrier},
        "detail": {"script": "get.lua", "path": "/api/v1/parcels/{item}/", "token": shipper, "items": inputs["detail"]},
        **write_specs(inputs, shipper, carrier),
    }


def drive(bench: Bench, spec: dict[str, Any], label: str, seconds: int, connections: int) -> float:
    """One wrk run; its rps. Non-2xx answers fail the run: an error is cheaper than the work it skips."""
    kwargs = {k: spec[k] for k in ("token", "items", "body") if k in spec}
    result = bench.wrk(label, spec["script"], spec["path"], connections=connections, seconds=seconds, **kwargs)
    if result["errors_status"] or result["socket_errors"]:
        raise RuntimeError(f"{label}: {result['errors_status']} non-2xx, {result['socket_errors']} socket errors")
    return float(result["rps"])


def git_commit(root: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=False
    ).stdout.strip()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    old_root = Path(argv[1]).resolve()
    new_root = Path(argv[2]).resolve() if len(argv) == 3 else None
    dataset = os.environ.get("BENCH_AB_DATASET", "1m")
    rounds, seconds = env_int("BENCH_AB_ROUNDS", 5), env_int("BENCH_AB_SECONDS", 3)
    new, old = Bench(Config()), Bench(Config())
    new.config.dataset = old.config.dataset = dataset
    old.config.db_name = os.environ.get("BENCH_AB_OLD_DB", "parcel_bench_old")
    old.config.redis_db = env_int("BENCH_AB_OLD_REDIS_DB", 14)
    tracing = os.environ.get("BENCH_TRACING", "0") not in ("", "0", "false")
    try:
        new.seed(dataset)
        new.start_ours("ours", tracing=tracing and new_root is None, root=new_root or bench_module.ROOT)
        old.start_ours("ours", tracing=False, root=old_root)
        sides = {"old": (old, specs(old)), "new": (new, specs(new))}
        rows: dict[str, Any] = {}
        for endpoint in [e for e in ENDPOINTS if not new.config.only or e in new.config.only]:
            rps: dict[str, list[float]] = {"old": [], "new": []}
            for index in range(rounds):
                for side in ("old", "new") if index % 2 == 0 else ("new", "old"):
                    bench, endpoint_specs = sides[side]
                    label = f"ab-{endpoint}-{side}-{index}"
                    connections = bench.config.connections
                    rps[side].append(drive(bench, endpoint_specs[endpoint], label, seconds, connections))
            ratios = [n / o for n, o in zip(rps["new"], rps["old"], strict=True) if o]
            rows[endpoint] = {
                "old_rps": round(statistics.median(rps["old"]), 1),
                "new_rps": round(statistics.median(rps["new"]), 1),
                "new_over_old": round(statistics.median(ratios), 3),
                "rounds": [round(r, 3) for r in ratios],
            }
            log(f"  {endpoint}: {rows[endpoint]}")
    finally:
        new.stop_servers()
        old.stop_servers()
    result = {
        "machine": machine_info(),
        "old": git_commit(old_root),
        "new": git_commit(new_root or Path(__file__).resolve().parent.parent),
        "dataset": dataset,
        "new_traced": tracing,
        "rounds": rounds,
        "seconds": seconds,
        "rows": rows,
    }
    lines = [
        f"# {result['old']} (old) and {result['new']} (new) side by side",
        "",
        f"{result['machine']['cpu_model']}, {result['machine']['cores']} cores, {result['machine']['date']}; dataset"
        f" {dataset}; both Gunicorns with {new.config.workers} sync workers, up at once, driven in turn ({rounds}"
        f" rounds of {seconds} s per side and endpoint, order alternating); new server traced: {tracing}.",
        "",
        "| endpoint | old rps | new rps | new / old (median of rounds) | rounds |",
        "|---|---:|---:|---:|---|",
        *(f"| {k} | {v['old_rps']} | {v['new_rps']} | {v['new_over_old']} | {v['rounds']} |" for k, v in rows.items()),
        "",
    ]
    name = os.environ.get("BENCH_AB_NAME", "ab")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
