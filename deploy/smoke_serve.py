"""Smoke test of ``make serve``: the production stack (prod settings, WhiteNoise, Gunicorn) end to end.

Run from the repository root with the virtualenv's Python (``.venv/bin/python deploy/smoke_serve.py``).
It needs PostgreSQL and Redis on 127.0.0.1 (override with ``SMOKE_DATABASE_URL`` / ``SMOKE_REDIS_URL``)
and checks, in order:

1. ``manage.py migrate`` with production settings, then ``make serve`` in the background;
2. the Dockerfile's own ``HEALTHCHECK`` command (read from the Dockerfile, port adjusted) exits 0;
3. ``/api/docs/`` and every same-origin asset it references (WhiteNoise, drf-spectacular-sidecar) is 200;
4. ``/metrics`` aggregates the workers (Prometheus multiprocess directory) and Gunicorn logs JSON;
5. graceful shutdown: a request whose body trickles in over ~3 s still gets a complete response after
   the Gunicorn master receives SIGTERM ~1 s into it, and the master exits within ``graceful_timeout``.

Everything it starts runs in its own process group, killed on any exit. Every wait is bounded.
Standard library and ``requests`` only.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
# Run as a script from anywhere: the repository root holds deploy.loopback, shared with the tests.
sys.path.insert(0, str(ROOT))
from deploy.loopback import free_port  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("SMOKE_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/parcel_serve")
REDIS_URL = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/14")
START_TIMEOUT_S = 60
HTTP_TIMEOUT_S = 10
TRICKLE_SECONDS = 3.0
SIGTERM_AFTER_S = 1.0


class SmokeFailure(Exception):
    """A check failed; the message says which and why."""


def step(message: str) -> None:
    """Print a progress line."""
    print(f"--- {message}", flush=True)


def serve_environment(port: int, workdir: Path) -> dict[str, str]:
    """The environment ``make serve`` runs with: what production requires, pointed at local services."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "core_project.settings.prod",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
            # Only for the test: a pid file so SIGTERM goes to the Gunicorn master, as a kubelet's would.
            "GUNICORN_CMD_ARGS": f"--pid {workdir / 'gunicorn.pid'}",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    env.pop("GUNICORN_ACCESS_LOG", None)
    return env


def prepare_database(env: dict[str, str]) -> None:
    """Create the database if it is missing (best effort) and apply migrations with production settings."""
    database = urlsplit(DATABASE_URL)
    name = database.path.lstrip("/")
    createdb = [
        "createdb",
        "-h",
        database.hostname or "127.0.0.1",
        "-p",
        str(database.port or 5432),
        "-U",
        database.username or "postgres",
        name,
    ]
    pg_env = {**env, "PGPASSWORD": database.password or ""}
    try:
        subprocess.run(createdb, env=pg_env, capture_output=True, timeout=30, check=False)  # noqa: S603
    except FileNotFoundError:
        print("createdb not found; assuming the database exists")
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise SmokeFailure(f"migrate failed:\n{result.stdout}\n{result.stderr}")
    print(f"migrated {name}")


@contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``make serve`` in a new process group; on exit kill the whole group, whatever happened."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve"],  # noqa: S607
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        # Gunicorn workers share the group; make sure none survived an early master death.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_until_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    """Poll the liveness endpoint until it answers 200, the server dies or the time is up."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SmokeFailure(f"make serve exited early with {process.returncode}")
        try:
            if requests.get(f"{base}/api/v1/health/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SmokeFailure(f"server not healthy within {START_TIMEOUT_S}s")


def dockerfile_healthcheck() -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK instruction, exactly as written there."""
    text = (ROOT / "Dockerfile").read_text()
    instructions = re.sub(r"\\\n", " ", text)  # join continuation lines
    for line in instructions.splitlines():
        match = re.match(r"\s*HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", line)
        if match:
            command = json.loads(match.group(1))
            if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
                raise SmokeFailure("HEALTHCHECK CMD is not an exec-form list of strings")
            return command
    raise SmokeFailure("no exec-form HEALTHCHECK ... CMD [...] in the Dockerfile")


def check_healthcheck(port: int, env: dict[str, str]) -> None:
    """Run the image's HEALTHCHECK command against the local server and require exit 0."""
    command = dockerfile_healthcheck()
    if not any("127.0.0.1:8000" in part for part in command):
        raise SmokeFailure(f"HEALTHCHECK does not call 127.0.0.1:8000: {command}")
    command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in command]
    print("HEALTHCHECK:", shlex.join(command))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=15, check=False)  # noqa: S603
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SmokeFailure(f"HEALTHCHECK exited {result.returncode}: {last}")
    print("HEALTHCHECK exit 0")


