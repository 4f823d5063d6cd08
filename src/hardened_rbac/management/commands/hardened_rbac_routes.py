"""Print every route with its guards; fail while one is unguarded."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_rbac.routes import as_markdown, inventory


class Command(BaseCommand):
    help = (
        "List every URL pattern with its view, authentication, policy, rate "
        "limit and CSRF status; exit 1 while a route lacks a policy or an "
        "authentication requirement and is not marked public."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=["markdown", "json"], default="markdown"
        )
        parser.add_argument(
            "--urlconf", default=None, help="A URL module other than ROOT_URLCONF."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        routes = inventory(options["urlconf"])
        if options["format"] == "json":
            self.stdout.write(
                json.dumps([route.as_dict() for route in routes], indent=2)
            )
        else:
            self.stdout.write(as_markdown(routes), ending="")
        failing = [route for route in routes if route.problems]
        if failing:
            raise CommandError(
                f"{len(failing)} of {len(routes)} routes lack a policy or an "
                "authentication requirement and are not marked public.",
                returncode=1,
            )
