"""Lint prompt templates; exit non-zero on any finding (for CI)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_privacy.conf import app_settings
from hardened_privacy.prompts.lint import lint_prompts


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Check prompt templates for values outside delimiters, override "
        "instructions, secrets, variable mistakes and unversioned changes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "directories",
            nargs="*",
            help="Template directories (default: HARDENED_PRIVACY_PROMPT_DIRS).",
        )
        parser.add_argument(
            "--update-lock",
            action="store_true",
            help="Record new template versions in prompts.lock.json when clean.",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        directories = options["directories"] or None
        if directories is None and not app_settings.PROMPT_DIRS:
            self.stdout.write("HARDENED_PRIVACY_PROMPT_DIRS is empty; nothing to lint.")
            return
        findings = lint_prompts(directories, update_lock=options["update_lock"])
        if options["json"]:
            self.stdout.write(
                json.dumps([f.__dict__ for f in findings], indent=2, sort_keys=True)
            )
        else:
            for finding in findings:
                self.stdout.write(str(finding))
        if findings:
            raise CommandError(f"{len(findings)} prompt template finding(s).")
        self.stdout.write(self.style.SUCCESS("Prompt templates are clean."))
