"""Signing in by a provider-verified email, against a real provider.

The provider is django-oauth-toolkit on the live test server (see
``oidc_provider``); its app turns allauth's ``email_authentication`` on, so
every test here is a provider asserting the address of a local account.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.checks import Error, Warning
from django.test import Client

from hardened_auth import checks
from hardened_auth.internal.oidc import PROVIDER_CLASS
from hardened_privacy.models import AuditRecord
from tests.hardened_auth.oidc_provider import PROVIDER_ID, Provider, running_provider
from tests.hardened_auth.oidc_provider import sign_in as run_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

THIS_MODULE = "tests.hardened_auth.test_social_adapter"
ADAPTER = "hardened_auth.social_adapter.SocialAccountAdapter"


def only_linked(provider_id: str, user: Any, email: str) -> bool:
    """Allows the provider ``initech`` into accounts named ``linked-*`` only."""
    return provider_id == PROVIDER_ID and str(user.username).startswith("linked-")


def says_yes_loosely(provider_id: str, user: Any, email: str) -> object:
    return "yes"


NOT_CALLABLE = 42


@pytest.fixture
def provider(live_server: Any, settings: Any) -> Iterator[Provider]:
    with running_provider(live_server, settings) as running:
        for app in settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]:
            app["settings"]["email_authentication"] = True
        settings.SOCIALACCOUNT_ADAPTER = ADAPTER
        settings.HARDENED_AUTH_OIDC_EMAIL_MATCH = f"{THIS_MODULE}.only_linked"
        yield running


def _account(username: str, email: str, **extra: Any) -> Any:
    user = get_user_model().objects.create_user(
        username, email, "a-long-password-0123", **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _signed_in_user_id(client: Client) -> str | None:
    value = client.session.get("_auth_user_id")
    return str(value) if value is not None else None


def _refusals() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(event="authn_sso_email_match_fail"))


def test_a_provider_asserting_the_superusers_email_is_refused(
    provider: Provider,
) -> None:
    admin = _account("root", "admin@example.com", is_staff=True, is_superuser=True)
    idp = provider.add_user("mallory", email="admin@example.com", email_verified=True)
    rp = Client()

    response = run_sign_in(rp, idp)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    [refusal] = _refusals()
    assert refusal.target == str(admin.pk)
    assert refusal.outcome == "denied"
    assert refusal.actor == ""


def test_an_allowed_account_is_signed_in_by_its_email(provider: Provider) -> None:
    linked = _account("linked-dana", "dana@initech.example")
    idp = provider.add_user("dana", email="dana@initech.example", email_verified=True)
    rp = Client()

    response = run_sign_in(rp, idp)

    assert response.status_code == 302
    assert _signed_in_user_id(rp) == str(linked.pk)
    assert _refusals() == []


def test_an_allowed_match_records_the_address_as_verified(
    provider: Provider,
) -> None:
    linked = get_user_model().objects.create_user(
        "linked-dana", "dana@initech.example", "a-long-password-0123"
    )
    idp = provider.add_user("dana", email="dana@initech.example", email_verified=True)
    rp = Client()

    response = run_sign_in(rp, idp)

    assert response.status_code == 302
    assert _signed_in_user_id(rp) == str(linked.pk)
    address = EmailAddress.objects.get(user=linked)
    assert (address.email, address.verified, address.primary) == (
        "dana@initech.example",
        True,
        True,
    )


def test_a_match_that_is_not_exactly_true_is_refused(
    provider: Provider, settings: Any
) -> None:
    _account("linked-dana", "dana@initech.example")
    settings.HARDENED_AUTH_OIDC_EMAIL_MATCH = f"{THIS_MODULE}.says_yes_loosely"
    idp = provider.add_user("dana", email="dana@initech.example", email_verified=True)
    rp = Client()

    response = run_sign_in(rp, idp)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert len(_refusals()) == 1


def test_without_the_setting_no_account_is_signed_in_by_email(
    provider: Provider, settings: Any
) -> None:
    _account("linked-dana", "dana@initech.example")
    settings.HARDENED_AUTH_OIDC_EMAIL_MATCH = None
    idp = provider.add_user("dana", email="dana@initech.example", email_verified=True)
    rp = Client()

    response = run_sign_in(rp, idp)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None


def test_an_address_no_account_holds_signs_up_a_new_account(
    provider: Provider,
) -> None:
    admin = _account("root", "admin@example.com", is_superuser=True)
    idp = provider.add_user("erin", email="erin@initech.example", email_verified=True)
    rp = Client()

    response = run_sign_in(rp, idp)

    assert response.status_code == 302
    user_id = _signed_in_user_id(rp)
    assert user_id is not None
    assert user_id != str(admin.pk)
    assert get_user_model().objects.get(pk=user_id).email == "erin@initech.example"
    assert _refusals() == []


def test_an_unverified_email_never_matches(provider: Provider) -> None:
    admin = _account("linked-root", "admin@example.com", is_superuser=True)
    idp = provider.add_user("mallory", email="admin@example.com", email_verified=False)
    rp = Client()

    run_sign_in(rp, idp)

    assert _signed_in_user_id(rp) != str(admin.pk)
    assert _refusals() == []


@pytest.mark.parametrize(
    "value",
    [
        f"{THIS_MODULE}.missing_function",
        "no_such_module.match",
        f"{THIS_MODULE}.NOT_CALLABLE",
        "",
        42,
    ],
)
def test_check_email_match_refuses_what_is_not_a_callable(
    settings: Any, value: object
) -> None:
    settings.HARDENED_AUTH_OIDC_EMAIL_MATCH = value

    assert checks.check_oidc_email_match() == [
        Error(
            checks.E029_MSG,
            hint="Name a function taking (provider_id, user, email) that "
            "returns True only for accounts that provider provisioned.",
            id="hardened_auth.E029",
        )
    ]


@pytest.mark.parametrize("value", [None, f"{THIS_MODULE}.only_linked"])
def test_check_email_match_passes_when_absent_or_callable(
    settings: Any, value: object
) -> None:
    settings.HARDENED_AUTH_OIDC_EMAIL_MATCH = value

    assert checks.check_oidc_email_match() == []


def _providers(email_authentication: object = None, **provider: Any) -> Any:
    app_settings: dict[str, Any] = {"server_url": "https://idp.example.com"}
    if email_authentication is not None:
        app_settings["email_authentication"] = email_authentication
    app = {
        "provider_id": "corp",
        "name": "Corp",
        "client_id": "id",
        "secret": "secret",
        "settings": app_settings,
    }
    return {
        "openid_connect": {"provider_class": PROVIDER_CLASS, "APPS": [app], **provider}
    }


W003 = Warning(
    checks.W003_MSG.format("corp"),
    hint=f"Set SOCIALACCOUNT_ADAPTER = {ADAPTER!r} and "
    "HARDENED_AUTH_OIDC_EMAIL_MATCH, or turn email_authentication off.",
    id="hardened_auth.W003",
)


@pytest.mark.parametrize(
    ("providers", "global_setting"),
    [
        (_providers(email_authentication=True), False),
        (_providers(), True),
        (_providers(EMAIL_AUTHENTICATION=True), False),
    ],
)
@pytest.mark.parametrize(
    "adapter",
    ["allauth.socialaccount.adapter.DefaultSocialAccountAdapter", "no.such.Adapter"],
)
def test_check_email_authentication_warns_without_the_adapter(
    settings: Any, providers: Any, global_setting: bool, adapter: str
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = providers
    settings.SOCIALACCOUNT_EMAIL_AUTHENTICATION = global_setting
    settings.SOCIALACCOUNT_ADAPTER = adapter

    assert checks.check_oidc_email_authentication() == [W003]


def test_check_email_authentication_passes_with_the_adapter(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(email_authentication=True)
    settings.SOCIALACCOUNT_ADAPTER = ADAPTER

    assert checks.check_oidc_email_authentication() == []


def test_check_email_authentication_passes_when_it_is_off(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(email_authentication=False)
    settings.SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
    settings.SOCIALACCOUNT_ADAPTER = (
        "allauth.socialaccount.adapter.DefaultSocialAccountAdapter"
    )

    assert checks.check_oidc_email_authentication() == []
