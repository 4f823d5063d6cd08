"""Delete idempotency keys whose time is up, in batches."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from hardened_payments.models import IdempotencyKey


class Command(BaseCommand):
    help = "Delete expired idempotency keys and their stored responses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--dry-run", action="store_true", help="Count, delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = timezone.now()
        expired = IdempotencyKey.objects.filter(expires_at__lte=now)
        total = expired.count()
        if options["dry_run"]:
            self.stdout.write(f"{total} expired keys would be deleted (dry run).")
            return

        done = 0
        while done < total:
            batch = list(
                expired.order_by("pk").values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            deleted, _ = IdempotencyKey.objects.filter(
                pk__in=batch, expires_at__lte=now
            ).delete()
            done += deleted
            self.stdout.write(f"Deleted {done}/{total} expired keys.")
        self.stdout.write(self.style.SUCCESS(f"Done: {done} expired keys deleted."))
