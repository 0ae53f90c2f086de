"""The per-request floor in-process: CPU microseconds per request of the WSGI application, no Gunicorn, no network.

Usage (after ``make bench`` seeded ``<BENCH_DB>_10k``; ``BENCH_REDIS_DB`` as for the bench)::

    .venv/bin/python bench/floor.py --chains                    # middleware chains compared in one process
    .venv/bin/python bench/floor.py --chains --variant tracing  # the same, instrumented for tracing
    .venv/bin/python bench/floor.py                             # process variants: tracing off / on
    .venv/bin/python bench/floor.py --profile health            # cProfile of one path (top functions)

Calls ``core_project.wsgi.application`` directly with a prepared WSGI environ, as Gunicorn's sync worker
would, for the health probe, a warm tracking read and a warm detail read, and reports µs of process CPU per
request: the least over rounds of batches (outside load only ever adds). With ``--chains`` the chains of
``CHAINS`` take turns batch by batch in one process, so a change is a difference of two numbers measured
side by side ("before: …" rows put back what the service used before; "- …" rows leave one thing out).
Log lines go to /dev/null (formatted and written all the same).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres:bench@127.0.0.1:5432")
DATABASE = f"{os.environ.get('BENCH_DB', 'parcel_bench')}_{os.environ.get('BENCH_DATASET', '10k')}"
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "13")

# Process variants: environment on top of the bench's production settings (read once, at start-up).
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    # Exporting to an OTLP sink in this process (answers 200), as the bench does; "{sink}" is its URL.
    "tracing": {"OTEL_EXPORTER_OTLP_ENDPOINT": "{sink}"},
    "tracing, nothing sampled": {"OTEL_EXPORTER_OTLP_ENDPOINT": "{sink}", "OTEL_TRACES_SAMPLER_ARG": "0"},
    "tracing, everything sampled": {"OTEL_EXPORTER_OTLP_ENDPOINT": "{sink}", "OTEL_TRACES_SAMPLER_ARG": "1"},
}
# Middleware chains compared within one process. "drop": leave out the classes whose path contains one of these
# ("access_line" silences the access logger, "db_metrics" removes the statement timer); "swap": replace a class
# by another (the "before" rows put back what an earlier version used); "formatter": the log lines' formatter.
_SITE = "parcel_service.http.middleware.Site"
_BEFORE_SITE = {
    f"{_SITE}SessionMiddleware": "django.contrib.sessions.middleware.SessionMiddleware",
    f"{_SITE}AuthenticationMiddleware": "django.contrib.auth.middleware.AuthenticationMiddleware",
    f"{_SITE}MessageMiddleware": "django.contrib.messages.middleware.MessageMiddleware",
}
_BEFORE_METRICS = {
    "parcel_service.http.middleware.PrometheusMetricsMiddleware": (
        "django_prometheus.middleware.PrometheusAfterMiddleware"
    )
}
_BEFORE_TRACING = {
    "parcel_service.http.tracing_middleware.TracingMiddleware": (
        "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
    )
}
_JSON_DUMPS = "pythonjsonlogger.json.JsonFormatter"
CHAINS: dict[str, dict[str, Any]] = {
    "as configured": {},
    "before: Django's session, auth, messages on /api/": {"swap": _BEFORE_SITE},
    "before: django-prometheus' label lookups": {"swap": _BEFORE_METRICS},
    "before: log lines by json.dumps": {"formatter": _JSON_DUMPS},
    "before: the instrumentation's middleware (tracing only)": {"swap": _BEFORE_TRACING},
    "before: all of the above": {
        "swap": {**_BEFORE_SITE, **_BEFORE_METRICS, **_BEFORE_TRACING},
        "formatter": _JSON_DUMPS,
    },
    "- the tracing middleware (tracing only)": {"drop": ("tracing_middleware", "otel_middleware")},
    "- access line": {"drop": ("access_line",)},
    "- metrics (middleware, statement timer)": {"drop": ("django_prometheus", "PrometheusMetrics", "db_metrics")},
    "- csrf": {"drop": ("csrf",)},
    "- whitenoise": {"drop": ("whitenoise",)},
    "- cors": {"drop": ("corsheaders",)},
    "- axes": {"drop": ("axes",)},
    "- security, x-frame, csp": {"drop": ("security.Security", "clickjacking", "ContentSecurity")},
    "- common": {"drop": ("common.Common",)},
    "- body limit": {"drop": ("BodySize",)},
    "- all but the request id (access line kept)": {
        "drop": ("django", "corsheaders", "whitenoise", "axes", "BodySize", "Https", "Content", "Site", "Prometheus")
    },
}
ROUNDS = int(os.environ.get("FLOOR_ROUNDS", "12"))
BATCH = int(os.environ.get("FLOOR_BATCH", "200"))
PATHS = ("health", "tracking_warm", "detail")


def child_env(variant: str, extra: dict[str, str]) -> dict[str, str]:
    """Production settings on the bench database, throttles out of the way, plus the variant's switches."""
    env = {
        k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "USER") or k.startswith("FLOOR_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="core_project.settings.prod",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=f"{PG_URL.rstrip('/')}/{DATABASE}",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        THROTTLE_ANON="1000000/min",
        THROTTLE_USER="1000000/min",
        OTEL_TRACES_SAMPLER_ARG="0.1",
    )
    env.update({k: v.replace("{sink}", sink_url()) for k, v in VARIANTS[variant].items()})
    env.update(extra)
    return env


