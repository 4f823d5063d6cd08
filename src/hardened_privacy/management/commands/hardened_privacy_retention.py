import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from hardened_privacy.internal.retention import apply, plan

audit_logger = logging.getLogger("hardened_privacy.audit")


class Command(BaseCommand):
    help = (
        "Delete or anonymise data older than its retention. Without --apply it "
        "only reports what it would do."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = timezone.now()
        steps = plan()
        if not steps:
            self.stdout.write("No retention policies apply.")
            return
        total = 0
        for step in steps:
            if options["apply"]:
                count = apply(step, options["batch_size"], now)
                self.stdout.write(f"{step.label}: {count} rows done")
            else:
                count = step.queryset(now).count()
                self.stdout.write(f"{step.label}: {count} rows due (dry run)")
            total += count
        if options["apply"]:
            audit_logger.info(
                "privacy_retention_applied",
                extra={
                    "hardened_audit": {
                        "event": "privacy_retention_applied",
                        "actor": None,
                        "tenant": None,
                        "target": None,
                        "outcome": "success",
                        "ip": None,
                        "rows": total,
                    }
                },
            )
        self.stdout.write(f"Total: {total} rows")
