"""Around each task the worker runs, database connections are closed as Django closes them after a request."""

from __future__ import annotations

from types import SimpleNamespace

import django.db

from parcel_service.webhooks.worker import _close_old_connections


def task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def test_a_task_run_by_the_worker_closes_old_connections(monkeypatch):
    calls = []
    monkeypatch.setattr(django.db, "close_old_connections", lambda: calls.append("closed"))
    _close_old_connections(sender=task(eager=False))
    assert calls == ["closed"]


def test_a_task_run_eagerly_leaves_the_callers_connections_alone(monkeypatch):
    # An eager task runs in the caller's process, perhaps inside its transaction: closing would break it.
    calls = []
    monkeypatch.setattr(django.db, "close_old_connections", lambda: calls.append("closed"))
    _close_old_connections(sender=task(eager=True))
    assert calls == []
