"""``manage.py create_demo_users``: demo accounts for local development (never in production)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from parcel_service.models import CARRIERS_GROUP

DEMO_USERS = (
    ("alice", "customer"),
    ("bob", "customer"),
    ("carl", "carrier"),
    ("admin", "staff"),
)


class Command(BaseCommand):
    """Create alice, bob (customers), carl (carrier) and admin (staff) with random passwords, printed once."""

    help = (
        "Create demo accounts (dev only). Existing accounts are left alone; new passwords are printed once. "
        "--reset gives the existing demo accounts new random passwords and prints them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--reset``."""
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Set new random passwords on the demo accounts that exist and print them (lost passwords).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Create whichever demo accounts are missing; with ``--reset``, re-password the existing ones."""
        if not getattr(settings, "DEMO_USERS_ENABLED", False):
            raise CommandError("Demo accounts are only created with development settings.")
        user_model = get_user_model()
        carriers, _ = Group.objects.get_or_create(name=CARRIERS_GROUP)
        for username, role in DEMO_USERS:
            existing = user_model.objects.filter(username=username).first()
            if existing is not None and not options["reset"]:
                self.stdout.write(f"{username:6} ({role}) exists; password unchanged (--reset sets a new one)")
                continue
            password = secrets.token_urlsafe(12)
            if existing is not None:
                existing.set_password(password)
                existing.save(update_fields=["password"])
                self.stdout.write(self.style.SUCCESS(f"{username:6} ({role}) new password: {password}"))
                continue
            user = user_model.objects.create_user(
                username=username,
                password=password,
                email=f"{username}@example.com",
                is_staff=role == "staff",
                is_superuser=role == "staff",
            )
            if role == "carrier":
                user.groups.add(carriers)
            self.stdout.write(self.style.SUCCESS(f"{username:6} ({role}) password: {password}"))
