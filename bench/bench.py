"""Reproducible HTTP benchmark of the Parcel Service (``make bench`` -> ``bash bench/run.sh`` -> this file).

Seeds a dedicated PostgreSQL database with ``manage.py seed_parcels``, serves it with Gunicorn exactly as
production does (prod settings, sync workers, Redis cache), drives it with wrk (Lua scripts in
``bench/lua``) and measures every endpoint *relative to* ``GET /api/v1/health/`` measured right before and
right after it, so the numbers compare across machines and noisy neighbours. Writes
``bench/results/latest.json`` and ``bench/results/latest.md``. See ``bench/README.md``.

Only the standard library, ``requests`` and the project's own dependencies (psycopg2, redis) are used.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import psycopg2
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: the repository root holds deploy.loopback, shared with the tests.
sys.path.insert(0, str(ROOT))
import batch  # noqa: E402  (bench/batch.py: this script's directory is on sys.path)

from deploy.loopback import free_port  # noqa: E402

BENCH = ROOT / "bench"
LUA = BENCH / "lua"
RESULTS = BENCH / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PASSWORD = "bench-only-password-7c1f"  # set on bench-shipper / bench-carrier of the bench database only
BODY_CREATE = {
    "reference": "bench-create",
    "sender": {
        "name": "Bench Shipping BV",
        "street": "Damrak 1",
        "city": "Amsterdam",
        "postal_code": "1012 LG",
        "country": "NL",
    },
    "recipient": {
        "name": "Grace Hopper",
        "street": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
        "email": "grace@example.com",
    },
    "weight_grams": 1200,
    "dimensions_mm": {"length": 300, "width": 200, "height": 100},
}
BODY_EVENT = {"status": "in_transit", "location": "Bench hub", "description": "Scan"}


def env_int(name: str, default: int) -> int:
    """Integer environment variable with a default."""
    return int(os.environ.get(name) or default)


@dataclass
class Config:
    """Knobs, all from the environment (see bench/README.md)."""

    quick: bool = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    # Our server traced (sampler 0.1, spans exported to the bench's OTLP sink), compared with an untraced twin.
    tracing: bool = os.environ.get("BENCH_TRACING", "1") not in ("", "0", "false")
    duration: int = 0
    # Production's default (gunicorn.conf.py: 2 x CPUs + 1, at most 8): 5 on 2 cores. Measured against 3 on
    # this 2-core machine: the same read ratios within noise, add_event about 15% higher (a worker waiting on
    # PostgreSQL leaves its CPU to another), the one-parcel contention variant lower (more lock waiters).
    workers: int = env_int("BENCH_WORKERS", min(2 * len(os.sched_getaffinity(0)) + 1, 8))
    threads: int = env_int("BENCH_THREADS", 2)
    connections: int = env_int("BENCH_CONNECTIONS", 8)
    latency_connections: int = env_int("BENCH_LATENCY_CONNECTIONS", 2)
    datasets: list[str] = field(
        default_factory=lambda: [d.strip() for d in os.environ.get("BENCH_DATASETS", "10k,1m").split(",") if d.strip()]
    )
    pg_url: str = os.environ.get("BENCH_PG_URL", "postgres://postgres:bench@127.0.0.1:5432")
    db_name: str = os.environ.get("BENCH_DB", "parcel_bench")
    redis_db: int = env_int("BENCH_REDIS_DB", 13)
    redis_host: str = os.environ.get("BENCH_REDIS_HOST", "127.0.0.1:6379")
    deep_pages: int = env_int("BENCH_DEEP_PAGES", 1000)
    # Measure only these endpoints (comma-separated keys; empty: all). Targets then are not evaluated.
    only: list[str] = field(
        default_factory=lambda: [e.strip() for e in os.environ.get("BENCH_ONLY", "").split(",") if e.strip()]
    )
    segments: int = 0
    segment_seconds: int = 0
    dataset: str = ""  # the dataset being measured: each has a database of its own
    results: Path = Path(os.environ.get("BENCH_RESULTS", str(RESULTS)))
    results_name: str = os.environ.get("BENCH_RESULTS_NAME", "latest")  # <name>.json and <name>.md

    def __post_init__(self) -> None:
        self.duration = env_int("BENCH_DURATION", 3 if self.quick else 10)
        self.segments = env_int("BENCH_SEGMENTS", 2 if self.quick else 5)
        self.segment_seconds = env_int("BENCH_SEGMENT_SECONDS", 1 if self.quick else 2)

    @property
    def database(self) -> str:
        """Name of the current dataset's database: one per dataset, so each holds exactly its parcels."""
        return f"{self.db_name}_{self.dataset}"

    @property
    def database_url(self) -> str:
        """URL of the current dataset's dedicated bench database."""
        return f"{self.pg_url.rstrip('/')}/{self.database}"

    @property
    def redis_url(self) -> str:
        """URL of the dedicated bench Redis database."""
        return f"redis://{self.redis_host}/{self.redis_db}"


DATASETS = {
    "10k": {"parcels": 10_000, "owners": 100, "shipper_share": 1_000},
    "1m": {"parcels": 1_000_000, "owners": 100, "shipper_share": 100_000},
}
EVENTS_PER_PARCEL = 3
# Issue 13: ours over the reference server's health (the reference is bench/reference).
REFERENCE_TARGETS = {"health": 1.0, "tracking_warm": 0.8, "detail": 0.6, "customer_list": 0.25}
READ_ENDPOINTS = (
    "tracking_warm",
    "tracking_cold",
    "customer_list",
    "carrier_list_first",
    "carrier_list_deep",
    "detail",
    "detail_api_key",
    "label_warm",
    "label_cold",
)
WRITE_ENDPOINTS = ("create", "add_event", "add_event_one_parcel")
ENDPOINTS = READ_ENDPOINTS + WRITE_ENDPOINTS


@dataclass
class Server:
    """A Gunicorn the bench started: its master process, port and log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    handle: BinaryIO


class OtlpSink:
    """A local OTLP/HTTP receiver that answers 200 to every export and counts what it received.

    Stands in for an OpenTelemetry collector, so the traced server exports for real (serialisation, HTTP
    request, batch thread) without a collector's CPU on the measured cores beyond reading the bytes.
    """

    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                sink.exports += 1
                sink.bytes += length
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="otlp-sink", daemon=True).start()

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()


def write_specs(inputs: dict[str, Any], shipper: str, carrier: str) -> dict[str, dict[str, Any]]:
    """The write endpoints' wrk specs: create, an event on random in-transit parcels, events on one parcel."""
    return {
        "create": {"script": "post.lua", "path": "/api/v1/parcels/", "token": shipper, "body": BODY_CREATE},
        "add_event": {
            "script": "post.lua",
            "path": "/api/v1/parcels/{item}/events/",
            "token": carrier,
            "items": inputs["in_transit"],
            "body": BODY_EVENT,
        },
        "add_event_one_parcel": {
            "script": "post.lua",
            "path": f"/api/v1/parcels/{inputs['contention']}/events/",
            "token": carrier,
            "body": BODY_EVENT,
        },
    }


