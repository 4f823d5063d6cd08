"""Copy processed webhook events that dj-stripe does not hold yet into it."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_payments.internal import djstripe_mirror
from hardened_payments.models import WebhookEvent


class Command(BaseCommand):
    help = "Mirror processed webhook events missing from dj-stripe's tables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what is missing; copy nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not djstripe_mirror.enabled():
            raise CommandError(
                "HARDENED_PAYMENTS_DJSTRIPE_MIRROR is off or djstripe is not installed."
            )
        batch_size = max(1, options["batch_size"])
        processed = WebhookEvent.objects.filter(
            status=WebhookEvent.Status.PROCESSED
        ).order_by("pk")
        rows = list(processed.values_list("pk", "event_id"))

        missing: list[int] = []
        for start in range(0, len(rows), batch_size):
            batch = dict(rows[start : start + batch_size])
            absent = djstripe_mirror.missing(batch.values())
            missing += [pk for pk, event_id in batch.items() if event_id in absent]
        if options["dry_run"]:
            self.stdout.write(f"{len(missing)} events are missing (dry run).")
            return

        copied = 0
        for pk in missing:
            event = WebhookEvent.objects.get(pk=pk)
            copied += djstripe_mirror.mirror(event.payload)
        self.stdout.write(
            self.style.SUCCESS(f"Done: {copied} of {len(missing)} events mirrored.")
        )
        if copied < len(missing):
            raise CommandError(f"{len(missing) - copied} events could not be mirrored.")
