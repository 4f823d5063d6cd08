"""The policy's form-action names where the site's form posts may lead."""

from typing import Any

import pytest
from django.test import Client

from demo.csp import policy
from hardened_auth.oidc import openid_connect_app, openid_connect_settings

pytestmark = pytest.mark.django_db

LOCAL_PROVIDER = "market.provider.LocalProvider"


def _form_action(header: str) -> list[str]:
    [directive] = [d for d in header.split("; ") if d.startswith("form-action ")]
    return directive.split()[1:]


def _with_issuer(settings: Any, server_url: str) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": openid_connect_settings(
            openid_connect_app(
                provider_id="initech",
                name="Initech SSO",
                server_url=server_url,
                client_id="id",
                secret="secret",
            )
        )
    }


def test_every_page_carries_the_policy(settings: Any) -> None:
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER

    header = Client().get("/accounts/login/")["Content-Security-Policy"]

    assert header == policy()
    assert _form_action(header) == ["'self'"]
    assert "unsafe-inline" not in header


def test_the_real_stripe_provider_allows_hosted_checkout(settings: Any) -> None:
    settings.HARDENED_PAYMENTS_PROVIDER = (
        "hardened_payments.internal.stripe_provider.StripeProvider"
    )

    assert _form_action(policy()) == ["'self'", "https://checkout.stripe.com"]


def test_a_configured_provider_adds_its_issuers_origin(settings: Any) -> None:
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    _with_issuer(settings, "https://idp.example.com:8443/realms/initech")

    header = Client().get("/accounts/login/")["Content-Security-Policy"]

    assert _form_action(header) == ["'self'", "https://idp.example.com:8443"]


def test_the_demo_provider_adds_both_loopback_names(settings: Any) -> None:
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    settings.SANDBOX_DEMO_IDP = True
    settings.SANDBOX_DEMO_IDP_ISSUER = "http://127.0.0.1:8000/idp"
    _with_issuer(settings, "http://127.0.0.1:8000/idp")

    assert _form_action(policy()) == [
        "'self'",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
    ]


@pytest.mark.parametrize(
    "server_url",
    [
        "https://idp.example.com; script-src *",
        "https://idp.example.com 'unsafe-inline'",
        "javascript:alert(1)",
        "idp.example.com",
        "",
    ],
)
def test_an_issuer_that_is_not_a_plain_origin_adds_nothing(
    settings: Any, server_url: str
) -> None:
    settings.HARDENED_PAYMENTS_PROVIDER = LOCAL_PROVIDER
    _with_issuer(settings, server_url)

    header = policy()

    assert _form_action(header) == ["'self'"]
    assert "unsafe-inline" not in header
    assert header.count(";") == 8
