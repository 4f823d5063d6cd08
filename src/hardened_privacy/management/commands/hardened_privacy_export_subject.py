import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_privacy.internal.subject import export_subject


class Command(BaseCommand):
    help = "Print, as JSON, every classified field held about one user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if not user_model._base_manager.filter(pk=options["user_id"]).exists():
            raise CommandError(f"No user with id {options['user_id']}.")
        document = export_subject(options["user_id"])
        self.stdout.write(json.dumps(document, indent=2, sort_keys=True))
