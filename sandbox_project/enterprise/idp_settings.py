"""Settings for Initech's demo identity provider, served by the sandbox itself.

Without ``SANDBOX_OIDC_*`` the sandbox plays Initech's provider at ``/idp/``
with django-oauth-toolkit: OpenID Connect, PKCE with S256 required, and a
``groups`` claim. Initech's OpenID Connect app then points at it, with a
client secret derived from ``SECRET_KEY``; ``manage.py sandbox_demo``
registers that client with exactly the sandbox's callback URLs. Read by the
settings, so nothing here touches models at import time.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.utils.functional import lazy

from enterprise.oidc import ENVIRONMENT_VARIABLES, initech_app
from enterprise.oidc import provider_settings as oidc_provider_settings
from hardened_auth.oidc import openid_connect_settings

ISSUER_VARIABLE = "SANDBOX_DEMO_IDP_ISSUER"
DEFAULT_ISSUER = "http://127.0.0.1:8000/idp"
CLIENT_ID = "initech-sandbox"
SESSION_COOKIE_NAME = "sandbox_idp_sessionid"
# Provider accounts are named by email behind this prefix, which no sandbox
# account has, so the provider's sign-in form can reach no other account.
USERNAME_PREFIX = "idp:"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
IDP_SESSION_MIDDLEWARE = "enterprise.idp.IdpSessionMiddleware"
SIGNING_KEY_CACHE_KEY = "enterprise:demo-idp:signing-key"
SCOPES = {
    "openid": "OpenID Connect",
    "email": "Email address",
    "profile": "Name",
    "groups": "Group membership",
}


_SECRET = {"level": "secret"}
_TIMES = ("created", "updated", "expires")
# django-oauth-toolkit's tables: the provider's clients, codes and tokens.
CLASSIFICATION: dict[str, dict[str, object]] = {
    "oauth2_provider.Application": {
        **dict.fromkeys(
            (
                "client_id",
                "user",
                "redirect_uris",
                "post_logout_redirect_uris",
                "client_type",
                "authorization_grant_type",
                "hash_client_secret",
                "name",
                "skip_authorization",
                "algorithm",
                "allowed_origins",
                "registration_source",
                "cimd_expires_at",
                "created",
                "updated",
            ),
            "internal",
        ),
        "client_secret": _SECRET,
    },
    "oauth2_provider.Grant": {
        **dict.fromkeys(
            (
                "user",
                "application",
                "redirect_uri",
                "scope",
                "code_challenge_method",
                "claims",
                "resource",
                *_TIMES,
            ),
            "internal",
        ),
        **dict.fromkeys(("code", "code_challenge", "nonce"), _SECRET),
    },
    "oauth2_provider.AccessToken": {
        **dict.fromkeys(
            (
                "user",
                "source_refresh_token",
                "id_token",
                "application",
                "scope",
                "resource",
                *_TIMES,
            ),
            "internal",
        ),
        **dict.fromkeys(("token", "token_checksum"), _SECRET),
    },
    "oauth2_provider.RefreshToken": {
        **dict.fromkeys(
            (
                "user",
                "application",
                "access_token",
                "token_family",
                "resource",
                "created",
                "updated",
                "revoked",
            ),
            "internal",
        ),
        **dict.fromkeys(("token", "token_checksum"), _SECRET),
    },
    "oauth2_provider.IDToken": dict.fromkeys(
        ("user", "jti", "application", "scope", *_TIMES), "internal"
    ),
    "oauth2_provider.DeviceGrant": {
        **dict.fromkeys(
            (
                "user",
                "scope",
                "interval",
                "expires",
                "status",
                "client_id",
                "last_checked",
            ),
            "internal",
        ),
        **dict.fromkeys(("device_code", "user_code"), _SECRET),
    },
}


def wanted(environ: Mapping[str, str]) -> bool:
    """True when no real provider is configured with ``SANDBOX_OIDC_*``."""
    return not any(environ.get(name) for name in ENVIRONMENT_VARIABLES)


def issuer(environ: Mapping[str, str]) -> str:
    """The demo provider's issuer: where the sandbox itself is served."""
    return environ.get(ISSUER_VARIABLE, "").rstrip("/") or DEFAULT_ISSUER


