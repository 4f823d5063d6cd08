from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_privacy.internal.keyring import get_keyring
from hardened_privacy.internal.rotation import (
    Progress,
    encrypted_models,
    rotate,
    stale,
)


class Command(BaseCommand):
    help = (
        "Re-encrypt values stored under retired keys (or by django-cryptography) "
        "with the active key, in batches. Safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Stop after this many batches per model (resume later).",
        )
        parser.add_argument(
            "--model",
            action="append",
            help="Only this model ('app_label.Model'); may repeat.",
        )
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        active = get_keyring().require_active_key()
        wanted = {m.lower() for m in options["model"] or []}
        seen = set()
        using = options["database"]
        for model, fields in encrypted_models():
            label = model._meta.label
            if wanted and label.lower() not in wanted:
                continue
            seen.add(label.lower())
            if options["dry_run"]:
                count = (
                    model._base_manager.using(using)
                    .filter(stale(fields, active))
                    .count()
                )
                self.stdout.write(f"{label}: {count} rows would be re-encrypted")
                continue
            result = rotate(
                model,
                fields,
                active,
                batch_size=options["batch_size"],
                max_batches=options["max_batches"],
                using=using,
                report=self._report,
            )
            self.stdout.write(
                f"{label}: {result.done} of {result.pending_at_start} rows "
                f"re-encrypted under {active}"
            )
        missing = wanted - seen
        if missing:
            raise CommandError(f"No encrypted fields on: {', '.join(sorted(missing))}.")

    def _report(self, progress: Progress) -> None:
        self.stdout.write(
            f"  {progress.model}: batch {progress.batches}, "
            f"{progress.done}/{progress.pending_at_start}"
        )