def log(message: str) -> None:
    """Progress line on stderr (stdout carries the final table)."""
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, Python, OS and the date of the run."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10, cwd=ROOT)
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": None,
        "wrk": wrk_version[0] if wrk_version else "unknown",
        "git_commit": git.stdout.strip() + ("-dirty" if dirty.stdout.strip() else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Bench:
    """One benchmark run: database, server, load generator, report."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tmp = Path(tempfile.mkdtemp(prefix="parcel-bench-"))
        self.servers: dict[str, Server] = {}
        self.sink = OtlpSink()
        # One key for every server of the run: a token one of our servers issued is valid on the others (the
        # untraced twin answered every authenticated request with a 401 while each server had its own key).
        self.secret_key = secrets.token_urlsafe(48)
        # Per dataset: the endpoints (datasets), the reference server beside ours (reference), tracing on vs off
        # (tracing) and the sizes docs/capacity.md is computed from (storage). Details of the run (knobs, seeding
        # time, baselines, RSS per dataset) live under machine.run.
        self.results: dict[str, Any] = {
            "machine": machine_info(),
            "datasets": {},
            "reference": {},
            "tracing": {},
            "storage": {},
            "rss_mib_max": None,
            "targets": {},
        }
        self.run_info: dict[str, Any] = {"config": {}, "seed_seconds": {}, "baselines": {}, "rss_mib": {}}
        self.results["machine"]["run"] = self.run_info

    # -- environment --------------------------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        """Environment without anything from the caller's DJANGO_/DATABASE_/REDIS_ settings."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
        return {k: v for k, v in os.environ.items() if k in keep}

    def prod_env(self) -> dict[str, str]:
        """Production settings pointed at the bench database and Redis, with throttling out of the way."""
        env = self.base_env()
        env.update(
            DJANGO_SETTINGS_MODULE="core_project.settings.prod",
            SECRET_KEY=self.secret_key,
            DATABASE_URL=self.config.database_url,
            REDIS_URL=self.config.redis_url,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            THROTTLE_ANON="1000000/min",
            THROTTLE_USER="1000000/min",
            THROTTLE_AUTH="1000000/min",
            THROTTLE_API_KEY="1000000/min",
            JWT_ACCESS_LIFETIME_S="86400",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def manage(self, *args: str, env: dict[str, str], timeout: int = 900) -> str:
        """Run ``manage.py`` and return its output; raise with the output on failure."""
        proc = subprocess.run(
            [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one query on the bench database and return its rows."""
        with psycopg2.connect(self.config.database_url, connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SET statement_timeout = 120000")
            cur.execute(query, params)
            rows = cur.fetchall() if cur.description else []
        conn.close()
        return rows

    def redis(self) -> redis.Redis:
        """Client of the bench Redis database."""
        return redis.Redis.from_url(self.config.redis_url, socket_timeout=5, socket_connect_timeout=5)

    # -- database -----------------------------------------------------------------------------------------

    def prepare_database(self) -> None:
        """Create the current dataset's database if missing, migrate it with prod settings, collect static files."""
        admin_url = f"{self.config.pg_url.rstrip('/')}/postgres"
        conn = psycopg2.connect(admin_url, connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.config.database,))
            if cur.fetchone() is None:
                log(f"creating database {self.config.database}")
                cur.execute(f'CREATE DATABASE "{self.config.database}"')
            cur.execute("SHOW server_version")
            self.results["machine"]["postgres"] = cur.fetchone()[0]
        conn.close()
        env = self.prod_env()
        log("migrate (prod settings)")
        self.manage("migrate", "--noinput", env=env)
        log("collectstatic (prod settings)")
        self.manage("collectstatic", "--noinput", "-v", "0", env=env)

    def seed(self, name: str) -> float:
        """Seed (top up) the dataset with ``seed_parcels`` and return the seconds it took."""
        spec = DATASETS[name]
        env = self.base_env()
        # Development settings: seed_parcels refuses production settings (no --force needed for the bench).
        env.update(
            DJANGO_SETTINGS_MODULE="core_project.settings.dev",
            DATABASE_URL=self.config.database_url,
            LOG_LEVEL="WARNING",
        )
        args = [
            "seed_parcels",
            f"--parcels={spec['parcels']}",
            f"--events-per-parcel={EVENTS_PER_PARCEL}",
            f"--owners={spec['owners']}",
            f"--shipper-share={spec['shipper_share']}",
            f"--password={PASSWORD}",
        ]
        log(f"seeding {name}: {' '.join(args)}")
        started = time.monotonic()
        out = self.manage(*args, env=env, timeout=1800)
        seconds = round(time.monotonic() - started, 1)
        log(f"seeded {name} in {seconds}s: {out.strip().splitlines()[-1] if out.strip() else ''}")
        return seconds

    def reset_bench_writes(self) -> None:
        """Delete what previous bench runs wrote, so every run starts from the seeded data.

        That is the parcels they created and the events they added to seeded parcels (all with the bench's
        own event location). Without the latter, the contention parcel's timeline grew by thousands of
        events per run, and every event on it costs a read of its whole timeline for the cache refresh:
        runs stopped being comparable. The same goes for what a soak (``make soak``) wrote: its parcels and
        events carry ``soak-`` tags.
        """
        self.sql(
            "DELETE FROM parcel_service_trackingevent WHERE parcel_id IN "
            "(SELECT id FROM parcel_service_parcel WHERE reference = 'bench-create')"
        )
        self.sql("DELETE FROM parcel_service_parcel WHERE reference = 'bench-create' RETURNING 1")
        self.sql("DELETE FROM parcel_service_trackingevent WHERE location = %s RETURNING 1", (BODY_EVENT["location"],))
        # And what a soak on this database wrote (its creates and events are tagged with the run).
        self.sql(
            "DELETE FROM parcel_service_trackingevent WHERE location LIKE 'soak-%%' OR parcel_id IN "
            "(SELECT id FROM parcel_service_parcel WHERE reference LIKE 'soak-%%')"
        )
        self.sql("DELETE FROM parcel_service_parcel WHERE reference LIKE 'soak-%%' RETURNING 1")
        self.sql("DELETE FROM parcel_service_apikey WHERE name = %s RETURNING 1", (batch.KEY_NAME,))

    # -- servers ------------------------------------------------------------------------------------------

    def start_servers(self) -> None:
        """Start our server (as production runs it), its untraced twin and the reference server; wait for all."""
        self.stop_servers()
        # Ours with metrics, the JSON access line and tracing on (exporting to the bench's sink): the issue's
        # targets are for the service with all its observability on, as production runs it.
        self.start_ours("ours", tracing=self.config.tracing)
        if self.config.tracing:
            # The same service without an OTLP endpoint (nothing instrumented): the other side of "tracing on
            # vs off". Idle while the other servers are measured: a waiting sync worker costs no CPU.
            self.start_ours("untraced", tracing=False)
        self.start_reference()

    def start_ours(self, name: str, *, tracing: bool, root: Path = ROOT) -> None:
        """Start the service's Gunicorn as production runs it (from ``root``: another commit's checkout and venv)."""
        port = free_port()
        env = self.prod_env()
        metrics_dir = self.tmp / f"prometheus-{port}"
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        if tracing:
            env.update(
                OTEL_EXPORTER_OTLP_ENDPOINT=self.sink.url,
                OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                OTEL_TRACES_SAMPLER_ARG="0.1",
                OTEL_EXPORTER_OTLP_TIMEOUT="2",
            )
        cmd = [str(root / ".venv" / "bin" / "gunicorn"), "core_project.wsgi:application"]
        if (root / "gunicorn.conf.py").exists():
            env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
            env["WEB_CONCURRENCY"] = str(self.config.workers)
            env["GUNICORN_WORKERS"] = str(self.config.workers)
            cmd += ["--config", "gunicorn.conf.py"]
        # Explicit flags win over the config file; the access log stays off (the app writes its own line).
        # The worker class is the config file's (production's sync worker with problem+json edge errors);
        # without one, Gunicorn's default is the sync worker too.
        cmd += ["--workers", str(self.config.workers), "--bind", f"127.0.0.1:{port}"]
        cmd += ["--log-level", "warning", "--timeout", "30"]
        self.start_gunicorn(name, cmd, env, cwd=root, port=port)

    def start_reference(self) -> None:
        """Start the reference server (bench/reference): a textbook Django + DRF project, the same workers."""
        port = free_port()
        env = self.base_env()
        env.update(SECRET_KEY=secrets.token_urlsafe(48), PYTHONDONTWRITEBYTECODE="1")
        # Run from bench/reference, where no gunicorn.conf.py is picked up: Gunicorn's defaults, but the same
        # number of workers, worker class (on a 2xx it is Gunicorn's sync worker), timeout and heartbeat directory.
        cmd = [str(GUNICORN), "reference_project.wsgi:application", "--pythonpath", str(ROOT)]
        cmd += ["--worker-class", "core_project.gunicorn_worker.ProblemSyncWorker"]
        cmd += ["--workers", str(self.config.workers), "--bind", f"127.0.0.1:{port}"]
        cmd += ["--log-level", "warning", "--timeout", "30"]
        if Path("/dev/shm").is_dir():
            cmd += ["--worker-tmp-dir", "/dev/shm"]
        self.start_gunicorn("reference", cmd, env, cwd=BENCH / "reference", port=port)

    def start_gunicorn(self, name: str, cmd: list[str], env: dict[str, str], *, cwd: Path, port: int) -> None:
        """Start one Gunicorn and wait until it answers the liveness probe with all its workers."""
        log(f"starting {name} gunicorn on 127.0.0.1:{port} with {self.config.workers} sync workers")
        path = self.tmp / f"gunicorn-{name}.log"
        handle = path.open("ab")
        process = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = Server(name, process, port, path, handle)
        self.servers[name] = server
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} gunicorn exited with {process.returncode}:\n{self.tail_log(name)}")
            try:
                answered = requests.get(self.url("/api/v1/health/", name), timeout=2).status_code == 200
                if answered and len(self.worker_pids(name)) >= self.config.workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} gunicorn did not become ready in 60s:\n{self.tail_log(name)}")

    def stop_servers(self, *names: str) -> None:
        """Stop the named Gunicorns, or all (TERM, then KILL after 15 s)."""
        for name in names or list(self.servers):
            server = self.servers.pop(name, None)
            if server is None or server.process.poll() is not None:
                continue
            try:
                os.killpg(server.process.pid, signal.SIGTERM)
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(timeout=5)
            except ProcessLookupError:
                pass
            server.handle.close()

    def tail_log(self, name: str = "ours", lines: int = 40) -> str:
        """Last lines of a server's log."""
        path = self.tmp / f"gunicorn-{name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def worker_pids(self, name: str = "ours") -> list[int]:
        """Pids of a Gunicorn's workers (children of its master)."""
        server = self.servers.get(name)
        if server is None:
            return []
        pids = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            match = re.search(r"^PPid:\s+(\d+)", text, re.MULTILINE)
            if match and int(match.group(1)) == server.process.pid:
                pids.append(int(status.parent.name))
        return pids

    def worker_rss_mib(self) -> dict[str, float]:
        """Peak (VmHWM) and current (VmRSS) resident memory of our largest worker, in MiB."""
        peak, current = 0.0, 0.0
        for pid in self.worker_pids():
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            hwm = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
            rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            peak = max(peak, int(hwm.group(1)) / 1024 if hwm else 0)
            current = max(current, int(rss.group(1)) / 1024 if rss else 0)
        return {"peak": round(peak, 1), "current": round(current, 1)}

    def url(self, path: str, server: str = "ours") -> str:
        """Absolute URL on one of the bench's servers."""
        return f"http://127.0.0.1:{self.servers[server].port}{path}"

    # -- load ---------------------------------------------------------------------------------------------

    def wrk(
        self,
        name: str,
        script: str,
        path: str,
        *,
        connections: int,
        token: str = "",
        scheme: str = "Bearer",
        items: Path | None = None,
        body: dict[str, Any] | None = None,
        order: str = "sequential",
        seconds: int | None = None,
        server: str = "ours",
    ) -> dict[str, Any]:
        """Run wrk once against one server; return its summary plus the status codes our service logged meanwhile."""
        env = self.base_env()
        env.update(
            BENCH_LUA_DIR=str(LUA),
            BENCH_PATH=path,
            BENCH_TOKEN=token,
            BENCH_AUTH_SCHEME=scheme,
            BENCH_ORDER=order,
            BENCH_NAME=name,
            BENCH_THREADS=str(self.config.threads),
        )
        if items is not None:
            env["BENCH_ITEMS"] = str(items)
        if body is not None:
            body_file = self.tmp / f"body-{name}.json"
            body_file.write_text(json.dumps(body))
            env["BENCH_BODY"] = str(body_file)
        threads = min(self.config.threads, connections)
        cmd = [
            "wrk",
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={seconds or self.config.duration}s",
            "--timeout=5s",
            "--latency",
            f"--script={LUA / script}",
            self.url("", server),
        ]
        log_file = self.servers[server].log
        offset = log_file.stat().st_size
        limit = (seconds or self.config.duration) + 60
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed for {name}:\n{proc.stdout}\n{proc.stderr}")
        summary = json.loads(line[len("BENCH_JSON ") :])
        seconds = summary["duration_us"] / 1e6
        summary["rps"] = summary["requests"] / seconds if seconds else 0.0
        summary["socket_errors"] = sum(summary[f"errors_{k}"] for k in ("connect", "read", "write", "timeout"))
        summary["statuses"], summary["error_samples"] = self.logged_statuses(log_file, offset)
        return summary

    def logged_statuses(self, log_file: Path, offset: int) -> tuple[dict[str, int], list[str]]:
        """Count the statuses of the service's access lines written since ``offset``; sample error lines."""
        time.sleep(0.2)
        statuses: Counter[str] = Counter()
        samples: list[str] = []
        with log_file.open("rb") as handle:
            handle.seek(offset)
            for raw in handle:
                text = raw.decode(errors="replace").strip()
                try:
                    record = json.loads(text)
                except ValueError:
                    if text and len(samples) < 5:
                        samples.append(text[:400])
                    continue
                if record.get("logger") == "parcel_service.access":
                    statuses[str(record.get("status"))] += 1
                elif record.get("level") in ("ERROR", "CRITICAL", "WARNING") and len(samples) < 5:
                    samples.append(text[:600])
        return dict(statuses), samples

    # -- datasets -----------------------------------------------------------------------------------------

    def token(self, username: str) -> str:
        """Access token for a seeded user."""
        response = requests.post(
            self.url("/api/v1/auth/token/"), json={"username": username, "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        return response.json()["access"]

    def write_items(self, name: str, items: list[str]) -> Path:
        """Write one item per line to a temp file for the Lua scripts."""
        path = self.tmp / f"{name}.txt"
        path.write_text("\n".join(items) + "\n")
        return path

    def prepare_inputs(self) -> dict[str, Any]:
        """Pick tracking numbers, parcel ids and the deep cursor for the endpoint runs."""
        untouched = f"reference LIKE 'seed-%%' AND version = {1 + EVENTS_PER_PARCEL}"
        contention = self.sql(
            "SELECT id::text FROM parcel_service_parcel WHERE reference LIKE 'seed-%%' AND status = 'in_transit' "
            "ORDER BY reference LIMIT 1"
        )[0][0]
        warm = [
            r[0] for r in self.sql(f"SELECT tracking_number FROM parcel_service_parcel WHERE {untouched} LIMIT 200")
        ]
        cold = [
            r[0]
            for r in self.sql(
                f"SELECT tracking_number FROM parcel_service_parcel WHERE {untouched} "
                "ORDER BY md5(tracking_number) LIMIT 200000"
            )
        ]
        warm_set = set(warm)
        cold = [n for n in cold if n not in warm_set]
        random.Random(7).shuffle(cold)
        shipper_ids = [
            r[0]
            for r in self.sql(
                "SELECT p.id::text FROM parcel_service_parcel p JOIN auth_user u ON u.id = p.owner_id "
                # The same number of parcels in both datasets (the shipper owns exactly 1,000 at 10k), read warm:
                # otherwise the 1m run would mostly measure cache misses, which tracking_cold already does.
                f"WHERE u.username = 'bench-shipper' AND p.{untouched} ORDER BY md5(p.id::text) LIMIT 1000"
            )
        ]
        in_transit = [
            r[0]
            for r in self.sql(
                "SELECT id::text FROM parcel_service_parcel WHERE reference LIKE 'seed-%%' AND status = 'in_transit' "
                "AND id::text <> %s ORDER BY md5(id::text) LIMIT 50000",
                (contention,),
            )
        ]
        return {
            "warm": self.write_items("warm", warm),
            "warm_list": warm,
            "cold": self.write_items("cold", cold),
            "cold_count": len(cold),
            "detail": self.write_items("detail", shipper_ids),
            "detail_list": shipper_ids,
            "in_transit": self.write_items("in_transit", in_transit),
            "contention": contention,
        }

    def deep_cursor(self, carrier: str) -> tuple[str, int]:
        """Follow ``next`` of the carrier's list (page_size 25) up to ``deep_pages`` times; return path and depth."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {carrier}"
        url = self.url("/api/v1/parcels/?page_size=25")
        depth = 0
        started = time.monotonic()
        while depth < self.config.deep_pages:
            response = session.get(url, timeout=30)
            response.raise_for_status()
            following = response.json().get("next")
            if not following:
                break
            url = following
            depth += 1
        log(f"deep cursor: {depth} pages followed in {time.monotonic() - started:.1f}s")
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}", depth

    def flush_cache(self) -> None:
        """Empty the bench Redis database (cold tracking starts with no cached documents)."""
        self.redis().flushdb()

    def tracking_keys(self) -> int:
        """How many public tracking documents are cached now (each miss adds one)."""
        return sum(1 for _ in self.redis().scan_iter(match="*track:*", count=1000))

    def run_dataset(self, name: str) -> dict[str, Any]:
        """Seed, start the server and measure every endpoint interleaved with the baseline."""
        self.run_info["seed_seconds"][name] = self.seed(name)
        self.reset_bench_writes()
        self.results["storage"][name] = self.storage_database()
        self.flush_cache()
        self.start_servers()
        shipper, carrier = self.token("bench-shipper"), self.token("bench-carrier")
        shipper_key = batch.create_api_key(self.url(""), shipper, ["parcels:read"])
        inputs = self.prepare_inputs()
        deep_path, depth = self.deep_cursor(carrier)
        # Warm-up: every worker imports lazily-loaded code and opens its database connection.
        for _ in range(self.config.workers * 4):
            requests.get(self.url("/api/v1/parcels/"), headers={"Authorization": f"Bearer {shipper}"}, timeout=30)
        c, lc = self.config.connections, self.config.latency_connections

        def warm_tracking() -> None:
            for number in inputs["warm_list"]:
                requests.get(self.url(f"/api/v1/track/{number}/"), timeout=30)

        def warm_detail() -> None:
            with requests.Session() as session:
                session.headers["Authorization"] = f"Bearer {shipper}"
                for parcel_id in inputs["detail_list"]:
                    session.get(self.url(f"/api/v1/parcels/{parcel_id}/"), timeout=30)

        def warm_labels() -> None:
            with requests.Session() as session:
                session.headers["Authorization"] = f"Bearer {shipper}"
                for parcel_id in inputs["detail_list"]:
                    session.get(self.url(f"/api/v1/parcels/{parcel_id}/label/"), timeout=30)

        specs: dict[str, dict[str, Any]] = {
            "tracking_warm": {"script": "get.lua", "path": "/api/v1/track/{item}/", "items": inputs["warm"]},
            "tracking_cold": {"script": "get.lua", "path": "/api/v1/track/{item}/", "items": inputs["cold"]},
            "customer_list": {"script": "get.lua", "path": "/api/v1/parcels/", "token": shipper},
            "carrier_list_first": {"script": "get.lua", "path": "/api/v1/parcels/?page_size=25", "token": carrier},
            "carrier_list_deep": {"script": "get.lua", "path": deep_path, "token": carrier},
            "detail": {
                "script": "get.lua",
                "path": "/api/v1/parcels/{item}/",
                "token": shipper,
                "items": inputs["detail"],
            },
            # The same warm reads with the shipper's API key instead of the JWT (the ratio of the two: the key's cost).
            "detail_api_key": {
                "script": "get.lua",
                "path": "/api/v1/parcels/{item}/",
                "token": shipper_key,
                "scheme": "Api-Key",
                "items": inputs["detail"],
            },
            # The shipper's labels, rendered once before (cached); then labels of parcels never rendered (each
            # request renders a PDF: the carrier's in-transit parcels, read before add_event changes them).
            "label_warm": {
                "script": "get.lua",
                "path": "/api/v1/parcels/{item}/label/",
                "token": shipper,
                "items": inputs["detail"],
            },
            "label_cold": {
                "script": "get.lua",
                "path": "/api/v1/parcels/{item}/label/",
                "token": carrier,
                "items": inputs["in_transit"],
                # Each wrk run starts its threads at the same items: in list order, every segment after the
                # first would read labels the first rendered. Drawn at random, few repeat.
                "order": "random",
            },
            **write_specs(inputs, shipper, carrier),
        }
        out: dict[str, Any] = {}
        baselines: list[float] = []
        segment_s = self.config.segment_seconds

        def baseline() -> float:
            result = self.wrk(
                f"{name}-baseline-{len(baselines)}", "get.lua", "/api/v1/health/", connections=c, seconds=segment_s
            )
            baselines.append(result["rps"])
            return result["rps"]

        # The reference server's health first, measured like an endpoint: its ratio is reference / our health.
        reference_spec = {"script": "get.lua", "path": "/api/v1/health/", "server": "reference"}
        reference: dict[str, Any] = {}
        before = baseline()
        for endpoint, spec in [("reference_health", reference_spec), *specs.items()]:
            if self.config.only and endpoint not in self.config.only and endpoint != "reference_health":
                continue
            kwargs = {k: spec[k] for k in ("token", "scheme", "items", "body", "order", "server") if k in spec}
            if endpoint == "tracking_warm":
                warm_tracking()
            if endpoint == "detail":
                warm_detail()
            if endpoint == "label_warm":
                warm_labels()
            events_before = 0
            if endpoint == "add_event_one_parcel":
                events_before = self.contention_events(inputs["contention"])
            # Throughput: short endpoint segments, each between two baseline segments (B E B E … E B), so
            # every segment is compared with the machine as it was seconds before and after. The ratio is
            # the median over segments: one burst of outside load moves a single segment, not the figure.
            segments: list[dict[str, Any]] = []
            around = [before]
            for index in range(self.config.segments):
                segments.append(
                    self.measure(name, endpoint, spec, kwargs, connections=c, seconds=segment_s, index=index)
                )
                around.append(baseline())
            latency = self.measure(name, endpoint, spec, kwargs, connections=lc, seconds=self.config.duration)
            runs = [*segments, latency]
            after = around[-1]
            segment_ratios = [
                seg["rps"] / ((around[i] + around[i + 1]) / 2) if around[i] + around[i + 1] else 0.0
                for i, seg in enumerate(segments)
            ]
            rps = statistics.median(seg["rps"] for seg in segments)
            baseline_rps = statistics.mean(around)
            spread = (max(around) - min(around)) / baseline_rps * 100 if baseline_rps else 0.0
            statuses: Counter[str] = Counter()
            for run in runs:
                statuses.update(run["statuses"])
            errors = sum(r["errors_status"] + r["socket_errors"] for r in runs)
            five_xx = sum(v for k, v in statuses.items() if k.startswith("5"))
            loaded = max(segments, key=lambda seg: seg["rps"])
            entry = {
                "rps": round(rps, 1),
                "ratio": round(statistics.median(segment_ratios), 3),
                "ratio_segments": [round(r, 3) for r in segment_ratios],
                "segments_rps": [round(seg["rps"], 1) for seg in segments],
                "p50_ms": round(latency["p50_us"] / 1000, 2),
                "p99_ms": round(latency["p99_us"] / 1000, 2),
                "errors": errors,
                "baseline_rps": round(baseline_rps, 1),
                "baseline_runs_rps": [round(b, 1) for b in around],
                "baseline_spread_pct": round(spread, 1),
                "flagged": spread > 10,
                "p50_ms_loaded": round(loaded["p50_us"] / 1000, 2),
                "p99_ms_loaded": round(loaded["p99_us"] / 1000, 2),
                "requests": sum(r["requests"] for r in runs),
                "statuses": dict(statuses),
                "5xx": five_xx,
            }
            if endpoint.startswith("tracking"):
                served = sum(seg["served"] for seg in segments)
                misses = sum(seg["misses"] for seg in segments)
                entry["cache_hit_ratio"] = round(max(0.0, 1 - misses / served), 3) if served else None
            if endpoint == "carrier_list_deep":
                entry["depth"] = depth
            if endpoint == "add_event_one_parcel":
                created = self.contention_events(inputs["contention"]) - events_before
                logged = statuses.get("201", 0)
                answered = sum(r["requests"] - r["errors_status"] for r in runs)
                # wrk stops counting at its deadline while up to `connections` requests are still being served:
                # the database may hold a few more events than wrk saw, never fewer.
                entry["contention"] = {"events_created": created, "logged_201": logged, "wrk_2xx": answered}
                entry["lost_events"] = max(0, answered - created) + max(0, logged - created)
            if errors:
                entry["error_samples"] = [s for r in runs for s in r["error_samples"]][:5]
                entry["error_sample_response"] = self.sample_error(spec, kwargs)
            if endpoint == "reference_health":
                reference = entry
            else:
                out[endpoint] = entry
            log(
                f"  {endpoint}: {entry['rps']} rps, ratio {entry['ratio']} (segments {entry['ratio_segments']}), "
                f"p50 {entry['p50_ms']} ms, p99 {entry['p99_ms']} ms, baseline spread {entry['baseline_spread_pct']}%, "
                f"errors {errors} {dict(statuses)}"
            )
            before = after
        if not self.config.only or set(batch.ROWS) & set(self.config.only):
            # A 1000-event batch holds about 15 MiB at its peak: the workers' RSS before the batch rows, too.
            self.run_info["rss_mib"][f"{name}_before_batch"] = self.worker_rss_mib()
            rows = batch.BatchRows(self, carrier_token=carrier, log=log)
            out.update(rows.measure(before, baseline, out.get("add_event")))
        self.results["reference"][name] = self.versus_reference(reference, out)
        if self.config.tracing:
            warm_tracking()
            warm_detail()
            self.results["tracing"][name] = {
                endpoint: self.tracing_on_off(name, endpoint, spec, c)
                for endpoint, spec in (
                    ("health", {"script": "get.lua", "path": "/api/v1/health/"}),
                    ("tracking_warm", specs["tracking_warm"]),
                    ("detail", specs["detail"]),
                )
            }
            self.results["tracing"][name]["_sink"] = {"exports": self.sink.exports, "bytes": self.sink.bytes}
        self.stop_servers("untraced")
        self.results["storage"][name].update(self.storage_live())
        rss = self.worker_rss_mib()
        self.run_info["rss_mib"][name] = rss
        mean = statistics.mean(baselines)
        overall = (max(baselines) - min(baselines)) / mean * 100 if mean else 0.0
        self.run_info["baselines"][name] = {
            "runs_rps": [round(b, 1) for b in baselines],
            "mean_rps": round(mean, 1),
            "spread_pct": round(overall, 1),
            "flagged": overall > 10,
        }
        self.stop_servers()
        return out

    def measure(
        self,
        dataset: str,
        endpoint: str,
        spec: dict[str, Any],
        kwargs: dict[str, Any],
        *,
        connections: int,
        seconds: int,
        index: int | None = None,
    ) -> dict[str, Any]:
        """One wrk run of an endpoint; for tracking, also the cache misses it caused (each caches a document)."""
        if endpoint == "tracking_cold":
            self.flush_cache()  # every segment starts cold: its tracking numbers were cached by the previous one
        keys_before = self.tracking_keys() if endpoint.startswith("tracking") else 0
        label = f"{dataset}-{endpoint}-c{connections}" + ("" if index is None else f"-s{index}")
        run = self.wrk(label, spec["script"], spec["path"], connections=connections, seconds=seconds, **kwargs)
        if endpoint.startswith("tracking"):
            # The server also answers the few requests still in flight when wrk stops counting, so count what
            # it logged when that is more.
            run["misses"] = max(0, self.tracking_keys() - keys_before)
            run["served"] = max(run["requests"], sum(run["statuses"].values()))
        return run

    def versus_reference(self, reference: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        """Our endpoints over the reference server's health, from ratios to our health measured in this run.

        Our health over the reference's is the median over the reference's segments of (mean of our health
        around it) / (its rps); an endpoint's is its ratio over the reference's ratio, both to our health.
        """
        around = reference["baseline_runs_rps"]
        mine = [(around[i] + around[i + 1]) / 2 / seg for i, seg in enumerate(reference["segments_rps"]) if seg]
        versus = {"health": round(statistics.median(mine), 3) if mine else None}
        for endpoint in ("tracking_warm", "detail", "customer_list"):
            if endpoint in out:  # BENCH_ONLY may leave it out
                versus[endpoint] = round(out[endpoint]["ratio"] / reference["ratio"], 3) if reference["ratio"] else None
        return {**reference, "ours_health_rps": round(statistics.median(around), 1), "versus": versus}

    def tracing_on_off(self, name: str, endpoint: str, spec: dict[str, Any], connections: int) -> dict[str, Any]:
        """Rps of an endpoint on our traced server in segments, each between two on the untraced twin."""
        kwargs = {k: spec[k] for k in ("token", "items", "body", "order") if k in spec}
        seconds = self.config.segment_seconds

        errors = {"ours": 0, "untraced": 0}

        def run(server: str, index: int) -> float:
            label = f"{name}-tracing-{endpoint}-{server}-s{index}"
            result = self.wrk(
                label, spec["script"], spec["path"], connections=connections, seconds=seconds, server=server, **kwargs
            )
            # Both sides must answer as the endpoint does (an error is cheaper than the work it skips).
            errors[server] += int(result["errors_status"]) + int(result["socket_errors"])
            return float(result["rps"])

        on: list[float] = []
        off = [run("untraced", 0)]
        for index in range(self.config.segments):
            on.append(run("ours", index))
            off.append(run("untraced", index + 1))
        ratios = [rps / ((off[i] + off[i + 1]) / 2) for i, rps in enumerate(on)]
        ratio = statistics.median(ratios)
        entry = {
            "rps_on": round(statistics.median(on), 1),
            "rps_off": round(statistics.median(off), 1),
            "ratio": round(ratio, 3),
            "ratio_segments": [round(r, 3) for r in ratios],
            "loss_pct": round((1 - ratio) * 100, 1),
            "errors_on": errors["ours"],
            "errors_off": errors["untraced"],
        }
        log(f"  tracing on/off {endpoint}: {entry}")
        return entry

    def storage_database(self) -> dict[str, Any]:
        """Bytes per parcel, per event and per index row of the seeded tables (heap, TOAST, each index)."""
        tables = {}
        for table in ("parcel_service_parcel", "parcel_service_trackingevent"):
            rows = self.sql(f"SELECT count(*) FROM {table}")[0][0]  # exact: the statistics' estimate may lag
            heap, total, indexes = self.sql(
                "SELECT pg_relation_size(%s), pg_total_relation_size(%s), pg_indexes_size(%s)", (table, table, table)
            )[0]
            per_index = dict(
                self.sql(
                    "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = %s::regclass ORDER BY 2 DESC",
                    (table,),
                )
            )
            tables[table] = {
                "rows": rows,
                "heap_bytes": heap,
                "toast_bytes": total - heap - indexes,
                "index_bytes": indexes,
                "total_bytes": total,
                "bytes_per_row": round(total / rows, 1) if rows else None,
                "heap_bytes_per_row": round(heap / rows, 1) if rows else None,
                "index_bytes_per_row": {k: round(v / rows, 1) for k, v in per_index.items()} if rows else {},
            }
        database = self.sql("SELECT pg_database_size(current_database())")[0][0]
        return {"tables": tables, "database_bytes": database}

    def storage_live(self) -> dict[str, Any]:
        """Redis bytes per cached document (MEMORY USAGE, by key kind) and connections per worker of our server."""
        client = self.redis()
        kinds: dict[str, list[str]] = {}
        for key in client.scan_iter(count=1000):
            text = key.decode(errors="replace")
            # ps:1:track:v1:<number> -> track:v1; ps:1:parcel:v2:<uuid> -> parcel:v2; throttle counters likewise.
            parts = text.split(":")
            kind = ":".join(parts[2:4]) if len(parts) > 4 else ":".join(parts[2:3])
            if len(kinds.setdefault(kind, [])) < 200:
                kinds[kind].append(text)
        cached = {}
        for kind, keys in sorted(kinds.items()):
            sizes = [client.memory_usage(key, samples=0) or 0 for key in keys]
            cached[kind] = {"sampled": len(keys), "bytes_mean": round(statistics.mean(sizes), 1)}
        info = client.info("memory")
        connections = self.worker_connections()
        return {
            "redis_bytes_per_key": cached,
            "redis": {"keys": client.dbsize(), "used_memory": info.get("used_memory")},
            "connections_per_worker": connections,
        }

    def worker_connections(self) -> dict[str, float]:
        """Established TCP connections of our workers to PostgreSQL and to Redis, per worker (from /proc)."""
        ports = {int(self.config.pg_url.rsplit(":", 1)[1].split("/")[0]): "postgres"}
        ports[int(self.config.redis_host.rsplit(":", 1)[1])] = "redis"
        remote: dict[str, int] = {}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[3] == "01":  # ESTABLISHED
                    remote[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
        pids = self.worker_pids()
        counts = Counter[str]()
        for pid in pids:
            try:
                links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
            except OSError:
                continue
            for link in links:
                inode = link[len("socket:[") : -1] if link.startswith("socket:[") else None
                if inode in remote and remote[inode] in ports:
                    counts[ports[remote[inode]]] += 1
        return {kind: round(counts[kind] / len(pids), 2) if pids else 0.0 for kind in ("postgres", "redis")}

    def contention_events(self, parcel_id: str) -> int:
        """Number of events of the contention parcel."""
        return self.sql("SELECT count(*) FROM parcel_service_trackingevent WHERE parcel_id = %s", (parcel_id,))[0][0]

    def sample_error(self, spec: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """Replay a few requests of an endpoint that had errors and return the first non-2xx answer."""
        scheme = kwargs.get("scheme", "Bearer")
        headers = {"Authorization": f"{scheme} {kwargs['token']}"} if kwargs.get("token") else {}
        items = kwargs["items"].read_text().split() if kwargs.get("items") else [""]
        for item in items[:20]:
            path = spec["path"].replace("{item}", item)
            try:
                if "body" in kwargs:
                    response = requests.post(self.url(path), json=kwargs["body"], headers=headers, timeout=30)
                else:
                    response = requests.get(self.url(path), headers=headers, timeout=30)
            except requests.RequestException as error:
                return {"path": path, "exception": repr(error)}
            if response.status_code >= 300:
                return {"path": path, "status": response.status_code, "body": response.text[:800]}
        return None

    # -- report -------------------------------------------------------------------------------------------

    def evaluate(self) -> dict[str, Any]:
        """PASS/FAIL per target of issue 6 (on the 1m dataset when it was measured, else the largest one)."""
        datasets = self.results["datasets"]
        main = "1m" if "1m" in datasets else next(reversed(datasets))
        d = datasets[main]
        targets: dict[str, Any] = {"_dataset": main}

        def target(key: str, ok: bool | None, detail: str) -> None:
            targets[key] = {"pass": ok, "detail": detail}

        def ratio(endpoint: str) -> float:
            return d[endpoint]["ratio"] or 0.0

        tw = d["tracking_warm"]
        target(
            "tracking_warm",
            ratio("tracking_warm") >= 0.70 and tw["p99_ms"] <= 3 * tw["p50_ms"],
            f"ratio {ratio('tracking_warm')} >= 0.70 and p99 {tw['p99_ms']} <= 3 x p50 {tw['p50_ms']}",
        )
        for endpoint, minimum in (
            ("tracking_cold", 0.25),
            ("detail", 0.30),
            ("customer_list", 0.18),
            ("carrier_list_first", 0.15),
            ("carrier_list_deep", 0.15),
            ("create", 0.15),
            ("add_event", 0.15),
        ):
            target(endpoint, ratio(endpoint) >= minimum, f"ratio {ratio(endpoint)} >= {minimum}")
        # Compared as ratios (each against its own adjacent baselines, so machine noise cancels) and one-sided:
        # the promise is that depth costs nothing, i.e. a deep page is at most 10% slower than the first.
        keyed = round(ratio("detail_api_key") / ratio("detail"), 3) if ratio("detail") else 0.0
        target("api_key_vs_jwt", keyed >= 0.95, f"detail with Api-Key / with JWT: {keyed} >= 0.95 (ratios, same run)")
        targets.update(batch.targets(d))
        target("label_warm", ratio("label_warm") >= 0.5, f"ratio {ratio('label_warm')} >= 0.5 (of health)")
        # A sync worker renders on one core at a time: with more workers than cores, the cores are the limit.
        busy = min(self.config.workers, len(os.sched_getaffinity(0)))
        per_worker = round(d["label_cold"]["rps"] / busy, 1)
        target("label_cold", per_worker >= 40, f"{per_worker} labels/s per busy worker (one core) >= 40, cold renders")
        first, deep = ratio("carrier_list_first"), ratio("carrier_list_deep")
        target(
            "carrier_list_deep_vs_first",
            deep >= 0.9 * first if first else False,
            f"deep ratio {deep} >= 0.9 x first ratio {first}",
        )
        one = d["add_event_one_parcel"]
        target(
            "contention",
            one["errors"] == 0 and one["lost_events"] == 0,
            f"errors {one['errors']}, lost events {one['lost_events']}",
        )
        if "10k" in datasets and "1m" in datasets:
            scaling = {}
            ok = True
            for endpoint in READ_ENDPOINTS:
                r10, r1m = datasets["10k"][endpoint]["ratio"] or 0.0, datasets["1m"][endpoint]["ratio"] or 0.0
                scaling[endpoint] = round(r1m / r10, 3) if r10 else None
                ok = ok and r1m >= 0.9 * r10
            target("reads_scale_to_1m", ok, f"ratio_1m / ratio_10k per read endpoint: {scaling}")
        else:
            target("reads_scale_to_1m", None, "needs both datasets (BENCH_DATASETS=10k,1m)")
        # Issue 13: against the reference server's health, and tracing on vs off (same dataset).
        reference = self.results["reference"].get(main)
        if reference:
            for key, minimum in REFERENCE_TARGETS.items():
                value = reference["versus"].get(key)
                target(
                    f"vs_reference_{key}",
                    value is not None and value >= minimum,
                    f"{key} {value} x the reference server's health >= {minimum}",
                )
        tracing = self.results["tracing"].get(main)
        if tracing:
            losses = {k: v["loss_pct"] for k, v in tracing.items() if not k.startswith("_")}
            failed = {k: v.get("errors_on", 0) + v.get("errors_off", 0) for k, v in tracing.items() if k[0] != "_"}
            target(
                "tracing_on_vs_off",
                all(loss <= 5 for loss in losses.values()) and not any(failed.values()),
                f"loss with tracing on (sampler 0.1, exporting) <= 5% per endpoint: {losses}; non-2xx {failed}",
            )
        five_xx = sum(e.get("5xx", 0) for ds in datasets.values() for k, e in ds.items())
        target("no_5xx", five_xx == 0, f"{five_xx} responses with 5xx over all runs")
        rss = self.results["rss_mib_max"]
        before_batch = self.run_info["rss_mib"].get(f"{main}_before_batch", {}).get("peak")
        target(
            "rss_per_worker",
            rss is not None and rss <= 120,
            f"peak RSS {rss} MiB per worker <= 120 (before the batch rows: {before_batch} MiB)",
        )
        return targets

    def markdown(self) -> str:
        """The results as Markdown tables."""
        lines = []
        machine = self.results["machine"]
        lines.append(
            f"Machine: {machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
            f"PostgreSQL {machine['postgres']}, {machine['wrk']}; {machine['date']}; commit {machine['git_commit']}."
        )
        config = self.run_info["config"]
        lines.append(
            f"Gunicorn {config['workers']} sync workers; wrk {config['threads']} threads, {config['connections']} "
            f"connections (rps) in {config['segments']} segments of {config['segment_s']} s, each between two "
            f"baseline segments, ratio = median of the segment ratios; {config['latency_connections']} "
            f"connections for {config['duration_s']} s (p50/p99)."
        )
        datasets = self.results["datasets"]
        for name, data in datasets.items():
            base = self.run_info["baselines"][name]
            flag = " **FLAGGED: baseline varied > 10%**" if base["flagged"] else ""
            lines += [
                "",
                f"### Dataset {name} (seeded in {self.run_info['seed_seconds'].get(name)} s; "
                f"baseline {base['mean_rps']} rps, spread {base['spread_pct']}%{flag}; "
                f"peak RSS {self.run_info['rss_mib'].get(name, {}).get('peak')} MiB/worker)",
                "",
                "| endpoint | rps | ratio | segment ratios | p50 ms | p99 ms | errors | baseline rps | baseline spread "
                "| notes |",
                "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
            ]
            for endpoint in ENDPOINTS:
                if endpoint not in data:  # BENCH_ONLY
                    continue
                e = data[endpoint]
                notes = []
                if e["flagged"]:
                    notes.append("⚠ baselines differ > 10%")
                if "cache_hit_ratio" in e:
                    notes.append(f"cache hit {e['cache_hit_ratio']}")
                if "depth" in e:
                    notes.append(f"{e['depth']} pages deep")
                if "lost_events" in e:
                    notes.append(f"lost events {e['lost_events']}")
                non2xx = {k: v for k, v in e["statuses"].items() if not k.startswith("2")}
                if non2xx:
                    notes.append(f"statuses {non2xx}")
                lines.append(
                    f"| {endpoint} | {e['rps']:.0f} | {e['ratio']:.3f} | "
                    f"{min(e['ratio_segments']):.3f}-{max(e['ratio_segments']):.3f} | {e['p50_ms']} | {e['p99_ms']} | "
                    f"{e['errors']} | {e['baseline_rps']:.0f} | {e['baseline_spread_pct']}% | {'; '.join(notes)} |"
                )
            lines += batch.markdown(data)
            reference = self.results["reference"].get(name)
            if reference:
                lines += [
                    "",
                    f"Reference server (`bench/reference`, textbook Django + DRF, same workers): health "
                    f"{reference['rps']:.0f} rps (segments {min(reference['ratio_segments']):.3f}-"
                    f"{max(reference['ratio_segments']):.3f} of our health, which ran at "
                    f"{reference['ours_health_rps']:.0f} rps beside it; p50 {reference['p50_ms']} ms).",
                    "",
                    "| ours / reference health | ratio | target |",
                    "|---|---:|---:|",
                ]
                for key, value in reference["versus"].items():
                    lines.append(f"| {key} | {value:.3f} | {REFERENCE_TARGETS[key]} |")
            tracing = self.results["tracing"].get(name)
            if tracing:
                sink = tracing.get("_sink", {})
                lines += [
                    "",
                    f"Tracing on (sampler 0.1, exporting to a local OTLP sink: {sink.get('exports')} exports, "
                    f"{sink.get('bytes')} bytes over the run) vs off (no endpoint), segments alternating:",
                    "",
                    "| endpoint | rps on | rps off | on / off | segment ratios | loss |",
                    "|---|---:|---:|---:|---|---:|",
                ]
                for key, e in tracing.items():
                    if key.startswith("_"):
                        continue
                    lines.append(
                        f"| {key} | {e['rps_on']:.0f} | {e['rps_off']:.0f} | {e['ratio']:.3f} | "
                        f"{min(e['ratio_segments']):.3f}-{max(e['ratio_segments']):.3f} | {e['loss_pct']}% |"
                    )
        if "10k" in datasets and "1m" in datasets:
            lines += ["", "### Scaling 10k → 1m (ratio_1m / ratio_10k)", "", "| endpoint | 10k | 1m | change |"]
            lines.append("|---|---:|---:|---:|")
            for endpoint in ENDPOINTS:
                if endpoint not in datasets["10k"] or endpoint not in datasets["1m"]:  # BENCH_ONLY
                    continue
                r10, r1m = datasets["10k"][endpoint]["ratio"], datasets["1m"][endpoint]["ratio"]
                change = f"{r1m / r10:.2f}" if r10 else "n/a"
                lines.append(f"| {endpoint} | {r10:.3f} | {r1m:.3f} | {change} |")
        lines += [
            "",
            f"### Targets (dataset {self.results['targets'].get('_dataset')})",
            "",
            "| target | result | detail |",
        ]
        lines.append("|---|---|---|")
        for key, value in self.results["targets"].items():
            if key.startswith("_"):
                continue
            result = {True: "PASS", False: "FAIL", None: "n/a"}[value["pass"]]
            lines.append(f"| {key} | {result} | {value['detail']} |")
        return "\n".join(lines) + "\n"

    def run(self) -> int:
        """Everything, in order; always stops the server and removes the temp dir."""
        config = self.config
        self.run_info["config"] = {
            "workers": config.workers,
            "threads": config.threads,
            "connections": config.connections,
            "latency_connections": config.latency_connections,
            "duration_s": config.duration,
            "segments": config.segments,
            "segment_s": config.segment_seconds,
            "datasets": config.datasets,
            "only": config.only,
            "deep_pages": config.deep_pages,
            "databases": [f"{config.db_name}_{name}" for name in config.datasets],
            "redis_db": config.redis_db,
        }
        unknown = [d for d in config.datasets if d not in DATASETS]
        if unknown:
            raise SystemExit(f"unknown BENCH_DATASETS {unknown}; choose from {sorted(DATASETS)}")
        try:
            for name in sorted(config.datasets, key=lambda d: DATASETS[d]["parcels"]):
                log(f"dataset {name}")
                config.dataset = name
                self.prepare_database()
                self.results["datasets"][name] = self.run_dataset(name)
            peaks = [r["peak"] for r in self.run_info["rss_mib"].values()]
            self.results["rss_mib_max"] = max(peaks) if peaks else None
            if config.only:
                only = ",".join(config.only)
                self.results["targets"] = {"_dataset": None, "_only": f"BENCH_ONLY={only}: targets not evaluated"}
            else:
                self.results["targets"] = self.evaluate()
            config.results.mkdir(parents=True, exist_ok=True)
            name = config.results_name
            (config.results / f"{name}.json").write_text(json.dumps(self.results, indent=2, sort_keys=False) + "\n")
            table = self.markdown()
            (config.results / f"{name}.md").write_text(table)
            print(table)
            log(f"wrote {config.results / name}.json and {name}.md")
            return 0
        except BaseException:
            log(f"failed; last server log lines:\n{self.tail_log()}")
            raise
        finally:
            self.stop_servers()
            self.sink.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    """Entry point: ``python bench/bench.py`` (normally through ``bash bench/run.sh``)."""
    bench = Bench(Config())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return bench.run()


if __name__ == "__main__":
    sys.exit(main())
