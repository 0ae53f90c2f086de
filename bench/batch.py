"""Batch ingestion rows of ``make bench``: ``POST /api/v1/events/batch/`` driven by Python threads.

A batch of 1000 events takes a good part of a second, so wrk's 2-second segments would hold one or two
requests per connection. This driver keeps ``connections`` threads (one keep-alive HTTP connection each)
posting pre-built batches for a longer segment, and credits every batch with the part of it that fell inside
the segment (a batch running at the deadline counts for its share, so the tail of the segment is neither
lost nor overcounted). Segments alternate with the bench's health baseline segments, like every other row.

Each thread posts batches of distinct in-transit parcels (``in_transit`` again is always a legal
transition) from a slice of the pool of its own, so two concurrent batches never wait for each other's row
locks: the row measures ingestion, not contention. Every item's result is checked: only items answered 201
count as events; a batch with a refused item, or a non-200 answer, is counted and reported, and its items
do not count. The carrier authenticates with an API key (``Authorization: Api-Key``), as a carrier's
sorting centre would; the events carry the bench's event location, so the next run deletes them.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

BATCH_SIZES = (1000, 100)
KEY_NAME = "bench-key"  # every key the bench creates; deleted at the start of each run
POOL_SIZE = 200_000  # in-transit parcels the batches cycle through


def row_key(size: int) -> str:
    """The results key of the batch row of ``size`` events."""
    return f"batch_{size}"


ROWS = tuple(row_key(size) for size in BATCH_SIZES)


def create_api_key(url: str, token: str, scopes: Sequence[str]) -> str:
    """Issue an API key with ``scopes`` for the user of the JWT ``token`` and return the key."""
    response = requests.post(
        f"{url}/api/v1/api-keys/",
        json={"name": KEY_NAME, "scopes": list(scopes)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["key"])


@dataclass
class Outcome:
    """What the threads of one run saw."""

    started: float = 0.0
    deadline: float = 0.0
    credited_events: float = 0.0  # applied events, each batch weighted by its share inside [started, deadline]
    batches: int = 0
    applied: int = 0
    rejected: int = 0  # items answered with a problem
    failed_batches: int = 0  # batches with a refused item or a non-200 answer (their items do not count)
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, began: float, ended: float, status: int, body: bytes) -> None:
        """Record one answered batch."""
        applied = rejected = 0
        sample = None
        if status == 200:
            results = json.loads(body)["results"]
            applied = sum(1 for item in results if item["status"] == 201)
            rejected = len(results) - applied
            if rejected:
                sample = json.dumps(next(item for item in results if item["status"] != 201))[:400]
        else:
            sample = f"{status} {body[:400]!r}"
        inside = max(0.0, min(ended, self.deadline) - max(began, self.started))
        with self.lock:
            self.batches += 1
            self.statuses[str(status)] += 1
            self.latencies.append(ended - began)
            self.applied += applied
            self.rejected += rejected
            if sample is not None:
                self.failed_batches += 1
                if len(self.samples) < 3:
                    self.samples.append(sample)
            elif ended > began:
                self.credited_events += applied * inside / (ended - began)


class BatchRows:
    """The batch rows of one dataset: a pool of parcels, an API key, the runs and their figures."""

    def __init__(self, bench: Any, *, carrier_token: str, log: Callable[[str], None]) -> None:
        self.bench = bench  # bench.Bench (this module is imported by it)
        self.config = bench.config
        self.log = log
        # Where each (size, connections) run's threads start in their batches: the next run goes on from there,
        # so repeated segments spread their events over the pool instead of growing the same parcels' timelines.
        self.offsets: dict[tuple[int, int], int] = {}
        self.key = create_api_key(bench.url(""), carrier_token, ["events:write"])
        contention = bench.sql(
            "SELECT id::text FROM parcel_service_parcel WHERE reference LIKE 'seed-%%' AND status = 'in_transit' "
            "ORDER BY reference LIMIT 1"
        )[0][0]
        self.pool = [
            row[0]
            for row in bench.sql(
                "SELECT tracking_number FROM parcel_service_parcel WHERE reference LIKE 'seed-%%' "
                "AND status = 'in_transit' AND id::text <> %s ORDER BY md5(id::text) LIMIT %s",
                (contention, POOL_SIZE),
            )
        ]
        random.Random(11).shuffle(self.pool)

    def fits(self, size: int) -> bool:
        """Whether the pool gives every thread at least two batches of its own of ``size`` parcels."""
        return len(self.pool) >= 2 * size * self.config.connections

    def bodies(self, size: int, connections: int) -> list[list[bytes]]:
        """Per thread, the batches it cycles through: ``size`` distinct parcels each, from its own slice of the pool."""
        threads = []
        for thread in range(connections):
            numbers = self.pool[thread::connections]
            chunks = [numbers[i : i + size] for i in range(0, len(numbers) - size + 1, size)]
            threads.append(
                [
                    json.dumps(
                        {
                            "events": [
                                {"tracking_number": n, "status": "in_transit", "location": "Bench hub"} for n in chunk
                            ]
                        }
                    ).encode()
                    for chunk in chunks
                ]
            )
        return threads

    def drive(self, size: int, connections: int, seconds: float) -> tuple[Outcome, float]:
        """``connections`` threads post batches of ``size`` for ``seconds``; the outcome and events/s."""
        bodies = self.bodies(size, connections)
        outcome = Outcome()
        url = self.bench.url("/api/v1/events/batch/")
        headers = {"Authorization": f"Api-Key {self.key}", "Content-Type": "application/json"}
        ready = threading.Barrier(connections + 1)

        def worker(mine: list[bytes], offset: int) -> None:
            with requests.Session() as session:
                ready.wait()
                position = offset
                while time.monotonic() < outcome.deadline:
                    body = mine[position % len(mine)]
                    position += 1
                    began = time.monotonic()
                    try:
                        response = session.post(url, data=body, headers=headers, timeout=60)
                    except requests.RequestException as error:
                        with outcome.lock:
                            outcome.statuses["socket"] += 1
                            outcome.failed_batches += 1
                            if len(outcome.samples) < 3:
                                outcome.samples.append(repr(error)[:400])
                        continue
                    outcome.add(began, time.monotonic(), response.status_code, response.content)

        offset = self.offsets.get((size, connections), 0)
        threads = [threading.Thread(target=worker, args=(mine, offset), daemon=True) for mine in bodies]
        for thread in threads:
            thread.start()
        outcome.started = time.monotonic()
        outcome.deadline = outcome.started + seconds
        ready.wait()
        for thread in threads:
            thread.join(timeout=seconds + 120)
        self.offsets[(size, connections)] = offset + max(1, outcome.batches // connections)
        return outcome, outcome.credited_events / seconds

    def measure(self, before: float, baseline: Callable[[], float], single: dict[str, Any] | None) -> dict[str, Any]:
        """Every batch row, each segment between two baseline segments; ``single`` is this run's add_event row."""
        out: dict[str, Any] = {}
        c, lc = self.config.connections, self.config.latency_connections
        seconds = max(2 * self.config.segment_seconds, 3 if self.config.quick else 6)
        for size in BATCH_SIZES:
            key = row_key(size)
            if not self.fits(size):
                self.log(f"  {key}: skipped, {len(self.pool)} in-transit parcels are too few for {c} threads")
                continue
            around, segments = [before], []
            for _ in range(self.config.segments):
                segments.append(self.drive(size, c, seconds))
                around.append(baseline())
            latency, _ = self.drive(size, lc, self.config.duration)
            before = around[-1]
            ratios = [
                rate / ((around[i] + around[i + 1]) / 2) if around[i] + around[i + 1] else 0.0
                for i, (_, rate) in enumerate(segments)
            ]
            runs = [outcome for outcome, _ in segments] + [latency]
            statuses: Counter[str] = Counter()
            for outcome in runs:
                statuses.update(outcome.statuses)
            loaded = sorted(t for outcome, _ in segments for t in outcome.latencies)
            baseline_rps = statistics.mean(around)
            entry: dict[str, Any] = {
                "batch_size": size,
                "events_per_s": round(statistics.median(rate for _, rate in segments), 1),
                "events_per_s_segments": [round(rate, 1) for _, rate in segments],
                "ratio": round(statistics.median(ratios), 3),  # events/s over the health baseline's rps
                "ratio_segments": [round(r, 3) for r in ratios],
                "p50_ms": round(percentile(latency.latencies, 50) * 1000, 1),
                "p99_ms": round(percentile(latency.latencies, 99) * 1000, 1),
                "p50_ms_loaded": round(percentile(loaded, 50) * 1000, 1),
                "p99_ms_loaded": round(percentile(loaded, 99) * 1000, 1),
                "batches": sum(o.batches for o in runs),
                "events_applied": sum(o.applied for o in runs),
                "events_rejected": sum(o.rejected for o in runs),
                "failed_batches": sum(o.failed_batches for o in runs),
                "errors": sum(o.failed_batches for o in runs),
                "statuses": dict(statuses),
                "5xx": sum(v for k, v in statuses.items() if k.startswith("5")),
                "segment_s": seconds,
                "baseline_rps": round(baseline_rps, 1),
                "baseline_runs_rps": [round(b, 1) for b in around],
                "baseline_spread_pct": round((max(around) - min(around)) / baseline_rps * 100, 1),
            }
            entry["flagged"] = entry["baseline_spread_pct"] > 10
            if single and single.get("rps"):
                # Single events are one request each: add_event's rps is its events/s, measured in this run.
                entry["single_events_per_s"] = single["rps"]
                entry["vs_single"] = round(entry["events_per_s"] / single["rps"], 1)
                entry["vs_single_by_ratio"] = round(entry["ratio"] / single["ratio"], 1) if single["ratio"] else None
            samples = [s for o in runs for s in o.samples][:3]
            if samples:
                entry["error_samples"] = samples
            out[key] = entry
            self.log(
                f"  {key}: {entry['events_per_s']} events/s (segments {entry['events_per_s_segments']}), "
                f"{entry.get('vs_single')}x single, p50 {entry['p50_ms']} ms, p99 {entry['p99_ms']} ms per batch, "
                f"applied {entry['events_applied']}, rejected {entry['events_rejected']}, "
                f"failed batches {entry['failed_batches']} {entry['statuses']}"
            )
        return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def targets(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The batch targets of issue 15 on one dataset's rows (compared with its add_event row, same run)."""
    out: dict[str, dict[str, Any]] = {}
    big, small = rows.get(row_key(1000)), rows.get(row_key(100))
    if big:
        vs = big.get("vs_single")
        ok = big["events_per_s"] >= 4000 and vs is not None and vs >= 20 and big["failed_batches"] == 0
        out["batch_1000"] = {
            "pass": ok,
            "detail": f"{big['events_per_s']} events/s >= 4000 and {vs}x single >= 20 "
            f"(by ratio to health {big.get('vs_single_by_ratio')}x); failed batches {big['failed_batches']}",
        }
    if small:
        vs = small.get("vs_single")
        out["batch_100"] = {
            "pass": vs is not None and vs >= 10 and small["failed_batches"] == 0,
            "detail": f"{small['events_per_s']} events/s, {vs}x single >= 10 "
            f"(by ratio to health {small.get('vs_single_by_ratio')}x); failed batches {small['failed_batches']}",
        }
    return out


def markdown(rows: dict[str, Any]) -> list[str]:
    """The batch rows of one dataset as a Markdown table (empty when none ran)."""
    present = [rows[key] for key in ROWS if key in rows]
    if not present:
        return []
    lines = [
        "",
        "Batch ingestion (`POST /api/v1/events/batch/`, Api-Key, distinct in-transit parcels per batch; "
        f"{present[0]['segment_s']} s segments between baseline segments; p50/p99 per batch):",
        "",
        "| batch | events/s | x single | x single (by ratio) | ratio | p50 ms | p99 ms | p99 ms loaded | applied "
        "| rejected | failed batches | baseline spread |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in present:
        lines.append(
            f"| {e['batch_size']} | {e['events_per_s']:.0f} | {e.get('vs_single')} | {e.get('vs_single_by_ratio')} | "
            f"{e['ratio']:.3f} | {e['p50_ms']} | {e['p99_ms']} | {e['p99_ms_loaded']} | {e['events_applied']} | "
            f"{e['events_rejected']} | {e['failed_batches']} | {e['baseline_spread_pct']}% |"
        )
    return lines