def origins(issuer_url: str) -> list[str]:
    """The origin of ``issuer_url``, and its loopback twin when it is local.

    The sandbox answers at both ``127.0.0.1`` and ``localhost``; the demo
    provider lets either be the site it redirects back to.
    """
    parts = urlsplit(issuer_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    twins = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
    twin = twins.get(parts.hostname or "")
    if twin is None:
        return [origin]
    port = f":{parts.port}" if parts.port else ""
    return [origin, f"{parts.scheme}://{twin}{port}"]


def client_secret(secret_key: str) -> str:
    """Initech's client secret, derived from the site's ``SECRET_KEY``."""
    return hmac.new(
        secret_key.encode(), b"sandbox demo identity provider", hashlib.sha256
    ).hexdigest()


def _signing_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.core.cache import cache

    pem = cache.get(SIGNING_KEY_CACHE_KEY)
    if isinstance(pem, str):
        return pem
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fresh = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cache.add(SIGNING_KEY_CACHE_KEY, fresh, timeout=None)
    stored = cache.get(SIGNING_KEY_CACHE_KEY)
    return stored if isinstance(stored, str) else fresh


# The ID token signing key: made on first use and kept in the cache, so
# every process serving the sandbox (sharing Redis) signs with the same key.
signing_key = lazy(_signing_key, str)


def oauth2_provider_settings(issuer_url: str) -> dict[str, Any]:
    """``OAUTH2_PROVIDER`` for the demo provider."""
    return {
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": signing_key(),
        "OIDC_ISS_ENDPOINT": issuer_url,
        "PKCE_REQUIRED": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "OAUTH2_VALIDATOR_CLASS": "enterprise.idp.DirectoryValidator",
        "SCOPES": dict(SCOPES),
        "DEFAULT_SCOPES": ["openid"],
    }


def provider_settings(issuer_url: str, secret_key: str) -> dict[str, Any]:
    """``SOCIALACCOUNT_PROVIDERS["openid_connect"]`` with Initech at the demo."""
    return openid_connect_settings(
        initech_app(issuer_url, CLIENT_ID, client_secret(secret_key))
    )


def with_idp_sessions(middleware: Sequence[str]) -> list[str]:
    """``MIDDLEWARE`` with the session middleware that keeps /idp/ apart."""
    return [
        IDP_SESSION_MIDDLEWARE if name == SESSION_MIDDLEWARE else name
        for name in middleware
    ]


def turn_off(namespace: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Undo what the base settings did for the demo provider in ``namespace``.

    For a settings module that star-imports the base settings, as in
    ``turn_off(globals(), os.environ)``; Initech then signs in through the
    provider ``SANDBOX_OIDC_*`` names, or not at all.
    """
    namespace["SANDBOX_DEMO_IDP"] = False
    namespace["INSTALLED_APPS"] = [
        app for app in namespace["INSTALLED_APPS"] if app != "oauth2_provider"
    ]
    namespace["MIDDLEWARE"] = [
        SESSION_MIDDLEWARE if name == IDP_SESSION_MIDDLEWARE else name
        for name in namespace["MIDDLEWARE"]
    ]
    namespace["HARDENED_PRIVACY_CLASSIFICATION"] = {
        model: fields
        for model, fields in namespace["HARDENED_PRIVACY_CLASSIFICATION"].items()
        if model not in CLASSIFICATION
    }
    namespace["SOCIALACCOUNT_PROVIDERS"] = {
        "openid_connect": oidc_provider_settings(environ)
    }
    namespace.pop("OAUTH2_PROVIDER", None)
    namespace.pop("SANDBOX_DEMO_IDP_ISSUER", None)
