from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_privacy.internal.subject import erase_subject


class Command(BaseCommand):
    help = (
        "Anonymise one user's personal data, keep records on legal hold, and "
        "record the erasure so it can be re-applied after a restore."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id")
        parser.add_argument("--requested-by", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if not user_model._base_manager.filter(pk=options["user_id"]).exists():
            raise CommandError(f"No user with id {options['user_id']}.")
        record = erase_subject(options["user_id"], options["requested_by"])
        self.stdout.write(
            f"Erased {record.fields_erased} fields of user {record.subject}."
        )
        for held in record.retained:
            self.stdout.write(
                f"Kept {held['rows']} {held['model']} rows: {held['reason']}"
            )
