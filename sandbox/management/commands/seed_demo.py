from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the demo business, its owner login, a connected sandbox page and a few conversations (idempotent)."

    def handle(self, *args, **options) -> None:
        if not settings.SANDBOX:
            raise CommandError("Demo data needs the Messenger sandbox (SANDBOX is off).")
        from sandbox.demo import DEMO_EMAIL, DEMO_PASSWORD, demo_seed

        result = demo_seed()
        self.stdout.write(self.style.SUCCESS(
            f"Demo ready: business {result.business.name!r}, login {DEMO_EMAIL} / {DEMO_PASSWORD}"
            f" ({result.connected} account(s) connected, {result.messages} webhook(s) delivered this time)."
        ))