_SINK: list[Any] = []


def sink_url() -> str:
    """URL of the OTLP sink this process runs for the traced variants (started on first use)."""
    if not _SINK:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench import OtlpSink

        _SINK.append(OtlpSink())
    return str(_SINK[0].url)


def measure(paths: tuple[str, ...], profile: str | None, chains: bool) -> dict[str, Any]:
    """In the child: time each path's requests through the WSGI application; return µs of CPU per request."""
    sys.path.insert(0, str(ROOT))
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # the log lines: formatted and written, not kept
    import django

    django.setup()  # before any model import (DJANGO_SETTINGS_MODULE is in the environment)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework_simplejwt.tokens import AccessToken

    from core_project.wsgi import application

    shipper = get_user_model().objects.get(username="bench-shipper")
    token = str(AccessToken.for_user(shipper))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tracking_number, id::text FROM parcel_service_parcel WHERE owner_id = %s "
            "AND reference LIKE 'seed-%%' ORDER BY id LIMIT 50",
            [shipper.id],
        )
        rows = cursor.fetchall()

    def environ(path: str, auth: bool = False) -> dict[str, Any]:
        env = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "RAW_URI": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_USER_AGENT": "wrk",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if auth:
            env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return env

    requests = {
        "health": [("/api/v1/health/", False)],
        "tracking_warm": [(f"/api/v1/track/{number}/", False) for number, _ in rows],
        "detail": [(f"/api/v1/parcels/{parcel_id}/", True) for _, parcel_id in rows],
    }
    only = os.environ.get("FLOOR_CHAINS", "")  # a substring: only the chains whose name has it (and the first)
    selected = {k: v for i, (k, v) in enumerate(CHAINS.items()) if not i or only in k}
    handlers = {name: handler(**spec) for name, spec in selected.items()} if chains else {"default": application}
    statuses: dict[str, set[str]] = {}

    def call(app: Any, path: str, auth: bool) -> str:
        seen: list[str] = []
        body = app(environ(path, auth), lambda status, headers, exc=None: seen.append(status))
        for _ in body:
            pass
        body.close()
        return seen[0]

    def batch(app: Any, name: str, count: int) -> None:
        items = requests[name]
        for i in range(count):
            statuses.setdefault(name, set()).add(call(app, *items[i % len(items)]))

    for app in handlers.values():
        for name in paths:
            batch(app, name, 300)  # warm-up: caches filled, connections open, lazy imports done
    # As gunicorn.conf.py's post_worker_init: what start-up loaded is frozen out of the collector's view.
    gc.collect()
    gc.freeze()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        batch(application, profile, 3000)
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("cumulative").print_stats("opentelemetry|tracing", 40)  # what tracing adds
        stats.sort_stats("tottime").print_stats("opentelemetry|tracing", 25)
        return {}
    # The chains take turns, batch by batch, so outside load falls on all of them alike; the least CPU time of
    # each is kept (load only ever adds).
    best: dict[str, dict[str, float]] = {}
    for _ in range(ROUNDS):
        for chain, app in handlers.items():
            for name in paths:
                started = time.process_time()
                batch(app, name, BATCH)
                us = (time.process_time() - started) / BATCH * 1e6
                mine = best.setdefault(chain, {})
                mine[name] = round(min(mine.get(name, 1e9), us), 1)
    bad = {name: sorted(seen) for name, seen in statuses.items() if seen != {"200 OK"}}
    if bad:
        raise SystemExit(f"unexpected statuses {bad}")
    return best


