"""Lazy, typed access to the ``HARDENED_PAYMENTS_*`` settings."""

from collections.abc import Sequence

from django.conf import settings

PREFIX = "HARDENED_PAYMENTS_"
DEFAULT_PROVIDER = "hardened_payments.internal.stripe_provider.StripeProvider"

# Stripe's published webhook source addresses (stripe.com/files/ips/
# ips_webhooks.txt); a site overrides them when Stripe publishes new ones.
STRIPE_WEBHOOK_IPS = (
    "3.18.12.63",
    "3.130.192.231",
    "13.235.14.237",
    "13.235.122.149",
    "18.211.135.69",
    "35.154.171.200",
    "52.15.183.38",
    "54.88.130.119",
    "54.88.130.237",
    "54.187.174.169",
    "54.187.205.235",
    "54.187.216.72",
)


class PaymentsSettings:
    """Each property reads its setting on access, so tests may override it."""

    def _get(self, name: str, default: object) -> object:
        return getattr(settings, PREFIX + name, default)

    @property
    def DEFAULT_CURRENCY(self) -> str:
        """ISO 4217 code used when a caller names no currency."""
        return str(self._get("DEFAULT_CURRENCY", "USD"))

    @property
    def IDEMPOTENCY_KEY_TTL(self) -> int:
        """Seconds a stored idempotency key and its response are kept."""
        return self._get("IDEMPOTENCY_KEY_TTL", 24 * 60 * 60)  # type: ignore[return-value]

    @property
    def IDEMPOTENCY_LOCK_TIMEOUT(self) -> int:
        """Seconds after which a request still marked running counts as dead.

        A retry with the same key and request then runs again; the key it
        forwards lets the provider answer with the first result.
        """
        return self._get("IDEMPOTENCY_LOCK_TIMEOUT", 300)  # type: ignore[return-value]

    @property
    def STRIPE_API_KEY(self) -> str:
        """Stripe secret key used for API calls; empty disables the calls."""
        return self._get("STRIPE_API_KEY", "")  # type: ignore[return-value]

    @property
    def PROVIDER(self) -> str:
        """Dotted path of the :class:`PaymentProvider` class the flows call."""
        return str(self._get("PROVIDER", DEFAULT_PROVIDER))

    @property
    def WEBHOOK_SECRETS(self) -> Sequence[str]:
        """Stripe endpoint signing secrets; several while one is rotated."""
        return self._get("WEBHOOK_SECRETS", ())  # type: ignore[return-value]

    @property
    def WEBHOOK_TOLERANCE(self) -> int:
        """Seconds a webhook's timestamp may be in the past or the future."""
        return self._get("WEBHOOK_TOLERANCE", 300)  # type: ignore[return-value]

    @property
    def WEBHOOK_ALLOWED_IPS(self) -> Sequence[str]:
        """Addresses or networks webhooks may come from (Stripe's by default)."""
        value = self._get("WEBHOOK_ALLOWED_IPS", STRIPE_WEBHOOK_IPS)
        return value  # type: ignore[return-value]

    @property
    def WEBHOOK_MAX_BODY_BYTES(self) -> int:
        """Largest webhook body read; larger ones are refused unread."""
        return self._get("WEBHOOK_MAX_BODY_BYTES", 256 * 1024)  # type: ignore[return-value]

    @property
    def WEBHOOK_MAX_ATTEMPTS(self) -> int:
        """How many times a failing event handler is tried before giving up."""
        return self._get("WEBHOOK_MAX_ATTEMPTS", 5)  # type: ignore[return-value]

    @property
    def WEBHOOK_PROVIDER_TIMEOUT(self) -> float:
        """Seconds one provider call made while handling a webhook may take.

        Such a call (re-fetching a payout) is tried once, without retries, so
        the webhook is answered well within the provider's delivery timeout;
        an event whose call timed out is retried by
        ``hardened_payments_process_webhooks``.
        """
        return self._get("WEBHOOK_PROVIDER_TIMEOUT", 3)  # type: ignore[return-value]

    @property
    def DJSTRIPE_MIRROR(self) -> bool:
        """Whether each processed webhook event is copied into dj-stripe's tables.

        Only events the webhook receiver verified and processed are copied, after
        their processing committed; dj-stripe's own endpoint stays unmounted.
        """
        return self._get("DJSTRIPE_MIRROR", False)  # type: ignore[return-value]

    @property
    def REFUND_STEP_UP_ABOVE(self) -> dict[str, int]:
        """Per currency, refunds above this many minor units need step-up.

        A currency that is not listed needs step-up for every refund.
        """
        default = {"USD": 10000, "EUR": 10000, "GBP": 10000}
        return self._get("REFUND_STEP_UP_ABOVE", default)  # type: ignore[return-value]


app_settings = PaymentsSettings()
