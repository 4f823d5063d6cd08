"""Run synthetic sign-in and test-mode charge checks against a running site.

One JSON line per check goes through the ``hardened_auth.synthetic`` logger,
masked by ``hardened_privacy`` when it is installed; the exit status is
non-zero when any check failed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hardened_auth.conf import app_settings
from hardened_auth.internal import synthetic

logger = logging.getLogger("hardened_auth.synthetic")


class JSONLineFormatter(logging.Formatter):
    """The check's result fields as one JSON object, with time and level."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "synthetic", None)
        document = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            **(fields if isinstance(fields, dict) else {"message": record.msg}),
        }
        return json.dumps(document, default=str, sort_keys=True)


class Command(BaseCommand):
    help = (
        "Sign in as the synthetic account and make an idempotent test-mode "
        "charge against a running site; log one JSON line per check."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("base_url", help="The site, e.g. https://example.com")
        parser.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            help="Seconds each check may take in all (default 10).",
        )
        parser.add_argument("--login-path", default="/accounts/login/")
        parser.add_argument(
            "--account-path",
            default="/accounts/email/",
            help="A page only a signed-in user sees (default /accounts/email/).",
        )
        parser.add_argument(
            "--tenant",
            default=None,
            help="Tenant slug for the charge (default HARDENED_AUTH_SYNTHETIC_TENANT;"
            " no charge check when empty).",
        )
        parser.add_argument("--amount", type=int, default=100)
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--payment-method", default="pm_card_visa")

    def _handler(self) -> logging.Handler:
        handler = logging.StreamHandler(self.stdout)
        handler.setFormatter(JSONLineFormatter())
        if apps.is_installed("hardened_privacy"):
            from hardened_privacy.masking import MaskingFilter

            handler.addFilter(MaskingFilter())
        return handler

    def handle(self, *args: Any, **options: Any) -> None:
        email, password = app_settings.SYNTHETIC_EMAIL, app_settings.SYNTHETIC_PASSWORD
        if not email or not password:
            raise CommandError(
                "Set HARDENED_AUTH_SYNTHETIC_EMAIL and HARDENED_AUTH_SYNTHETIC_PASSWORD"
                " to the dedicated synthetic account."
            )
        if options["timeout"] <= 0:
            raise CommandError("--timeout must be a positive number of seconds.")
        tenant = options["tenant"]
        if tenant is None:
            tenant = app_settings.SYNTHETIC_TENANT
        base_url, timeout = options["base_url"], options["timeout"]
        credentials = {
            "email": email,
            "password": password,
            "login_path": options["login_path"],
            "account_path": options["account_path"],
        }

        results = []
        try:
            session = synthetic.Session(base_url, timeout)
        except ValueError as exc:
            raise CommandError(f"{base_url!r}: {exc}.") from None
        results.append(
            synthetic.run(
                "sign_in", session, lambda: synthetic.sign_in(session, **credentials)
            )
        )
        if tenant:
            buyer = synthetic.Session(base_url, timeout)

            def sign_in_and_charge() -> int:
                synthetic.sign_in(buyer, **credentials)
                return synthetic.charge(
                    buyer,
                    tenant=tenant,
                    amount=options["amount"],
                    currency=options["currency"],
                    payment_method=options["payment_method"],
                )

            results.append(synthetic.run("charge", buyer, sign_in_and_charge))

        handler = self._handler()
        logger.addHandler(handler)
        try:
            for result in results:
                level = logging.INFO if result.ok else logging.ERROR
                logger.log(
                    level,
                    "synthetic check %s",
                    result.check,
                    extra={"synthetic": result.as_dict()},
                )
        finally:
            logger.removeHandler(handler)
        failed = [r.check for r in results if not r.ok]
        if failed:
            raise CommandError(f"Synthetic checks failed: {', '.join(failed)}")
