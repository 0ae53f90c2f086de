"""Soak and overload test (`make soak`): a mixed workload against Gunicorn for 10 minutes, then 3x overload.

Phases, all against the bench database and server set-up of ``bench/bench.py`` (production settings,
sync workers, PostgreSQL + Redis on loopback, throttles out of the way):

1. capacity: after every cached document was read once and a 10 s warm-up, 30 s of the mixed workload
   (70% tracking, 15% list/detail, 10% events, 5% creates) with no pacing, to measure what the service
   serves;
2. soak: ``SOAK_MINUTES`` (10) one-minute runs paced to about 70% of that capacity; per minute: rps,
   p50/p99, statuses per kind, worker RSS;
3. overload: 60 s with 3x the connections and no pacing (the offered load the service cannot keep up with);
4. recovery: 20 s paced as in the soak, which must look like the soak again.

Webhooks are on throughout: two staff endpoints (they hear of every parcel) subscribe to creates and status
changes, delivered by one webhook worker (with beat) to a receiver on loopback that answers at once.
``SOAK_WEBHOOKS=0`` runs without them (no endpoint, worker or receiver), to see what they cost the service.

Afterwards the database is checked: every create and every event acknowledged with 201 must be there
exactly once (references and locations are unique to the run), and every one of them must have reached both
endpoints (the outbox is drained first). Writes: ``bench/results/soak.json`` and ``soak.md``
(``soak-no-webhooks.*`` without webhooks).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhooks import WebhookBench

from bench import LUA, PYTHON, RESULTS, Bench, Config, log
from deploy.loopback import free_port

MINUTES = int(os.environ.get("SOAK_MINUTES", "10"))
WEBHOOKS = os.environ.get("SOAK_WEBHOOKS", "1") not in ("", "0", "false")
CONNECTIONS = 8
TARGET_LOAD = 0.70


def run_mixed(bench: Bench, inputs: dict[str, Any], *, seconds: int, connections: int, delay_ms: float) -> dict:
    """One wrk run of the mixed workload; returns its summary with per-kind status counts."""
    inputs["phase"] = inputs.get("phase", 0) + 1  # keeps create references unique across wrk runs
    env = bench.base_env()
    env.update(
        BENCH_LUA_DIR=str(LUA),
        SOAK_TRACK=str(inputs["track"]),
        SOAK_DETAIL=str(inputs["detail"]),
        SOAK_EVENTS=str(inputs["events"]),
        SOAK_SHIPPER_TOKEN=inputs["shipper"],
        SOAK_CARRIER_TOKEN=inputs["carrier"],
        SOAK_RUN=inputs["run"],
        SOAK_PHASE=str(inputs["phase"]),
        SOAK_DELAY_MS=str(int(delay_ms)),
    )
    cmd = [
        "wrk",
        "--threads=2",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        "--latency",
        f"--script={LUA / 'mixed.lua'}",
        bench.url(""),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    lines = {
        ln.split(" ", 1)[0]: ln.split(" ", 1)[1]
        for ln in proc.stdout.splitlines()
        if ln.startswith(("SOAK_", "BENCH_"))
    }
    if proc.returncode != 0 or "BENCH_JSON" not in lines:
        raise RuntimeError(f"wrk failed:\n{proc.stdout}\n{proc.stderr}")
    summary = json.loads(lines["BENCH_JSON"])
    summary["counts"] = json.loads(lines.get("SOAK_COUNTS", "{}"))
    summary["rps"] = round(summary["requests"] / (summary["duration_us"] / 1e6), 1)
    summary["p50_ms"] = round(summary["p50_us"] / 1000, 2)
    summary["p99_ms"] = round(summary["p99_us"] / 1000, 2)
    summary["socket_errors"] = sum(summary[f"errors_{k}"] for k in ("connect", "read", "write", "timeout"))
    summary["status_5xx"] = sum(v for k, v in summary["counts"].items() if k.split(":")[1].startswith("5"))
    summary["rss_mib"] = bench.worker_rss_mib()
    return summary


def prepare(bench: Bench) -> dict[str, Any]:
    """Tracking numbers, the shipper's parcel ids, in-transit parcels, tokens and a unique run id."""
    track = [
        r[0] for r in bench.sql("SELECT tracking_number FROM parcel_service_parcel ORDER BY md5(id::text) LIMIT 5000")
    ]
    detail = [
        r[0]
        for r in bench.sql(
            "SELECT p.id::text FROM parcel_service_parcel p JOIN auth_user u ON u.id = p.owner_id "
            "WHERE u.username = 'bench-shipper' ORDER BY md5(p.id::text) LIMIT 5000"
        )
    ]
    events = [
        r[0]
        for r in bench.sql(
            "SELECT id::text FROM parcel_service_parcel WHERE status = 'in_transit' ORDER BY md5(id::text) LIMIT 5000"
        )
    ]
    return {
        "track_list": track,
        "detail_list": detail,
        "track": bench.write_items("soak-track", track),
        "detail": bench.write_items("soak-detail", detail),
        "events": bench.write_items("soak-events", events),
        "shipper": bench.token("bench-shipper"),
        "carrier": bench.token("bench-carrier"),
        "run": secrets.token_hex(4),
    }


