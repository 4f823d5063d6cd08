"""OpenID Connect sign-in against a real provider, with PKCE and a nonce.

The provider is django-oauth-toolkit on the live test server (see
``oidc_provider``); allauth fetches discovery, tokens, keys and userinfo
from it over HTTP.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.core.checks import Error, Warning
from django.test import Client
from oauth2_provider.models import AccessToken, Grant

from hardened_auth import checks
from hardened_auth.internal.oidc import DEFAULT_SCOPES, PROVIDER_CLASS
from hardened_privacy.models import AuditRecord
from tests.hardened_auth.oidc_provider import (
    CALLBACK_PATH,
    CALLBACK_URL,
    PROVIDER_ID,
    Provider,
    authorize,
    callback_url_of,
    query_of,
    running_provider,
    sign_in,
    start,
    with_query,
)

pytestmark = pytest.mark.django_db(transaction=True)

DANA = {"email": "dana@initech.example", "email_verified": True, "name": "Dana"}


@pytest.fixture
def oidc_provider(live_server: Any, settings: Any) -> Iterator[Provider]:
    with running_provider(live_server, settings) as provider:
        yield provider


def _signed_in_user_id(client: Client) -> str | None:
    value = client.session.get("_auth_user_id")
    return str(value) if value is not None else None


def _follow_callback(rp: Client, location: str) -> Any:
    parts = urlsplit(location)
    return rp.get(f"{parts.path}?{parts.query}")


def _verifier(rp: Client, state: str) -> str:
    return str(rp.session["socialaccount_states"][state][0]["pkce_code_verifier"])


def _token_request(provider: Provider, **fields: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "redirect_uri": CALLBACK_URL,
        "client_id": provider.client_id,
        "client_secret": provider.secret,
        **fields,
    }
    return requests.post(f"{provider.issuer}/token/", data=data, timeout=10)


def _nonce_failures() -> int:
    return AuditRecord.objects.filter(event="authn_sso_nonce_fail").count()


def test_authorization_request_carries_s256_pkce_nonce_state_and_exact_values(
    oidc_provider: Provider,
) -> None:
    query = query_of(start(Client()))

    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["nonce"]) >= 43
    assert query["state"]
    assert query["redirect_uri"] == CALLBACK_URL
    assert set(query["scope"].split()) == {*DEFAULT_SCOPES, "groups"}
    assert query["response_type"] == "code"


def test_full_flow_signs_in_and_the_provider_checked_the_verifier(
    oidc_provider: Provider,
) -> None:
    idp = oidc_provider.add_user("dana", groups=["engineering"], **DANA)
    rp = Client()

    response = sign_in(rp, idp)

    assert response.status_code == 302
    account = SocialAccount.objects.get(provider=PROVIDER_ID)
    assert _signed_in_user_id(rp) == str(account.user_id)
    assert account.user.email == "dana@initech.example"
    assert account.extra_data["id_token"]["groups"] == ["engineering"]
    assert account.extra_data["id_token"]["iss"] == oidc_provider.issuer
    assert AccessToken.objects.count() == 1
    assert not Grant.objects.exists()


def test_wrong_state_is_refused_before_any_token_request(
    oidc_provider: Provider,
) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    rp = Client()
    location = callback_url_of(authorize(idp, start(rp)))

    response = _follow_callback(rp, with_query(location, state="forged-state-1234"))

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert not SocialAccount.objects.exists()
    assert not AccessToken.objects.exists()


def test_missing_state_is_refused(oidc_provider: Provider) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    rp = Client()
    location = callback_url_of(authorize(idp, start(rp)))

    response = _follow_callback(rp, with_query(location, state=None))

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert not AccessToken.objects.exists()


def test_a_replayed_callback_signs_nobody_in_again(oidc_provider: Provider) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    rp = Client()
    location = callback_url_of(authorize(idp, start(rp)))
    assert _follow_callback(rp, location).status_code == 302
    other = Client()

    response = _follow_callback(other, location)

    assert response.status_code == 401
    assert _signed_in_user_id(other) is None
    assert AccessToken.objects.count() == 1


def test_a_replayed_code_is_refused_by_the_provider(oidc_provider: Provider) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    rp = Client()
    location = callback_url_of(authorize(idp, start(rp)))
    query = query_of(location)
    verifier = _verifier(rp, query["state"])

    first = _token_request(oidc_provider, code=query["code"], code_verifier=verifier)
    replay = _token_request(oidc_provider, code=query["code"], code_verifier=verifier)
    callback = _follow_callback(rp, location)

    assert first.status_code == 200
    assert "id_token" in first.json()
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert callback.status_code == 401
    assert _signed_in_user_id(rp) is None


def test_a_code_injected_into_another_session_fails_pkce(
    oidc_provider: Provider,
) -> None:
    attacker_idp = oidc_provider.add_user("mallory", email="m@evil.example")
    attacker_code = query_of(callback_url_of(authorize(attacker_idp, start(Client()))))[
        "code"
    ]
    victim = Client()
    victim_state = query_of(start(victim))["state"]
    injected = (
        f"{CALLBACK_PATH}?{urlencode({'code': attacker_code, 'state': victim_state})}"
    )

    response = victim.get(injected)

    assert response.status_code == 401
    assert _signed_in_user_id(victim) is None
    assert not AccessToken.objects.exists()


def test_token_request_without_or_with_a_wrong_verifier_is_refused(
    oidc_provider: Provider,
) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    rp = Client()
    query = query_of(callback_url_of(authorize(idp, start(rp))))

    missing = _token_request(oidc_provider, code=query["code"])
    wrong = _token_request(oidc_provider, code=query["code"], code_verifier="x" * 64)

    assert missing.status_code == 400
    assert missing.json()["error"] in {"invalid_request", "invalid_grant"}
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
    ],
    ids=["challenge-stripped", "plain-method"],
)
def test_a_downgraded_pkce_request_gets_no_code(
    oidc_provider: Provider, changes: dict[str, str | None]
) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    authorization_url = with_query(start(Client()), **changes)

    response = authorize(idp, authorization_url)

    location = str(response.get("Location", ""))
    assert "code" not in query_of(location)
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        CALLBACK_URL + "extra/",
        CALLBACK_URL.rstrip("/"),
        CALLBACK_URL + "?next=/admin/",
        CALLBACK_URL.replace("http://testserver", "http://attacker.example"),
        CALLBACK_URL.replace("http://", "https://"),
        CALLBACK_URL.replace("testserver", "TESTSERVER."),
    ],
    ids=["longer-path", "no-slash", "extra-query", "other-host", "scheme", "host-case"],
)
def test_a_redirect_uri_that_is_not_exact_gets_no_code(
    oidc_provider: Provider, redirect_uri: str
) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    authorization_url = with_query(start(Client()), redirect_uri=redirect_uri)

    response = authorize(idp, authorization_url)

    assert response.status_code == 400
    assert not response.has_header("Location")
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    "nonce", [None, "forged-nonce-chosen-by-an-attacker"], ids=["missing", "forged"]
)
def test_an_id_token_without_this_flows_nonce_is_refused(
    oidc_provider: Provider, nonce: str | None
) -> None:
    idp = oidc_provider.add_user("dana", **DANA)
    rp = Client()
    authorization_url = with_query(start(rp), nonce=nonce)
    location = callback_url_of(authorize(idp, authorization_url))

    response = _follow_callback(rp, location)

    assert response.status_code == 401
    assert _signed_in_user_id(rp) is None
    assert not SocialAccount.objects.exists()
    assert _nonce_failures() == 1


def test_the_sign_in_url_cannot_widen_scopes_or_override_flow_parameters(
    oidc_provider: Provider,
) -> None:
    overrides = urlencode(
        {
            "redirect_uri": "http://attacker.example/cb",
            "code_challenge_method": "plain",
            "nonce": "chosen",
            "prompt": "none",
        }
    )

    query = query_of(
        start(Client(), scope="admin,offline_access", auth_params=overrides)
    )

    assert set(query["scope"].split()) == {*DEFAULT_SCOPES, "groups"}
    assert query["redirect_uri"] == CALLBACK_URL
    assert query["code_challenge_method"] == "S256"
    assert query["nonce"] != "chosen"
    assert "prompt" not in query


@pytest.mark.parametrize(
    "app_settings",
    [
        {"oauth_pkce_enabled": False},
        {"scope": ["openid", "email", "admin"]},
        {"auth_params": {"redirect_uri": "http://attacker.example/cb"}},
    ],
    ids=["pkce-off", "broad-scope", "redirect-override"],
)
def test_a_misconfigured_database_app_starts_no_flow(
    oidc_provider: Provider, settings: Any, app_settings: dict[str, Any]
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"provider_class": PROVIDER_CLASS}
    }
    SocialApp.objects.create(
        provider="openid_connect",
        provider_id=PROVIDER_ID,
        name="Initech IdP",
        client_id=oidc_provider.client_id,
        secret=oidc_provider.secret,
        settings={"server_url": oidc_provider.issuer, **app_settings},
    )

    response = Client().post(f"/accounts/oidc/{PROVIDER_ID}/login/")

    assert response.status_code == 401
    assert not response.has_header("Location")


# System checks ------------------------------------------------------------


def _app(**app_settings: Any) -> dict[str, Any]:
    return {
        "provider_id": "corp",
        "name": "Corp",
        "client_id": "id",
        "secret": "secret",
        "settings": {"server_url": "https://idp.example.com", **app_settings},
    }


def _providers(*apps: dict[str, Any], **provider: Any) -> dict[str, Any]:
    return {
        "openid_connect": {
            "provider_class": PROVIDER_CLASS,
            "APPS": list(apps),
            **provider,
        }
    }


def test_check_oidc_passes_for_the_helper_settings(settings: Any) -> None:
    from hardened_auth.oidc import openid_connect_app, openid_connect_settings

    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": openid_connect_settings(
            openid_connect_app(
                provider_id="corp",
                name="Corp",
                server_url="https://idp.example.com",
                client_id="id",
                secret="secret",
                extra_scopes=["groups"],
            )
        )
    }

    assert checks.check_oidc() == []
    assert checks.check_oidc_transport() == []


def test_check_oidc_passes_without_apps(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers()

    assert checks.check_oidc() == []


def test_check_oidc_requires_the_hardened_provider_class(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": []}}

    assert [m.id for m in checks.check_oidc()] == ["hardened_auth.E023"]
    assert checks.check_oidc()[0].msg == checks.E023_MSG


@pytest.mark.parametrize(
    "providers",
    [
        _providers(_app(oauth_pkce_enabled=False)),
        _providers(_app(), OAUTH_PKCE_ENABLED=False),
        _providers(_app(oauth_pkce_enabled="yes")),
    ],
    ids=["app", "provider", "not-a-bool"],
)
def test_check_oidc_fails_when_pkce_is_off(
    settings: Any, providers: dict[str, Any]
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = providers

    assert checks.check_oidc() == [
        Error(
            checks.E024_MSG.format("corp"),
            hint=checks._PROBLEM_MESSAGES["pkce"][2],
            id="hardened_auth.E024",
        )
    ]


def test_check_oidc_passes_when_pkce_is_on_explicitly(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(_app(oauth_pkce_enabled=True))

    assert checks.check_oidc() == []


@pytest.mark.parametrize(
    ("scope", "detail"),
    [
        (
            ["openid", "email", "offline_access", "admin"],
            "it asks for admin, offline_access",
        ),
        (["email", "profile"], "it does not ask for 'openid'"),
        ("openid email", "the scope 'openid email' is not a list"),
    ],
    ids=["broad", "no-openid", "string"],
)
def test_check_oidc_fails_on_broad_or_malformed_scopes(
    settings: Any, scope: object, detail: str
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(_app(scope=scope))

    assert checks.check_oidc() == [
        Error(
            checks.E025_MSG.format("corp", detail),
            hint=checks._PROBLEM_MESSAGES["scope"][2],
            id="hardened_auth.E025",
        )
    ]


def test_check_oidc_reads_the_provider_wide_scope(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(_app(), SCOPE=["openid", "phone"])

    assert [m.id for m in checks.check_oidc()] == ["hardened_auth.E025"]


def test_check_oidc_allows_a_scope_the_site_adds(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(_app(scope=["openid", "phone"]))
    settings.HARDENED_AUTH_OIDC_ALLOWED_SCOPES = ["openid", "phone"]

    assert checks.check_oidc() == []


@pytest.mark.parametrize("allowed", ["openid", ["email"], ["openid", 3]])
def test_check_oidc_fails_on_malformed_allowed_scopes(
    settings: Any, allowed: object
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers()
    settings.HARDENED_AUTH_OIDC_ALLOWED_SCOPES = allowed

    assert [m.id for m in checks.check_oidc()] == ["hardened_auth.E026"]
    assert checks.check_oidc()[0].msg == checks.E026_MSG


def test_check_oidc_fails_when_auth_params_override_the_flow(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(
        _app(auth_params={"redirect_uri": "https://x.example/", "prompt": "login"})
    )

    assert checks.check_oidc() == [
        Error(
            checks.E027_MSG.format("corp", "auth_params override redirect_uri"),
            hint=checks._PROBLEM_MESSAGES["auth_params"][2],
            id="hardened_auth.E027",
        )
    ]


def test_check_oidc_passes_harmless_auth_params(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(_app(auth_params={"prompt": "login"}))

    assert checks.check_oidc() == []


def test_check_oidc_database_apps_reports_stored_apps() -> None:
    SocialApp.objects.create(
        provider="openid_connect",
        provider_id="stored",
        name="Stored",
        client_id="id",
        settings={"server_url": "https://idp.example.com", "oauth_pkce_enabled": False},
    )

    assert checks.check_oidc_database_apps(databases=None) == []
    assert [m.id for m in checks.check_oidc_database_apps(databases=["default"])] == [
        "hardened_auth.E024"
    ]


def test_check_oidc_database_apps_passes_a_good_stored_app() -> None:
    SocialApp.objects.create(
        provider="openid_connect",
        provider_id="stored",
        name="Stored",
        client_id="id",
        settings={"server_url": "https://idp.example.com"},
    )

    assert checks.check_oidc_database_apps(databases=["default"]) == []


@pytest.mark.parametrize(
    ("url", "insecure"),
    [
        ("http://idp.example.com", True),
        ("http://10.0.0.5:8080/o", True),
        ("https://idp.example.com", False),
        ("http://localhost:8000/o", False),
        ("http://127.0.0.1:8000/o", False),
    ],
)
def test_check_oidc_transport_warns_on_plain_http(
    settings: Any, url: str, insecure: bool
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = _providers(_app(server_url=url))

    expected = (
        [
            Warning(
                checks.W002_MSG.format("corp"),
                hint="Use the provider's https:// issuer URL as server_url.",
                id="hardened_auth.W002",
            )
        ]
        if insecure
        else []
    )
    assert checks.check_oidc_transport() == expected