class AssetCollector(HTMLParser):
    """Collects ``src`` and ``href`` of scripts, stylesheets, icons and images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the asset URL of a tag that loads one."""
        values = dict(attrs)
        if tag in {"script", "img"} and values.get("src"):
            self.urls.append(values["src"] or "")
        elif tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")


def check_docs(base: str) -> None:
    """``/api/docs/`` renders and every same-origin asset it references is served (WhiteNoise)."""
    response = requests.get(f"{base}/api/docs/", timeout=HTTP_TIMEOUT_S)
    if response.status_code != 200 or "swagger-ui" not in response.text:
        raise SmokeFailure(f"/api/docs/ answered {response.status_code}")
    collector = AssetCollector()
    collector.feed(response.text)
    same_origin = [urljoin(f"{base}/api/docs/", url) for url in collector.urls]
    same_origin = [url for url in same_origin if url.startswith(base)]
    static = [url for url in same_origin if urlsplit(url).path.startswith("/static/")]
    if len(static) < 3:
        raise SmokeFailure(f"/api/docs/ references too few /static/ assets: {collector.urls}")
    for url in same_origin:
        asset = requests.get(url, timeout=HTTP_TIMEOUT_S)
        if asset.status_code != 200 or not asset.content:
            raise SmokeFailure(f"{url} answered {asset.status_code} ({len(asset.content)} bytes)")
        print(f"200 {urlsplit(url).path} ({len(asset.content)} bytes, {asset.headers.get('Cache-Control', '-')})")


def check_metrics(base: str) -> None:
    """``/metrics`` answers with request counters, aggregated from the workers' files."""
    response = requests.get(f"{base}/metrics", timeout=HTTP_TIMEOUT_S)
    if response.status_code != 200 or "django_http_requests_total_by_method_total" not in response.text:
        raise SmokeFailure(f"/metrics answered {response.status_code} without request counters")
    print("200 /metrics")


def check_json_logs(log_path: Path) -> None:
    """Gunicorn's own log lines are JSON objects (gunicorn.conf.py logconfig_dict), like the app's."""
    gunicorn_lines = 0
    for line in log_path.read_text(errors="replace").splitlines():
        if '"gunicorn.error"' not in line:
            continue
        record = json.loads(line)
        if record.get("logger") != "gunicorn.error" or "request_id" not in record:
            raise SmokeFailure(f"unexpected Gunicorn log line: {line}")
        gunicorn_lines += 1
    if gunicorn_lines == 0:
        raise SmokeFailure("no JSON log line from gunicorn.error")
    print(f"{gunicorn_lines} Gunicorn log lines, all JSON")


def slow_request_path(base: str) -> str:
    """The token endpoint if this version has it (a real POST target), else the liveness probe (405)."""
    try:
        probe = requests.options(f"{base}/api/v1/auth/token/", timeout=HTTP_TIMEOUT_S)
    except requests.RequestException:
        probe = None
    if probe is not None and probe.status_code != 404:
        return "/api/v1/auth/token/"
    return "/api/v1/health/"


