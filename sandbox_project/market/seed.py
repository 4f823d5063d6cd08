"""Seed the marketplace: carol sells two things in acme and one in globex."""

from typing import Any, TextIO

from hardened_payments.conf import app_settings
from hardened_payments.internal import payouts
from hardened_payments.money import Money
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import use_tenant
from market import provider
from market.models import Listing

SELLER = "carol"
LISTINGS = {
    "acme": [
        ("Hand-thrown teapot", "Stoneware, holds four cups.", "45.00"),
        ("Linen tea towels", "A set of three, undyed.", "18.50"),
    ],
    "globex": [("Brass desk lamp", "Rewired, with a linen shade.", "120.00")],
}


def seed(tenants: dict[str, Tenant], users: dict[str, Any], stdout: TextIO) -> None:
    seller = users[SELLER]
    currency = app_settings.DEFAULT_CURRENCY
    for slug, items in LISTINGS.items():
        tenant = tenants[slug]
        with use_tenant(tenant):
            for title, description, price in items:
                Listing.objects.update_or_create(
                    seller=seller,
                    title=title,
                    defaults={
                        "description": description,
                        "price": Money.from_major(price, currency).amount,
                        "currency": currency,
                        "is_active": True,
                    },
                )
        if provider.is_active():
            payouts.set_destination(tenant, seller.pk, f"acct_sandbox{seller.pk}", None)

    stdout.write("Market: carol sells two things in acme and one in globex.")
    stdout.write("  Sign in as alice and buy at http://127.0.0.1:8000/t/acme/market/;")
    stdout.write("  sign in as carol to see the sale and her ledger balance at")
    stdout.write("  /t/acme/market/balance/, refund part of it from the order page,")
    stdout.write("  and pay out (payouts ask for a fresh code from carol's")
    stdout.write("  authenticator app, printed above).")
    if provider.is_active():
        stdout.write("  No Stripe keys are set, so the sandbox plays Stripe: its pages")
        stdout.write("  send signed events to /payments/webhooks/stripe/.")
    else:
        stdout.write("  Stripe test mode: forward events with `stripe listen")
        stdout.write("  --forward-to 127.0.0.1:8000/payments/webhooks/stripe/` and set")
        stdout.write("  carol's connected account on her balance page.")
