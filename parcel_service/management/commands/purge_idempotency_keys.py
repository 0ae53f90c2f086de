"""``manage.py purge_idempotency_keys``: delete Idempotency-Key records past their 24 h lifetime (beat runs it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from parcel_service.api.idempotency import purge_expired


class Command(BaseCommand):
    """Delete expired idempotency records; lookups already ignore them, this reclaims the space."""

    help = "Delete expired Idempotency-Key records."

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge and report how many records went."""
        self.stdout.write(f"deleted {purge_expired()} expired idempotency records")
