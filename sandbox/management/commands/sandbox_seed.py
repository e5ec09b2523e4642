from __future__ import annotations

from django.core.management.base import BaseCommand

from sandbox.seed import seed


class Command(BaseCommand):
    help = "Create the sandbox's Facebook users, Pages (Bakery Rossi, Rossi Catering, …) and customers. Idempotent."

    def handle(self, *args, **options) -> None:
        counts = seed()
        self.stdout.write(self.style.SUCCESS(
            f"Sandbox ready: {counts['users']} Facebook users, {counts['pages']} Pages, {counts['customers']} customers."
        ))
