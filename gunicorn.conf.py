"""Gunicorn configuration for the container image, ``make serve`` and Kubernetes.

Gunicorn reads this file in the master process before Django is imported, so it cannot use the
Django settings' ``env`` object; the few process-level knobs below are read from ``os.environ``
directly. Application configuration stays in ``core_project.settings``.

Environment:
    GUNICORN_BIND: address to listen on (default ``0.0.0.0:8000``, the container port).
    WEB_CONCURRENCY: number of sync workers (default ``min(2 * CPUs + 1, 8)``, CPUs from the
        process's CPU affinity and cgroup quota, so a pod limited to 1 CPU gets 3, not 2 * node + 1).
    FORWARDED_ALLOW_IPS: peers trusted to set ``X-Forwarded-*`` for Gunicorn (default ``127.0.0.1``).
    GUNICORN_ACCESS_LOG: any value but empty/``0``/``false`` turns on Gunicorn's own access log.
    GUNICORN_NO_PRELOAD: set to load the application in each worker instead of once in the master.
    PROMETHEUS_MULTIPROC_DIR: when set, emptied at start and shared by all workers for ``/metrics``.
    LOG_LEVEL: level of Gunicorn's error log (default ``INFO``), like the application's.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from pathlib import Path
from typing import Any

from core_project.logformat import JSON_FORMATTER


def _cpu_count() -> int:
    """CPUs this process may really use: its affinity mask, lowered to a cgroup v2 CPU quota if any."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = multiprocessing.cpu_count()
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 CPU limit visible: keep the affinity count
    return max(1, cpus)


def _enabled(name: str) -> bool:
    """Whether an on/off environment variable is switched on (set, and not empty/0/false/no/off)."""
    return os.environ.get(name, "").strip().lower() not in {"", "0", "false", "no", "off"}


# --- Server socket -----------------------------------------------------------------------------
# All interfaces by default: inside a container the port is only reachable through the pod/container
# network. In the pod, API traffic arrives from the nginx sidecar over loopback; Prometheus and the
# kubelet's probes reach this port directly. `make serve` and the CI smoke test bind 127.0.0.1 instead.
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]

# --- Workers -------------------------------------------------------------------------------------
# Sync workers: the API is short, database-bound requests; one request per process keeps Django's
# connection handling simple and a slow request cannot starve others in the same worker. Capped at 8:
# beyond that, add replicas rather than processes (each worker holds its own PostgreSQL connection).
# A sync worker reads its client's request itself, so a client that sends slowly holds it until `timeout`:
# Gunicorn must sit behind a buffering proxy (the pod's nginx sidecar, deploy/nginx/nginx.conf).
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * _cpu_count() + 1, 8)))
# Gunicorn's sync worker, with its own error answers (request line or headers too large, a request it
# cannot parse) as problem+json like every other error (API.md "Errors at the edge"); no Django import.
worker_class = "core_project.gunicorn_worker.ProblemSyncWorker"
# A worker silent this long is killed and replaced. Above PostgreSQL's statement_timeout (5 s) and
# connect timeouts, so only a truly stuck worker hits it.
timeout = 30
# SIGTERM → workers finish their in-flight request for up to this long, then are killed. Kept below
# Kubernetes' default terminationGracePeriodSeconds (30 s) minus the preStop sleep (5 s), so Gunicorn
# exits on its own before the kubelet's SIGKILL.
graceful_timeout = 20
# Keep-alive between the ingress/load balancer and Gunicorn; longer than the typical 1-2 s of a
# client-facing server because the peer is a proxy that reuses connections.
keepalive = 5
# Import the application once, in the master, before forking the workers (core_project.wsgi also warms
# what Django would load lazily on a first request). A worker (re)start is then a fork of a ready process
# instead of a Django import of about a second of CPU, which slowed the other workers, and a fresh worker's
# first requests no longer pay for lazy imports (measured: up to 144 ms each when max_requests recycled a
# worker under load, now about 10 ms). The workers also share the imported code's memory pages. Nothing
# opens a database or Redis connection at import time (both are lazy, and redis-py and prometheus_client
# notice the fork), so no socket is ever shared between processes.
preload_app = not _enabled("GUNICORN_NO_PRELOAD")
# Recycle workers now and then so slow leaks cannot grow without bound; the jitter keeps workers
# from restarting all at once. With the application preloaded a restart is only a fork, but the new
# worker still opens its own database and Redis connections, so recycling stays rare: 10,000 requests
# is minutes of traffic per worker at production rates. Peak RSS stays flat (bench: under 80 MiB per
# worker), so this is a guard, not a cure.
max_requests = 10_000
max_requests_jitter = 1_000
# The worker heartbeat file is touched on every request; on tmpfs that is never a disk write, and it
# still works with a read-only root filesystem (the pod mounts a memory emptyDir at /dev/shm).
_SHM = "/dev/shm"  # noqa: S108  # nosec B108 - a tmpfs for the heartbeat file, as explained above
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# Runtime control socket (gunicornc) is off: it would live under $HOME, which the non-root image
# user does not have, and operations go through Kubernetes, not a shell in the pod.
control_socket_disable = True

