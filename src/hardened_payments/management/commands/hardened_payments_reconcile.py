"""Compare the ledger with the provider for a period and list differences."""

from datetime import UTC, date, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_payments.exceptions import ProviderError
from hardened_payments.internal import audit
from hardened_payments.internal.reconcile import reconcile
from hardened_payments.providers import get_provider


def _day(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Compare succeeded payments, refunds, payouts and the transfers that "
        "fund them with the provider's balance transactions, and payouts with "
        "each connected account's payouts, from --since (inclusive) to --until "
        "(exclusive), UTC days. Reads only; exits with status 1 on differences."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, type=_day)
        parser.add_argument("--until", required=True, type=_day)
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = options["since"], options["until"]
        if end <= start:
            raise CommandError("--until must be after --since.")
        batch_size = options["batch_size"]
        if not 1 <= batch_size <= 100:
            raise CommandError("--batch-size must be from 1 to 100.")

        def progress(what: str, seen: int) -> None:
            self.stdout.write(f"Compared {seen} {what}.")

        try:
            differences = list(
                reconcile(
                    get_provider(), start, end, page_size=batch_size, progress=progress
                )
            )
        except ProviderError as exc:
            raise CommandError(str(exc)) from exc

        for difference in differences:
            self.stdout.write(str(difference))
        audit.emit(
            "reconciliation_completed",
            outcome="success" if not differences else "failure",
            target=f"{start.date()}..{end.date()}",
            differences=len(differences),
        )
        if differences:
            raise CommandError(f"{len(differences)} differences found.", returncode=1)
        self.stdout.write(self.style.SUCCESS("The ledger matches the provider."))
