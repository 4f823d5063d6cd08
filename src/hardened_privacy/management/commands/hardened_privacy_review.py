"""List gated files changed since their last review; fail until recorded."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_privacy.exceptions import ReviewManifestError
from hardened_privacy.review import record_review, review_status


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "List migrations, auth gates and payment handlers changed since their "
        "recorded review, and fail until each change is recorded as reviewed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", help="Files to record (--record).")
        parser.add_argument("--root", default=".", help="Project root to scan.")
        parser.add_argument(
            "--manifest",
            help="Manifest path (default: HARDENED_PRIVACY_REVIEW_MANIFEST).",
        )
        parser.add_argument(
            "--record", action="store_true", help="Record a review of the paths."
        )
        parser.add_argument(
            "--all", action="store_true", help="With --record: every pending file."
        )
        parser.add_argument("--reviewer", help="Who reviewed (with --record).")
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["record"]:
                self._record(options)
            else:
                self._check(options)
        except ReviewManifestError as exc:
            raise CommandError(str(exc)) from exc

    def _record(self, options: dict[str, Any]) -> None:
        if not options["reviewer"]:
            raise CommandError("--record needs --reviewer NAME.")
        if bool(options["paths"]) == bool(options["all"]):
            raise CommandError("--record needs either file paths or --all.")
        recorded = record_review(
            options["reviewer"],
            None if options["all"] else options["paths"],
            root=options["root"],
            manifest=options["manifest"],
        )
        for entry in recorded:
            self.stdout.write(f"reviewed  {entry.status:<8} {entry.path}")
        self.stdout.write(self.style.SUCCESS(f"Recorded {len(recorded)} review(s)."))

    def _check(self, options: dict[str, Any]) -> None:
        if options["paths"] or options["all"] or options["reviewer"]:
            raise CommandError("Paths, --all and --reviewer go with --record.")
        entries = review_status(root=options["root"], manifest=options["manifest"])
        pending = [e for e in entries if e.pending]
        if options["json"]:
            self.stdout.write(
                json.dumps([e.__dict__ for e in entries], indent=2, sort_keys=True)
            )
        else:
            for entry in pending:
                self.stdout.write(
                    f"{entry.status:<8} {entry.category:<16} {entry.path}"
                )
        if pending:
            raise CommandError(
                f"{len(pending)} gated file(s) await review; record each with "
                "hardened_privacy_review --record --reviewer NAME PATH..."
            )
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(f"All {len(entries)} gated file(s) are reviewed.")
            )
