"""Would a django-redis COMPRESSOR pay off for the documents this service caches?

Renders the two cached documents exactly as the service stores them (django-redis pickles the value, then
compresses it): a parcel detail document (``render_parcel``) and a tracking document with a few events
(``DocumentCache._tracking_document``). For each compressor available here it prints the stored size and
the CPU time of one compress + one decompress (the cost a write and a read would each pay), and, when
REDIS_URL is set, the time of one GET of the plain and the compressed value over that connection.

    .venv/bin/python bench/compression.py                                  # zlib, gzip, lzma (+ lz4/zstd if installed)
    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/compression.py

Uses an in-memory SQLite database; writes nothing anywhere else (the Redis key it uses is deleted).
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import timeit
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "core_project.settings.test"
os.environ["DATABASE_URL"] = "sqlite:///:memory:"
redis_url = os.environ.pop("REDIS_URL", "")  # the documents are rendered with local memory; Redis is only timed

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_redis.serializers.pickle import PickleSerializer  # noqa: E402

from parcel_service.api.documents import DocumentCache, render_parcel  # noqa: E402
from parcel_service.models import ParcelStatus  # noqa: E402
from parcel_service.tests.factories import ParcelFactory, TrackingEventFactory  # noqa: E402

COMPRESSORS = {
    "zlib (django-redis default preset 6)": ("django_redis.compressors.zlib", "ZlibCompressor", "zlib"),
    "gzip": ("django_redis.compressors.gzip", "GzipCompressor", "gzip"),
    "lzma": ("django_redis.compressors.lzma", "LzmaCompressor", "lzma"),
    "lz4": ("django_redis.compressors.lz4", "Lz4Compressor", "lz4"),
    "zstd": ("django_redis.compressors.zstd", "ZStdCompressor", "pyzstd"),
}


def documents() -> dict[str, bytes]:
    """The two cached documents of one typical parcel, pickled as django-redis stores them."""
    call_command("migrate", verbosity=0)
    parcel = ParcelFactory(
        status=ParcelStatus.OUT_FOR_DELIVERY,
        reference="ORDER-1001",
        recipient_name="Grace Hopper",
        length_mm=300,
        width_mm=200,
        height_mm=150,
        estimated_delivery=date.today() + timedelta(days=2),
    )
    now = timezone.now()
    for hours, (status, location) in enumerate(
        [
            (ParcelStatus.IN_TRANSIT, "Amsterdam hub"),
            (ParcelStatus.IN_TRANSIT, "Utrecht sorting centre"),
            (ParcelStatus.IN_TRANSIT, "Berlin hub"),
            (ParcelStatus.OUT_FOR_DELIVERY, "Berlin Mitte depot"),
        ]
    ):
        TrackingEventFactory(parcel=parcel, status=status, location=location, occurred_at=now + timedelta(hours=hours))
    parcel.refresh_from_db()
    pickle = PickleSerializer({})
    detail = render_parcel(parcel)
    tracking = DocumentCache._tracking_document(parcel.tracking_number)
    print(f"detail JSON {len(detail.body)} B, tracking JSON ({parcel.events.count()} events) {len(tracking)} B")
    return {"detail": pickle.dumps(detail), "tracking": pickle.dumps(tracking)}


def microseconds(func, number: int = 2000, repeat: int = 7) -> float:
    """Best of ``repeat`` runs, per call: the least disturbed by the rest of the machine."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def get_microseconds(redis, plain: bytes, packed: bytes) -> tuple[float, float]:
    """One GET of each value, measured in alternation so both see the same machine."""
    best = {"plain": float("inf"), "packed": float("inf")}
    for _ in range(7):
        for label, value in (("plain", plain), ("packed", packed)):
            redis.set("compression-bench", value)
            best[label] = min(best[label], microseconds(lambda: redis.get("compression-bench"), 1000, 1))
    return best["plain"], best["packed"]


def main() -> None:
    """Print one row per document and compressor."""
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    docs = documents()
    redis = None
    if redis_url:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(redis_url)
    print("| document | compressor | stored bytes | saved | compress µs | decompress µs | GET µs plain → compressed |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name, stored in docs.items():
        print(f"| {name} | none (today) | {len(stored)} | - | - | - | - |")
        for label, (module, cls, needs) in COMPRESSORS.items():
            try:
                importlib.import_module(needs)
                compressor = getattr(importlib.import_module(module), cls)({})
            except ImportError:
                print(f"| {name} | {label} | not installed | | | | |")
                continue
            packed = compressor.compress(stored)
            assert compressor.decompress(packed) == stored
            compress = microseconds(lambda c=compressor, v=stored: c.compress(v))
            decompress = microseconds(lambda c=compressor, p=packed: c.decompress(p))
            get = "-"
            if redis is not None:
                get = "{:.0f} → {:.0f}".format(*get_microseconds(redis, stored, packed))
            saved = len(stored) - len(packed)
            print(
                f"| {name} | {label} | {len(packed)} | {saved} B ({saved / len(stored):.0%}) "
                f"| {compress:.1f} | {decompress:.1f} | {get} |"
            )
    if redis is not None:
        redis.delete("compression-bench")


if __name__ == "__main__":
    main()
