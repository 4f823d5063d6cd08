"""Retry stored webhook events whose handlers failed, in batches."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q
from django.utils import timezone

from hardened_payments.internal.webhooks import process
from hardened_payments.models import WebhookEvent


class Command(BaseCommand):
    help = "Process pending webhook events and retry failed ones that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument(
            "--dry-run", action="store_true", help="List what is due; run nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = max(1, options["batch_size"])
        due = WebhookEvent.objects.filter(
            Q(status=WebhookEvent.Status.PENDING)
            | Q(
                status=WebhookEvent.Status.FAILED,
                next_attempt_at__lte=timezone.now(),
            )
        ).order_by("pk")
        pks = list(due.values_list("pk", flat=True))
        if options["dry_run"]:
            self.stdout.write(f"{len(pks)} events are due (dry run).")
            return

        processed = 0
        for start in range(0, len(pks), batch_size):
            for pk in pks[start : start + batch_size]:
                processed += process(pk)
            done = min(start + batch_size, len(pks))
            self.stdout.write(f"Tried {done}/{len(pks)} events.")
        self.stdout.write(
            self.style.SUCCESS(f"Done: {processed} of {len(pks)} events processed.")
        )
