from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from hardened_privacy.internal.subject import erase_subject, ledger_subjects


class Command(BaseCommand):
    help = (
        "Erase again every subject listed in the erasure ledger and table; run "
        "after restoring a database backup."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        count = 0
        for subject in ledger_subjects():
            if user_model._base_manager.filter(pk=subject).exists():
                erase_subject(subject, "reapply")
                count += 1
        self.stdout.write(f"Re-applied {count} erasures.")