def handler(drop: tuple[str, ...] = (), swap: dict[str, str] | None = None, formatter: str = "") -> Any:
    """A WSGI handler with its own middleware chain and log formatter (see ``CHAINS``)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import override_settings
    from django.utils.module_loading import import_string

    from core_project.logformat import JSON_FORMATTER
    from core_project.wsgi import application
    from parcel_service import metrics

    swap = swap or {}
    middleware = [swap.get(m, m) for m in settings_middleware() if not any(d in m for d in drop)]
    with override_settings(MIDDLEWARE=middleware):
        inner = WSGIHandler()
    access = logging.getLogger("parcel_service.access")
    handlers = logging.getLogger().handlers
    options = {k: v for k, v in JSON_FORMATTER.items() if k != "()"}
    own_formatter = import_string(formatter)(**options) if formatter else None

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        # The chunked-body wrapper of core_project.wsgi stays in front, as in production.
        level = access.level
        wrappers = list(connection.execute_wrappers)
        formatters = [h.formatter for h in handlers]
        if "access_line" in drop:
            access.setLevel(logging.WARNING)
        if "db_metrics" in drop and metrics.timed_query in connection.execute_wrappers:
            connection.execute_wrappers.remove(metrics.timed_query)
        if own_formatter is not None:
            for h in handlers:
                h.setFormatter(own_formatter)
        try:
            application.application = inner
            return application(environ, start_response)
        finally:
            access.setLevel(level)
            connection.execute_wrappers[:] = wrappers
            for h, f in zip(handlers, formatters, strict=True):
                h.setFormatter(f)

    return app


def settings_middleware() -> list[str]:
    """The configured middleware."""
    from django.conf import settings

    return list(settings.MIDDLEWARE)


def run_variant(
    variant: str, extra: dict[str, str], profile: str | None = None, chains: bool = False
) -> dict[str, Any]:
    """Measure one variant in a fresh process (settings are read once, at import)."""
    args = [sys.executable, __file__, "--child", "--variant", variant] + (["--chains"] if chains else [])
    if profile:
        args += ["--profile", profile]
    proc = subprocess.run(args, env=child_env(variant, extra), capture_output=True, text=True, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{proc.stderr[-3000:]}")
    if profile:
        print(proc.stderr)
        return {}
    return json.loads(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    """Parent: run the variants and print a table; child (``--child``): measure and print JSON on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS))
    parser.add_argument("--profile", choices=PATHS)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each variant, interleaved; the least is kept")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--chains", action="store_true", help="compare middleware chains in one process")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    if args.child:
        out = measure(PATHS, args.profile, args.chains)
        print(json.dumps(out), file=sys.stderr)
        return
    if args.profile:
        run_variant(args.variant or "default", extra, args.profile)
        return
    print(f"| variant | {' | '.join(f'{p} µs' for p in PATHS)} |")
    print(f"|---|{'---:|' * len(PATHS)}")
    if args.chains:
        for chain, result in run_variant(args.variant or "default", extra, chains=True).items():
            print(f"| {chain} | {' | '.join(str(result[p]) for p in PATHS)} |", flush=True)
        return
    variants = [args.variant] if args.variant else list(VARIANTS)
    # Rounds interleave the variants, and the least CPU time of each is kept: outside load only ever adds.
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for variant in variants:
            result = run_variant(variant, extra)["default"]
            for path in PATHS:
                best.setdefault(variant, {})[path] = min(best.get(variant, {}).get(path, 1e9), result[path])
    for variant in variants:
        print(f"| {variant} | {' | '.join(str(best[variant][p]) for p in PATHS)} |", flush=True)


if __name__ == "__main__":
    main()