# --- Proxies -------------------------------------------------------------------------------------
# Peers whose X-Forwarded-Proto/-For Gunicorn believes. Never "*" by default: that would let any
# client claim HTTPS. Django itself decides the scheme from X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER)
# and the client IP from X-Forwarded-For with NUM_PROXIES; this only affects Gunicorn's own view.
# 127.0.0.1 is the nginx sidecar. Gunicorn also takes SCRIPT_NAME from a trusted peer's headers; nginx
# drops every header with an underscore, so no client's reaches Gunicorn.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# --- Logging -------------------------------------------------------------------------------------
# The application writes one JSON access line per request with its request_id
# (parcel_service.access), so Gunicorn's access log would only duplicate it: off unless asked for.
_ACCESS_LOG = _enabled("GUNICORN_ACCESS_LOG")
accesslog = "-" if _ACCESS_LOG else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()

# Gunicorn's own lines (boot, worker start/exit, timeouts) as the same JSON objects on stdout as the
# application's (core_project.settings.base.build_logging), so one log pipeline parses both.
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "parcel_service.http.logging.RequestIdFilter"}},
    "formatters": {"json": JSON_FORMATTER},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        # Gunicorn enables its access logger whenever logconfig_dict is set; with no handler and
        # WARNING level its INFO lines go nowhere unless GUNICORN_ACCESS_LOG asks for them.
        "gunicorn.access": {
            "handlers": ["console"] if _ACCESS_LOG else [],
            "level": "INFO" if _ACCESS_LOG else "WARNING",
            "propagate": False,
        },
    },
}


# --- Prometheus multiprocess mode ----------------------------------------------------------------
# With preload_app the master imports the application, and prometheus_client opens its value files,
# before any server hook runs: the directory must exist by then. Only created here (this file is read
# again on HUP, when live workers' files must stay); on_starting removes a previous run's files.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def on_starting(server: Any) -> None:
    """Empty ``PROMETHEUS_MULTIPROC_DIR`` in the master, before any worker writes to it.

    Each worker writes its metrics to ``*.db`` files in that directory and ``/metrics`` aggregates
    them. Files left by a previous run (a restarted container keeps its emptyDir) would be counted
    again, so they are removed. Only those files: a mistyped path must never cost anything else.

    Args:
        server: The Gunicorn arbiter.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    stale = list(path.glob("*.db"))
    for file in stale:
        file.unlink(missing_ok=True)
    server.log.info("prometheus multiprocess directory ready: %s (%d stale files removed)", directory, len(stale))


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus_client that a worker died, so its live gauges stop being reported.

    Args:
        server: The Gunicorn arbiter.
        worker: The worker that exited.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def when_ready(server: Any) -> None:
    """With ``preload_app``, freeze the loaded application in the master, before any worker is forked.

    Frozen objects are never traversed by the garbage collector again, so the workers do not write to
    (and so copy) the pages they share with the master when they collect.

    Args:
        server: The Gunicorn arbiter.
    """
    if server.cfg.preload_app:
        import gc

        gc.collect()
        gc.freeze()


def post_worker_init(worker: Any) -> None:
    """Move everything loaded at start-up (Django, the app, their modules) out of the garbage collector's view.

    Those objects live as long as the worker. Without this, every full collection walks them all again,
    which shows up as latency spikes on otherwise fast requests (``gc.freeze``, Python 3.7+).

    Args:
        worker: The Gunicorn worker, after it loaded the application.
    """
    import gc

    gc.collect()
    gc.freeze()
