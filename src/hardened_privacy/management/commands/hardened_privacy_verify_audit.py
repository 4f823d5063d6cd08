from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_privacy.internal.audit import verify_chains


class Command(BaseCommand):
    help = "Verify the audit log's hash chains and name the first broken record."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--chain",
            action="append",
            help="Only this chain ('global' or 'tenant:<id>'); may repeat.",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        broken = 0
        for report in verify_chains(options["chain"], options["database"]):
            problem = report.problem
            if problem is None:
                self.stdout.write(f"{report.chain}: {report.count} records, intact")
                continue
            broken += 1
            self.stderr.write(
                f"{report.chain}: BROKEN at record id={problem.record_id} "
                f"sequence={problem.sequence}: {problem.reason}"
            )
        if broken:
            raise CommandError(f"{broken} audit chain(s) failed verification.")
