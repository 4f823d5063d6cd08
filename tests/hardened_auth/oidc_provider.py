"""A real OpenID Connect provider for the tests: django-oauth-toolkit.

The provider runs in the same Django project, served by pytest-django's
``live_server``; allauth reaches its discovery, token, JWKS and userinfo
endpoints over HTTP with ``requests``. The browser's part (following the
redirect to the authorization endpoint and back) is played by Django test
clients: one signed in at the provider, one at the relying party.

The provider's users are ordinary users whose claims (email, name, groups)
come from :data:`DIRECTORY`, so the relying party creates its own, separate
account for each of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import include, path
from oauth2_provider.models import Application
from oauth2_provider.oauth2_validators import OAuth2Validator

from hardened_auth.oidc import openid_connect_app, openid_connect_settings
from sandbox.urls import urlpatterns as sandbox_urlpatterns

PROVIDER_ID = "initech"
CALLBACK_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/callback/"
CALLBACK_URL = f"http://testserver{CALLBACK_PATH}"
LOGIN_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/"

# The provider's directory: provider username -> claims it asserts.
DIRECTORY: dict[str, dict[str, Any]] = {}

urlpatterns = [
    *sandbox_urlpatterns,
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]


class DirectoryValidator(OAuth2Validator):
    """Claims from :data:`DIRECTORY`; ``groups`` needs the ``groups`` scope."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        return dict(DIRECTORY.get(request.user.get_username(), {}))


def rsa_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class Provider:
    """The running provider and the relying party's app registered with it."""

    issuer: str
    client_id: str
    secret: str
    application: Application
    rp_settings: dict[str, Any] = field(default_factory=dict)

    def add_user(self, username: str, **claims: Any) -> Client:
        """Create a provider user asserting ``claims``; return a signed-in client."""
        user = get_user_model().objects.create_user(
            username=f"idp-{username}", email=""
        )
        DIRECTORY[user.get_username()] = claims
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client


def provider_settings(issuer: str, client_id: str, secret: str) -> dict[str, Any]:
    return openid_connect_settings(
        openid_connect_app(
            provider_id=PROVIDER_ID,
            name="Initech IdP",
            server_url=issuer,
            client_id=client_id,
            secret=secret,
            extra_scopes=["groups"],
        )
    )


@contextmanager
def running_provider(live_server: Any, settings: Any) -> Iterator[Provider]:
    """django-oauth-toolkit with OIDC and a fresh RSA key, on the live server.

    Call from a fixture with pytest-django's ``live_server`` and ``settings``.
    """
    issuer = f"{live_server.url}/o"
    settings.ROOT_URLCONF = __name__
    settings.OAUTH2_PROVIDER = {
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": rsa_private_key_pem(),
        "OIDC_ISS_ENDPOINT": issuer,
        "PKCE_REQUIRED": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "OAUTH2_VALIDATOR_CLASS": f"{__name__}.DirectoryValidator",
        "SCOPES": {
            "openid": "OpenID Connect",
            "email": "Email address",
            "profile": "Name",
            "groups": "Group membership",
            "admin": "Everything",
        },
        "DEFAULT_SCOPES": ["openid"],
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    client_id = secrets.token_urlsafe(16)
    secret = secrets.token_urlsafe(32)
    application = Application.objects.create(
        name="Sandbox",
        client_id=client_id,
        client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=CALLBACK_URL,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    rp = provider_settings(issuer, client_id, secret)
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": rp}
    try:
        yield Provider(issuer, client_id, secret, application, rp)
    finally:
        DIRECTORY.clear()


def with_query(url: str, **changes: str | None) -> str:
    """``url`` with query parameters replaced, or removed when ``None``."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def start(rp: Client, **params: str) -> str:
    """Start sign-in at the relying party; return the authorization URL."""
    response = rp.post(LOGIN_PATH + (f"?{urlencode(params)}" if params else ""))
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def authorize(idp: Client, authorization_url: str) -> Any:
    """The signed-in provider user visits the authorization URL."""
    parts = urlsplit(authorization_url)
    return idp.get(f"{parts.path}?{parts.query}")


def callback_url_of(response: Any) -> str:
    """The provider's redirect back to the relying party, which must carry a code."""
    assert response.status_code == 302, response.content[:500]
    location = str(response["Location"])
    assert location.startswith(CALLBACK_URL + "?"), location
    return location


def sign_in(rp: Client, idp: Client, **params: str) -> Any:
    """Run the whole flow; return the relying party's answer to the callback."""
    location = callback_url_of(authorize(idp, start(rp, **params)))
    parts = urlsplit(location)
    return rp.get(f"{parts.path}?{parts.query}")
