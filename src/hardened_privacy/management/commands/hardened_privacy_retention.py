import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from hardened_privacy.internal.retention import Progress, apply, plan

audit_logger = logging.getLogger("hardened_privacy.audit")


class Command(BaseCommand):
    help = (
        "Delete or anonymise data older than its retention. Without --apply it "
        "only reports what it would do. Safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Stop after this many batches per step (resume later).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["max_batches"] is not None and options["max_batches"] < 1:
            raise CommandError("--max-batches must be at least 1.")
        now = timezone.now()
        steps = plan()
        if not steps:
            self.stdout.write("No retention policies apply.")
            return
        total = 0
        for step in steps:
            if options["apply"]:
                progress = apply(
                    step,
                    options["batch_size"],
                    now,
                    max_batches=options["max_batches"],
                    report=self._report,
                )
                count = progress.done
                self.stdout.write(
                    f"{step.label}: {count} of {progress.due_at_start} rows done"
                )
            else:
                count = step.count_due(now, options["batch_size"])
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

    def _report(self, progress: Progress) -> None:
        self.stdout.write(
            f"  batch {progress.batches}, {progress.done}/{progress.due_at_start}"
        )
