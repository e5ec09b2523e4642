"""Re-encrypt every stored token under the newest key of FIELD_ENCRYPTION_KEYS.

Rows are rewritten in small batches, each in its own transaction, so the command is safe to
interrupt and re-run: a row is readable under any listed key at every moment.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from tqdm import tqdm

from social import crypto
from social.models import SocialAccount

ENCRYPTED_COLUMNS = ("access_token", "refresh_token")


class Command(BaseCommand):
    help = "Re-encrypt every SocialAccount token under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size: int, **options) -> None:
        table = connection.ops.quote_name(SocialAccount._meta.db_table)
        ids = list(SocialAccount.objects.order_by("pk").values_list("pk", flat=True))
        rotated = 0
        progress = tqdm(total=len(ids), unit="account", disable=options["verbosity"] < 1, file=self.stdout)
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            with transaction.atomic(), connection.cursor() as cursor:
                # Raw SQL: the model field would decrypt and re-encrypt, but we must not load plaintext
                # into the ORM cache, and we want to rewrite the exact stored ciphertext.
                lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
                placeholders = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT id, {', '.join(ENCRYPTED_COLUMNS)} FROM {table} WHERE id IN ({placeholders}){lock}",  # noqa: S608
                    chunk,
                )
                for row_id, *values in cursor.fetchall():
                    try:
                        new_values = [crypto.rotate(v) if v else v for v in values]
                    except crypto.InvalidToken:
                        raise CommandError(
                            f"SocialAccount {row_id} holds a token no listed key can decrypt; "
                            "keep the old key in FIELD_ENCRYPTION_KEYS until every row is rotated."
                        ) from None
                    cursor.execute(
                        f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in ENCRYPTED_COLUMNS)} WHERE id = %s",  # noqa: S608
                        [*new_values, row_id],
                    )
                    rotated += 1
            progress.update(len(chunk))
        progress.close()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} account(s) under the newest key."))
