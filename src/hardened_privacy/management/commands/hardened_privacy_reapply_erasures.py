from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from hardened_privacy.internal.subject import erase_subject, ledger_subjects


class Command(BaseCommand):
    help = (
        "Erase again every subject listed in the erasure ledger and table; run "
        "after restoring a database backup. Safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the subjects that would be erased again; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()._base_manager
        present = [s for s in ledger_subjects() if users.filter(pk=s).exists()]
        if options["dry_run"]:
            for subject in present:
                self.stdout.write(f"Would erase subject {subject} again.")
            self.stdout.write(f"{len(present)} erasures would be re-applied (dry run).")
            return
        for number, subject in enumerate(present, start=1):
            erase_subject(subject, "reapply")
            self.stdout.write(f"  {number}/{len(present)}: subject {subject} erased")
        self.stdout.write(f"Re-applied {len(present)} erasures.")
