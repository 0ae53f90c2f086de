"""Real processes for process-level tests: Gunicorn running the service, a private Redis, a TCP proxy.

Everything binds to 127.0.0.1 on a free port, has bounded timeouts and is stopped by the context
managers even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

from deploy.loopback import free_port  # the process tests take it from here

ROOT = Path(settings.BASE_DIR)
GUNICORN = Path(sys.executable).with_name("gunicorn")


def current_database_url() -> str:
    """``DATABASE_URL`` of the database pytest-django created for this run (PostgreSQL only)."""
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or 'x'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def stop_gracefully(process: subprocess.Popen) -> None:
    """SIGTERM a server started in its own session; SIGKILL its whole group if it has not exited within 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers at all (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up within {timeout}s")


class GunicornServer:
    """A running Gunicorn master with its workers, as the image runs it (``gunicorn.conf.py``, prod settings)."""

    def __init__(self, process: subprocess.Popen, port: int, metrics_dir: Path) -> None:
        self.process = process
        self.port = port
        self.metrics_dir = metrics_dir
        self.url = f"http://127.0.0.1:{port}"

    def worker_pids(self) -> list[int]:
        """Pids of the master's current worker processes."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@contextlib.contextmanager
def gunicorn(workers: int = 2, **env_overrides: str) -> Iterator[GunicornServer]:
    """Start Gunicorn with production settings against the test database; stop it afterwards.

    Args:
        workers: Number of sync workers.
        **env_overrides: Environment variables to set (or override) for the server.

    Yields:
        The running server.
    """
    port = free_port()
    # Not created beforehand, as in a fresh container: the server must create it before the app loads.
    metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-")) / "multiproc"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "core_project.settings.prod",
        "SECRET_KEY": "process-test-secret-key-that-is-long-enough-for-hs256-0123456789",
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": settings.REDIS_URL or "redis://127.0.0.1:6379/15",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "60",
    }
    env.update(env_overrides)
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [str(GUNICORN), "--config", "gunicorn.conf.py", "core_project.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = GunicornServer(process, port, metrics_dir)
    try:
        wait_until_up(f"{server.url}/api/v1/health/")
        yield server
    finally:
        stop_gracefully(process)
        shutil.rmtree(metrics_dir.parent, ignore_errors=True)


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[tuple[subprocess.Popen, int]]:
    """A private, non-persistent Redis on a free port or ``port`` (a test may SIGSTOP it, or stop and restart it)."""
    port = port or free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield process, port
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


class TcpProxy:
    """A loopback TCP forwarder that can be cut and restored, to take a dependency away and bring it back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Accept and forward connections."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one (as a dead database host would)."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


CELERY = Path(sys.executable).with_name("celery")


class CeleryWorker:
    """A running ``celery worker`` (with beat embedded, ``-B``), as the worker Deployment runs it."""

    def __init__(self, process: subprocess.Popen, log_path: Path, heartbeat: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.heartbeat = heartbeat

    def log_lines(self) -> list[str]:
        """What the worker logged so far (JSON lines, and Celery's own start-up banner)."""
        return self.log_path.read_text(errors="replace").splitlines()

    def kill(self) -> None:
        """``kill -9`` the worker and everything it started, at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextlib.contextmanager
def celery_worker(broker_url: str, **env_overrides: str) -> Iterator[CeleryWorker]:
    """Start a Celery worker with beat (production settings, the test database, ``broker_url``); stop it afterwards.

    It is ready when its consumer is (the readiness file exists). A test may ``kill()`` it; stopping then is a no-op.
    """
    workdir = Path(tempfile.mkdtemp(prefix="celery-"))
    heartbeat = workdir / "heartbeat"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "core_project.settings.prod",
        "SECRET_KEY": "process-test-secret-key-that-is-long-enough-for-hs256-0123456789",
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "INFO",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_DISPATCH_INTERVAL_S": "0.5",
        "CELERY_HEARTBEAT_FILE": str(heartbeat),
        "CELERY_BEAT_HEARTBEAT_FILE": str(workdir / "beat-heartbeat"),
        "CELERY_BEAT_SCHEDULE_FILENAME": str(workdir / "beat-schedule"),
    }
    env.update(env_overrides)
    log_path = workdir / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                str(CELERY),
                "-A",
                "core_project",
                "worker",
                "-B",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = CeleryWorker(process, log_path, heartbeat)
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{heartbeat}.ready").exists():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the Celery worker did not become ready:\n" + "\n".join(worker.log_lines()[-30:]))
            time.sleep(0.1)
        yield worker
    finally:
        stop_gracefully(process)
        shutil.rmtree(workdir, ignore_errors=True)
