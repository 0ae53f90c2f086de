"""Webhook benchmark (``make bench`` runs it after ``bench.py``): what the outbox costs an event, and delivery speed.

1. **Event with 3 subscribed endpoints vs none.** ``POST /parcels/{id}/events/`` as in ``bench.py``'s ``add_event``,
   alternating segments with three active staff endpoints (every event writes three outbox rows in its statement
   and queues their delivery on Redis after commit) and with none, each between two baseline segments; the
   ratio of the two baseline-relative ratios. No worker runs meanwhile: the figure is the request's cost.
2. **Delivery throughput.** Real ``parcel.status_changed`` messages (snapshots of seeded parcels and events) queued
   for one endpoint on a local receiver that answers at once (``receiver.py``, its own process), then delivered
   by 1 or 2 worker processes (``celery worker --pool threads``, as the image runs it): messages per second from
   the first task queued to the last message recorded as succeeded, rounds alternating 1, 2, 1, 2 workers after
   an uncounted warm-up round. Each round also records where the CPU went: the machine's busy share (``/proc/stat``),
   the CPU the workers, the receiver and PostgreSQL + Redis used per message (every process's ``/proc/<pid>/stat``,
   backends that started during the round included), and what no running process accounts for (processes that
   came and went: a new PostgreSQL connection per task showed there), so a round bound by the cores shows as one.

Writes ``bench/results/webhooks.json`` and ``webhooks.md``. Knobs: ``BENCH_WEBHOOK_MESSAGES`` (default 3000 per
round), ``WEBHOOK_WORKER_THREADS`` (threads per worker, default 8 as in the image), and ``bench.py``'s
(``BENCH_QUICK``, ``BENCH_DB``, ``BENCH_REDIS_DB``, ``BENCH_SEGMENTS``).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import BODY_EVENT, PYTHON, ROOT, Bench, Config, env_int, log
from deploy.loopback import free_port

CELERY = ROOT / ".venv" / "bin" / "celery"
DELIVER_TASK = "parcel_service.webhooks.deliver"
ENDPOINTS = 3
WORKER_THREADS = int(os.environ.get("WEBHOOK_WORKER_THREADS", "8"))  # the image's default (docker-entrypoint.sh)
TARGETS = {"event_with_webhooks": 0.85, "messages_per_s_one_worker": 300, "two_workers_speedup": 1.7}


def machine_jiffies() -> tuple[int, int]:
    """The machine's (busy, total) CPU time so far, in clock ticks (``/proc/stat``'s first line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time that was busy between two ``machine_jiffies()``."""
    total = after[1] - before[1]
    return 100 * (after[0] - before[0]) / total if total else 0.0


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every process's command name and user plus system CPU seconds so far (``/proc/<pid>/stat``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            found[int(entry.name)] = (comm, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return found


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], pids: set[int]) -> float:
    """CPU seconds ``pids`` used between two ``cpu_by_process()`` readings (a process started meanwhile from 0)."""
    return sum(cpu - before.get(pid, ("", 0.0))[1] for pid, (_, cpu) in after.items() if pid in pids)


def named(reading: dict[int, tuple[str, float]], *names: str) -> set[int]:
    """The processes of a reading with one of these command names (PostgreSQL's backends, Redis)."""
    return {pid for pid, (comm, _) in reading.items() if comm in names}


class WebhookBench(Bench):
    """``Bench`` with a dataset, a server and wrk as ``bench.py`` sets them up, plus webhook workers."""

    def staff_endpoints(self, count: int, url: str, events: str = '["parcel.status_changed"]') -> list[str]:
        """``count`` endpoints of a staff user (they hear of every parcel), subscribed to ``events`` (JSON)."""
        self.sql(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) VALUES ('!', false, 'bench-webhooks', '', '', '', true, true, now())"
            " ON CONFLICT (username) DO NOTHING RETURNING 1"
        )
        self.sql("DELETE FROM parcel_service_webhookdelivery RETURNING 1")  # no ON DELETE CASCADE in the database
        self.sql("DELETE FROM parcel_service_webhookendpoint RETURNING 1")
        return [
            row[0]
            for row in self.sql(
                "INSERT INTO parcel_service_webhookendpoint (id, owner_id, url, events, description, is_active,"
                " disabled_reason, secret, previous_secret, created_at)"
                " SELECT gen_random_uuid(), u.id, %s, %s, 'bench', true, '',"
                " 'whsec_' || encode(sha224(random()::text::bytea), 'base64'), '', now()"
                " FROM auth_user u CROSS JOIN generate_series(1, %s) WHERE u.username = 'bench-webhooks'"
                " RETURNING id::text",
                (url, events, count),
            )
        ]

    def set_endpoints_active(self, active: bool) -> None:
        self.sql("UPDATE parcel_service_webhookendpoint SET is_active = %s RETURNING 1", (active,))

    # -- 1. the event path -------------------------------------------------------------------------------

    def event_cost(self) -> dict[str, Any]:
        """Events without and with three subscribed endpoints, alternating, each between baselines."""
        carrier = self.token("bench-carrier")
        inputs = self.prepare_inputs()
        self.staff_endpoints(ENDPOINTS, "https://hooks.example.com/bench")
        spec = {"script": "post.lua", "path": "/api/v1/parcels/{item}/events/"}
        kwargs = {"token": carrier, "items": inputs["in_transit"], "body": BODY_EVENT}
        c, seconds = self.config.connections, self.config.segment_seconds
        rows_before = self.sql("SELECT count(*) FROM parcel_service_webhookdelivery")[0][0]
        around = [self.wrk("webhooks-baseline-0", "get.lua", "/api/v1/health/", connections=c, seconds=seconds)["rps"]]
        runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
        ratios: dict[str, list[float]] = {"without": [], "with": []}
        for index in range(self.config.segments):
            for mode in ("without", "with"):
                self.set_endpoints_active(mode == "with")
                run = self.measure(
                    "webhooks", f"add_event_{mode}", spec, kwargs, connections=c, seconds=seconds, index=index
                )
                after = self.wrk(
                    f"webhooks-baseline-{len(around)}", "get.lua", "/api/v1/health/", connections=c, seconds=seconds
                )
                runs[mode].append(run)
                ratios[mode].append(run["rps"] / ((around[-1] + after["rps"]) / 2))
                around.append(after["rps"])
        self.set_endpoints_active(False)
        rows = self.sql("SELECT count(*) FROM parcel_service_webhookdelivery")[0][0] - rows_before
        created_with = sum(r["statuses"].get("201", 0) for r in runs["with"])
        result = {}
        for mode in ("without", "with"):
            errors = sum(r["errors_status"] + r["socket_errors"] for r in runs[mode])
            result[f"add_event_{mode}_webhooks"] = {
                "rps": round(statistics.median(r["rps"] for r in runs[mode]), 1),
                "ratio": round(statistics.median(ratios[mode]), 3),
                "ratio_segments": [round(x, 3) for x in ratios[mode]],
                "p50_ms": round(statistics.median(r["p50_us"] for r in runs[mode]) / 1000, 2),
                "p99_ms": round(statistics.median(r["p99_us"] for r in runs[mode]) / 1000, 2),
                "errors": errors,
            }
        result["with_over_without"] = round(
            result["add_event_with_webhooks"]["ratio"] / result["add_event_without_webhooks"]["ratio"], 3
        )
        # Every accepted event with the endpoints active wrote one message per endpoint, in its own statement.
        result["outbox_rows_written"] = rows
        result["outbox_rows_expected"] = created_with * ENDPOINTS
        result["baseline_rps"] = [round(b, 1) for b in around]
        log(f"  event with {ENDPOINTS} endpoints / without: {result['with_over_without']} ({rows} outbox rows)")
        return result

    # -- 2. delivery throughput -------------------------------------------------------------------------

    def queue_messages(self, endpoint_id: str, count: int) -> list[str]:
        """``count`` status-change messages, snapshots of seeded parcels and their last event, due in a day."""
        return [
            row[0]
            for row in self.sql(
                "INSERT INTO parcel_service_webhookdelivery (id, endpoint_id, event_type, parcel_id, snapshot, status,"
                " attempts, next_attempt_at, last_error, created_at)"
                " SELECT gen_random_uuid(), %s, 'parcel.status_changed', p.id,"
                " jsonb_build_object('parcel', to_jsonb(p), 'event', to_jsonb(e)), 'pending', 0,"
                " now() + interval '1 day', '', now()"
                " FROM (SELECT * FROM parcel_service_parcel WHERE reference LIKE 'seed-%%' LIMIT %s) AS p"
                " CROSS JOIN LATERAL (SELECT * FROM parcel_service_trackingevent AS t WHERE t.parcel_id = p.id"
                " ORDER BY t.sequence DESC LIMIT 1) AS e"
                " RETURNING id::text",
                (endpoint_id, count),
            )
        ]

    def start_workers(self, count: int, *, beat: bool = False) -> list[subprocess.Popen[bytes]]:
        """``count`` worker processes as the image runs them (the first with beat embedded if ``beat``), each ready
        (consuming) before this returns."""
        workers = []
        for index in range(count):
            env = self.prod_env()
            heartbeat = self.tmp / f"worker-{index}-heartbeat"
            env.update(
                WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
                CELERY_HEARTBEAT_FILE=str(heartbeat),
            )
            log_file = (self.tmp / f"worker-{index}.log").open("ab")
            cmd = [
                str(CELERY),
                "-A",
                "core_project",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(WORKER_THREADS),
            ]
            cmd += ["--without-mingle", "--without-gossip", "--loglevel", "INFO", "-n", f"bench{index}@%h"]
            if beat and index == 0:
                cmd += ["-B", "--schedule", str(self.tmp / "beat-schedule")]
            workers.append(
                subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            deadline = time.monotonic() + 60
            while not Path(f"{heartbeat}.ready").exists():
                if time.monotonic() > deadline or workers[-1].poll() is not None:
                    raise RuntimeError(f"webhook worker {index} did not become ready")
                time.sleep(0.1)
        return workers

    @staticmethod
    def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
        for process in processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)  # a worker and whatever it started
                except ProcessLookupError:  # not a group leader (the receiver): the process alone
                    process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def delivery_round(self, endpoint_id: str, workers: int, count: int, receiver: int) -> dict[str, Any]:
        """Queue ``count`` messages, start ``workers`` processes, time until every message is recorded delivered.

        ``receiver`` is the receiver's pid, whose CPU is accounted beside the workers'.
        """
        from celery import Celery  # type: ignore[import-untyped]  # the project's dependency; only here

        # One connection polls, on the partial index of pending rows and without parallel workers: a new
        # connection per poll (and a parallel scan of a table just rewritten) forked 30-50 PostgreSQL processes
        # a second, whose CPU the round paid for and no process reading accounted.
        poll = psycopg2.connect(self.config.database_url, connect_timeout=5)
        poll.autocommit = True
        with poll.cursor() as cursor:
            cursor.execute("DELETE FROM parcel_service_webhookdelivery")
            cursor.execute("VACUUM ANALYZE parcel_service_webhookdelivery")  # no dead rows of the last round
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        processes: list[subprocess.Popen[bytes]] = []
        app = Celery(broker=self.config.redis_url)
        try:
            ids = self.queue_messages(endpoint_id, count)
            processes = self.start_workers(workers)
            pids = {process.pid for process in processes}
            with poll.cursor() as cursor:
                machine_before, cpu_before = machine_jiffies(), cpu_by_process()
                started = time.monotonic()
                for start in range(0, len(ids), 20):  # as the dispatcher queues them: 20 messages a task
                    app.send_task(DELIVER_TASK, args=[[[message_id, 0] for message_id in ids[start : start + 20]]])
                deadline = started + 600
                while time.monotonic() < deadline:
                    cursor.execute("SELECT count(*) FROM parcel_service_webhookdelivery WHERE status = 'pending'")
                    if cursor.fetchone()[0] == 0:
                        break
                    time.sleep(0.05)
                elapsed = time.monotonic() - started
                machine_after, cpu_after = machine_jiffies(), cpu_by_process()
        finally:
            poll.close()
            app.close()
            self.stop_processes(processes)
        succeeded = self.sql("SELECT count(*) FROM parcel_service_webhookdelivery WHERE status = 'succeeded'")[0][0]
        per_message = max(succeeded, 1) / 1000  # CPU seconds to milliseconds per message
        machine_cpu = (machine_after[0] - machine_before[0]) / os.sysconf("SC_CLK_TCK")
        accounted = cpu_used(cpu_before, cpu_after, set(cpu_after))
        result = {
            "workers": workers,
            "messages": len(ids),
            "succeeded": succeeded,
            "seconds": round(elapsed, 2),
            "messages_per_s": round(succeeded / elapsed, 1),
            "machine_busy_pct": round(busy_pct(machine_before, machine_after), 1),
            "worker_cpu_ms_per_message": round(cpu_used(cpu_before, cpu_after, pids) / per_message, 3),
            "receiver_cpu_ms_per_message": round(cpu_used(cpu_before, cpu_after, {receiver}) / per_message, 3),
            "postgres_redis_cpu_ms_per_message": round(
                cpu_used(cpu_before, cpu_after, named(cpu_after, "postgres", "redis-server")) / per_message, 3
            ),
            # Busy time no running process accounts for: the kernel's interrupts, processes that came and went.
            "unaccounted_cpu_ms_per_message": round(max(machine_cpu - accounted, 0.0) / per_message, 3),
        }
        log(
            f"  {workers} worker(s): {result['messages_per_s']} messages/s ({succeeded}/{len(ids)} in {elapsed:.1f} s;"
            f" machine busy {result['machine_busy_pct']}%, CPU per message: workers"
            f" {result['worker_cpu_ms_per_message']} ms, receiver {result['receiver_cpu_ms_per_message']} ms,"
            f" PostgreSQL and Redis {result['postgres_redis_cpu_ms_per_message']} ms, unaccounted"
            f" {result['unaccounted_cpu_ms_per_message']} ms)"
        )
        return result

    def throughput(self) -> dict[str, Any]:
        """Rounds of 1, 2, 1, 2 workers delivering to a receiver that answers at once; medians per worker count."""
        port = free_port()
        receiver = subprocess.Popen([str(PYTHON), str(Path(__file__).with_name("receiver.py")), str(port)])
        try:
            time.sleep(0.5)
            (endpoint_id,) = self.staff_endpoints(1, f"http://127.0.0.1:{port}/hooks")
            count = env_int("BENCH_WEBHOOK_MESSAGES", 600 if self.config.quick else 3000)
            # The event part queued a delivery task per event on the broker with no worker running; the first
            # worker would spend its round on those (their messages are gone: ~12 ms of CPU per task).
            self.redis().delete("celery")
            # Not counted: the first round warms PostgreSQL's view of a freshly rewritten table.
            warm_up = self.delivery_round(endpoint_id, 1, count // 3, receiver.pid)
            rounds = [self.delivery_round(endpoint_id, workers, count, receiver.pid) for workers in (1, 2, 1, 2)]
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
        one = statistics.median(r["messages_per_s"] for r in rounds if r["workers"] == 1)
        two = statistics.median(r["messages_per_s"] for r in rounds if r["workers"] == 2)
        return {
            "warm_up": warm_up,
            "rounds": rounds,
            "one_worker_messages_per_s": round(one, 1),
            "two_workers_messages_per_s": round(two, 1),
            "two_workers_speedup": round(two / one, 2) if one else None,
            "threads_per_worker": WORKER_THREADS,
        }

    # -- report -----------------------------------------------------------------------------------------

    def report(self, results: dict[str, Any]) -> str:
        event, delivery = results["event"], results["delivery"]
        ok = {
            "event_with_webhooks": event["with_over_without"] >= TARGETS["event_with_webhooks"],
            "messages_per_s_one_worker": delivery["one_worker_messages_per_s"] >= TARGETS["messages_per_s_one_worker"],
            "two_workers_speedup": (delivery["two_workers_speedup"] or 0) >= TARGETS["two_workers_speedup"],
        }
        results["targets"] = {key: "PASS" if passed else "FAIL" for key, passed in ok.items()}
        machine = results["machine"]
        lines = [
            "# Webhook benchmark",
            "",
            f"{machine['cpu_model']}, {machine['cores']} cores; {results['when']}; commit {machine['git_commit']}; "
            f"dataset {results['dataset']}, Gunicorn {self.config.workers} sync workers, wrk {self.config.connections} "
            f"connections, {self.config.segments} segments of {self.config.segment_seconds} s per mode.",
            "",
            "## Recording an event: 3 subscribed endpoints vs none",
            "",
            "| mode | rps | ratio to health | segment ratios | p50 ms | p99 ms | errors |",
            "|---|---:|---:|---|---:|---:|---:|",
        ]
        for mode in ("without", "with"):
            row = event[f"add_event_{mode}_webhooks"]
            lines.append(
                f"| {mode} | {row['rps']} | {row['ratio']} | {row['ratio_segments']} | {row['p50_ms']} | "
                f"{row['p99_ms']} | {row['errors']} |"
            )
        lines += [
            "",
            f"With / without: **{event['with_over_without']}** (target ≥ {TARGETS['event_with_webhooks']}); "
            f"outbox rows written {event['outbox_rows_written']}, expected {event['outbox_rows_expected']} "
            "(3 per accepted event).",
            "",
            "## Delivery: messages per second to a receiver that answers at once",
            "",
            "| round | workers | messages | succeeded | seconds | messages/s | machine busy | CPU ms per message:"
            " workers | receiver | PostgreSQL + Redis | unaccounted |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        rounds = [("warm-up (not counted)", delivery["warm_up"]), *enumerate(delivery["rounds"], start=1)]
        for index, row in rounds:
            lines.append(
                f"| {index} | {row['workers']} | {row['messages']} | {row['succeeded']} | {row['seconds']} | "
                f"{row['messages_per_s']} | {row['machine_busy_pct']}% | {row['worker_cpu_ms_per_message']} | "
                f"{row['receiver_cpu_ms_per_message']} | {row['postgres_redis_cpu_ms_per_message']} | "
                f"{row['unaccounted_cpu_ms_per_message']} |"
            )
        lines += [
            "",
            f"One worker ({delivery['threads_per_worker']} threads): "
            f"**{delivery['one_worker_messages_per_s']}** messages/s "
            f"(target ≥ {TARGETS['messages_per_s_one_worker']}); "
            f"two: {delivery['two_workers_messages_per_s']}, "
            f"**{delivery['two_workers_speedup']}x** (target ≥ {TARGETS['two_workers_speedup']}x).",
            "",
            "| target | result |",
            "|---|---|",
            *(f"| {key} | {value} |" for key, value in results["targets"].items()),
            "",
        ]
        return "\n".join(lines)

    def run(self) -> int:
        """Seed the smallest dataset, measure both parts, write the results; always stop what it started."""
        self.config.dataset = "10k"
        try:
            self.prepare_database()
            self.seed("10k")
            self.reset_bench_writes()
            self.flush_cache()
            self.start_ours("ours", tracing=False)
            results: dict[str, Any] = {
                "machine": self.results["machine"],
                "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "dataset": "10k",
                "event": self.event_cost(),
            }
            self.stop_servers()
            results["delivery"] = self.throughput()
            table = self.report(results)
            self.config.results.mkdir(parents=True, exist_ok=True)
            (self.config.results / "webhooks.json").write_text(json.dumps(results, indent=2) + "\n")
            (self.config.results / "webhooks.md").write_text(table)
            print(table)
            return 0
        finally:
            self.stop_servers()


if __name__ == "__main__":
    sys.exit(WebhookBench(Config()).run())