def read_http_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read one complete HTTP/1.1 response with a Content-Length body; return (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SmokeFailure(f"connection closed before the response headers ended: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    if "content-length" not in headers:
        raise SmokeFailure(f"response without Content-Length: {lines}")
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise SmokeFailure(f"connection closed after {len(body)} of {length} body bytes")
        body += chunk
    return status, body[:length]


def check_graceful_shutdown(port: int, workdir: Path, process: subprocess.Popen[bytes]) -> None:
    """SIGTERM during an in-flight request: the request completes, then the master exits in time."""
    graceful_timeout = float(load_gunicorn_setting("graceful_timeout"))
    master_pid = int((workdir / "gunicorn.pid").read_text().strip())
    base = f"http://127.0.0.1:{port}"
    path = slow_request_path(base)
    body = json.dumps({"username": "smoke-no-such-user", "password": "x" * 40}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    sigterm_at: list[float] = []

    def send_sigterm() -> None:
        os.kill(master_pid, signal.SIGTERM)
        sigterm_at.append(time.monotonic())

    timer = threading.Timer(SIGTERM_AFTER_S, send_sigterm)
    with socket.create_connection(("127.0.0.1", port), timeout=graceful_timeout + 5) as sock:
        sock.sendall(head)
        started = time.monotonic()
        timer.start()
        pieces = 12
        step_bytes = -(-len(body) // pieces)
        try:
            for offset in range(0, len(body), step_bytes):
                time.sleep(TRICKLE_SECONDS / pieces)
                sock.sendall(body[offset : offset + step_bytes])
            timer.join(timeout=5)
            if not sigterm_at or sigterm_at[0] - started > TRICKLE_SECONDS:
                raise SmokeFailure("SIGTERM was not sent while the body was still arriving")
            status, response_body = read_http_response(sock)
        except (BrokenPipeError, ConnectionResetError) as exc:
            elapsed = time.monotonic() - started
            raise SmokeFailure(f"the in-flight request was cut off {elapsed:.1f}s in, after SIGTERM: {exc}") from exc
        finally:
            timer.cancel()
    finished = time.monotonic()
    problem = json.loads(response_body)
    if problem.get("status") != status or status >= 500:
        raise SmokeFailure(f"in-flight request got {status}: {response_body[:300]!r}")
    print(
        f"POST {path} with a {TRICKLE_SECONDS:.0f}s body: SIGTERM at +{sigterm_at[0] - started:.1f}s, "
        f"complete {status} response at +{finished - started:.1f}s"
    )

    try:
        process.wait(timeout=graceful_timeout + 5)
    except subprocess.TimeoutExpired as exc:
        raise SmokeFailure(f"Gunicorn did not exit within graceful_timeout ({graceful_timeout:.0f}s)") from exc
    exited_after = time.monotonic() - sigterm_at[0]
    if pid_alive(master_pid):
        raise SmokeFailure(f"Gunicorn master {master_pid} still running after make exited")
    if exited_after > graceful_timeout:
        raise SmokeFailure(f"master exited {exited_after:.1f}s after SIGTERM, more than {graceful_timeout:.0f}s")
    if process.returncode != 0:
        raise SmokeFailure(f"make serve exited {process.returncode} after SIGTERM")
    print(f"master exited {exited_after:.1f}s after SIGTERM (graceful_timeout {graceful_timeout:.0f}s), status 0")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def load_gunicorn_setting(name: str) -> object:
    """A value from gunicorn.conf.py, read the way Gunicorn reads it (executing the file)."""
    namespace: dict[str, object] = {"__file__": str(ROOT / "gunicorn.conf.py"), "__name__": "__config__"}
    # The repository's own config file, executed exactly as Gunicorn executes it; no outside input.
    code = compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec")
    # Gunicorn runs from the repository root with it on sys.path, so the file imports core_project.
    sys.path.insert(0, str(ROOT))
    try:
        exec(code, namespace)  # noqa: S102  # nosec B102
    finally:
        sys.path.remove(str(ROOT))
    return namespace[name]


def main() -> int:
    """Run every check; print the server log and return 1 on the first failure."""
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="parcel-serve-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        env = serve_environment(port, workdir)
        log_path = workdir / "serve.log"
        base = f"http://127.0.0.1:{port}"
        try:
            step("migrate (production settings)")
            prepare_database(env)
            step(f"make serve on 127.0.0.1:{port}")
            with running_server(env, log_path) as process:
                wait_until_healthy(base, process)
                step("Dockerfile HEALTHCHECK")
                check_healthcheck(port, env)
                step("Swagger UI and its static assets")
                check_docs(base)
                step("metrics and logs")
                check_metrics(base)
                check_json_logs(log_path)
                step("graceful shutdown with a request in flight")
                check_graceful_shutdown(port, workdir, process)
        except (SmokeFailure, requests.RequestException, OSError, ValueError, subprocess.SubprocessError) as exc:
            print(f"SMOKE FAILED: {exc}", file=sys.stderr)
            if log_path.exists():
                print("--- server log (last 60 lines)", file=sys.stderr)
                print("\n".join(log_path.read_text(errors="replace").splitlines()[-60:]), file=sys.stderr)
            return 1
    print("serve smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