def warm_caches(bench: Bench, inputs: dict[str, Any]) -> None:
    """Read every document the workload reads, so the capacity probe measures the steady state, not a cold start."""
    with requests.Session() as session:
        for number in inputs["track_list"]:
            session.get(bench.url(f"/api/v1/track/{number}/"), timeout=30)
        session.headers["Authorization"] = f"Bearer {inputs['shipper']}"
        for parcel_id in inputs["detail_list"]:
            session.get(bench.url(f"/api/v1/parcels/{parcel_id}/"), timeout=30)


def verify_writes(bench: Bench, run: str, phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare acknowledged writes with what the database holds."""
    acknowledged_creates = sum(p["counts"].get("create:201", 0) for p in phases)
    acknowledged_events = sum(p["counts"].get("event:201", 0) for p in phases)
    rows, distinct = bench.sql(
        "SELECT count(*), count(DISTINCT reference) FROM parcel_service_parcel WHERE reference LIKE %s",
        (f"soak-{run}-%",),
    )[0]
    events = bench.sql("SELECT count(*) FROM parcel_service_trackingevent WHERE location = %s", (f"soak-{run}",))[0][0]
    return {
        "creates_acknowledged": acknowledged_creates,
        "parcels_in_db": rows,
        "duplicate_parcels": rows - distinct,
        "lost_creates": max(0, acknowledged_creates - rows),
        "events_acknowledged": acknowledged_events,
        "events_in_db": events,
        "lost_events": max(0, acknowledged_events - events),
        # A request whose response timed out on the client may still have been applied: not lost, not duplicated.
        "applied_without_acknowledgement": (rows - acknowledged_creates) + (events - acknowledged_events),
    }


def drain_and_verify_webhooks(bench: Bench, run: str, endpoints: list[str]) -> dict[str, Any]:
    """Wait until no message is pending, then count the run's creates and events that did not reach an endpoint."""
    started = time.monotonic()
    pending = 0
    while time.monotonic() - started < 600:
        pending = bench.sql("SELECT count(*) FROM parcel_service_webhookdelivery WHERE status = 'pending'")[0][0]
        if pending == 0:
            break
        time.sleep(1)
    drained_s = round(time.monotonic() - started, 1)
    missing_creates = missing_events = 0
    for endpoint in endpoints:
        missing_creates += bench.sql(
            "SELECT count(*) FROM (SELECT id FROM parcel_service_parcel WHERE reference LIKE %s"
            " EXCEPT SELECT parcel_id FROM parcel_service_webhookdelivery WHERE endpoint_id = %s"
            " AND event_type = 'parcel.created' AND status = 'succeeded') AS missing",
            (f"soak-{run}-%", endpoint),
        )[0][0]
        missing_events += bench.sql(
            "SELECT count(*) FROM (SELECT id FROM parcel_service_trackingevent WHERE location = %s"
            " EXCEPT SELECT (snapshot -> 'event' ->> 'id')::uuid FROM parcel_service_webhookdelivery"
            " WHERE endpoint_id = %s AND event_type = 'parcel.status_changed' AND status = 'succeeded') AS missing",
            (f"soak-{run}", endpoint),
        )[0][0]
    counts = dict(bench.sql("SELECT status, count(*) FROM parcel_service_webhookdelivery GROUP BY status"))
    return {
        "endpoints": len(endpoints),
        "messages": sum(counts.values()),
        "succeeded": counts.get("succeeded", 0),
        "failed": counts.get("failed", 0),
        "pending_after_drain": pending,
        "drain_seconds_after_load": drained_s,
        "creates_not_delivered": missing_creates,
        "events_not_delivered": missing_events,
    }


def markdown(result: dict[str, Any]) -> str:
    """The report as Markdown (results/soak.md, linked from bench/README.md)."""
    lines = [
        f"Soak {result['date']} ({result['machine']}): capacity {result['capacity_rps']} rps (mixed, 8 connections, "
        f"unpaced); soak paced to {result['soak_load_pct']}% of it.",
        "",
        "| phase | rps | p50 ms | p99 ms | 5xx | socket errors | largest worker RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in result["phases"]:
        rss = phase["rss_mib"].get("current", 0.0)
        lines.append(
            f"| {phase['name']} | {phase['rps']} | {phase['p50_ms']} | {phase['p99_ms']} | {phase['status_5xx']} | "
            f"{phase['socket_errors']} | {rss:.1f} |"
        )
    w = result["writes"]
    lines += [
        "",
        f"Writes: {w['creates_acknowledged']} creates acknowledged, {w['parcels_in_db']} in the database "
        f"({w['duplicate_parcels']} duplicates, {w['lost_creates']} lost); {w['events_acknowledged']} events "
        f"acknowledged, {w['events_in_db']} in the database ({w['lost_events']} lost); "
        f"{w['applied_without_acknowledgement']} applied whose response the client gave up on.",
        f"p99 first soak minute {result['p99_first_min_ms']} ms, last {result['p99_last_min_ms']} ms; worker RSS "
        f"growth over the soak {result['rss_growth_pct']}%.",
    ]
    h = result.get("webhooks")
    if h is None:
        lines.append("Webhooks off (`SOAK_WEBHOOKS=0`): no endpoint, worker or receiver.")
        return "\n".join(lines) + "\n"
    lines.append(
        f"Webhooks ({h['endpoints']} endpoints, 1 worker): {h['messages']} messages, {h['succeeded']} delivered, "
        f"{h['failed']} failed, {h['pending_after_drain']} still pending {h['drain_seconds_after_load']} s after the "
        f"load; acknowledged creates not delivered {h['creates_not_delivered']}, events not delivered "
        f"{h['events_not_delivered']} (the receiver counted {h['received']} requests)."
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the phases and write the report."""
    config = Config()
    config.dataset = "10k"  # the soak runs on the 10k dataset's database
    bench = WebhookBench(config)
    helpers: list[subprocess.Popen[bytes]] = []
    try:
        bench.prepare_database()
        bench.seed("10k")
        bench.start_ours("ours", tracing=False)
        receiver = None
        endpoints: list[str] = []
        if WEBHOOKS:
            port = free_port()
            receiver = subprocess.Popen(
                [str(PYTHON), str(Path(__file__).with_name("receiver.py")), str(port)], stdout=subprocess.PIPE
            )
            helpers.append(receiver)
            endpoints = bench.staff_endpoints(
                2, f"http://127.0.0.1:{port}/hooks", events='["parcel.created", "parcel.status_changed"]'
            )
            helpers += bench.start_workers(1, beat=True)
        inputs = prepare(bench)
        log("warm-up: every tracking and detail document once, then 10 s unpaced")
        warm_caches(bench, inputs)
        warm_up = run_mixed(bench, inputs, seconds=10, connections=CONNECTIONS, delay_ms=0)
        warm_up["name"] = "warm-up"
        log("capacity: 30 s unpaced")
        capacity = run_mixed(bench, inputs, seconds=30, connections=CONNECTIONS, delay_ms=0)
        capacity["name"] = "capacity (unpaced)"
        # Each connection cycles in about CONNECTIONS / capacity seconds at saturation; stretch the cycle so the
        # offered load is TARGET_LOAD of capacity.
        cycle_ms = 1000 * CONNECTIONS / capacity["rps"]
        delay_ms = cycle_ms * (1 / TARGET_LOAD - 1)
        phases = [capacity]
        for minute in range(1, MINUTES + 1):
            log(f"soak minute {minute}/{MINUTES} (delay {delay_ms:.1f} ms per request per connection)")
            phase = run_mixed(bench, inputs, seconds=60, connections=CONNECTIONS, delay_ms=delay_ms)
            phase["name"] = f"soak minute {minute}"
            phases.append(phase)
        log("overload: 60 s, 3x connections, unpaced")
        overload = run_mixed(bench, inputs, seconds=60, connections=CONNECTIONS * 3, delay_ms=0)
        overload["name"] = "overload (3x connections)"
        phases.append(overload)
        log("recovery: 20 s paced like the soak")
        recovery = run_mixed(bench, inputs, seconds=20, connections=CONNECTIONS, delay_ms=delay_ms)
        recovery["name"] = "recovery"
        phases.append(recovery)
        soak = [p for p in phases if p["name"].startswith("soak")]
        first_rss = soak[0]["rss_mib"]["current"]
        last_rss = soak[-1]["rss_mib"]["current"]
        result = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} cores, {config.workers} sync workers",
            "capacity_rps": capacity["rps"],
            "soak_load_pct": round(100 * sum(p["rps"] for p in soak) / len(soak) / capacity["rps"], 1),
            "p99_first_min_ms": soak[0]["p99_ms"],
            "p99_last_min_ms": soak[-1]["p99_ms"],
            "rss_growth_pct": round(100 * (last_rss - first_rss) / first_rss, 1),
            "phases": phases,
            "writes": verify_writes(bench, inputs["run"], [warm_up, *phases]),
        }
        if receiver is not None:
            log("webhooks: waiting for the outbox to drain")
            result["webhooks"] = drain_and_verify_webhooks(bench, inputs["run"], endpoints)
            bench.stop_processes(helpers)
            received = receiver.stdout.read() if receiver.stdout else b"0"
            result["webhooks"]["received"] = int(received.split()[-1] or 0)
        name = "soak" if WEBHOOKS else "soak-no-webhooks"
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        report = markdown(result)
        (RESULTS / f"{name}.md").write_text(report)
        print(report)
        w = result["writes"]
        ok = all(p["status_5xx"] == 0 for p in phases if p["name"] != "overload (3x connections)")
        ok = ok and w["lost_creates"] == 0 and w["lost_events"] == 0 and w["duplicate_parcels"] == 0
        h = result.get("webhooks")
        if h is not None:
            ok = ok and not (h["creates_not_delivered"] or h["events_not_delivered"] or h["pending_after_drain"])
        return 0 if ok else 1
    finally:
        bench.stop_processes(helpers)
        bench.stop_servers()


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    log(f"soak finished in {time.monotonic() - started:.0f} s")
    sys.exit(code)
