"""OpenID Connect sign-in with PKCE, a nonce and minimal scopes.

Point django-allauth's OpenID Connect provider at
:class:`hardened_auth.oidc_provider.HardenedOpenIDConnectProvider` and
describe each identity provider with :func:`openid_connect_app`; this module
imports nothing from allauth, so a settings file may use it::

    SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": openid_connect_settings(
            openid_connect_app(
                provider_id="corp",
                name="Corporate sign-in",
                server_url="https://idp.example.com",
                client_id=os.environ["OIDC_CLIENT_ID"],
                secret=os.environ["OIDC_CLIENT_SECRET"],
            ),
        ),
    }

Every flow then sends an S256 code challenge and a fresh nonce, asks only
for the configured scopes whatever the sign-in URL says, and the ID token's
nonce is checked before the user is signed in. System checks
``hardened_auth.E023`` to ``E027`` and ``W002`` report apps that weaken this.
"""

from collections.abc import Iterable
from typing import Any

from hardened_auth.internal.oidc import DEFAULT_SCOPES, PROVIDER_CLASS

__all__ = ["PROVIDER_CLASS", "openid_connect_app", "openid_connect_settings"]


def openid_connect_app(
    *,
    provider_id: str,
    name: str,
    server_url: str,
    client_id: str,
    secret: str,
    extra_scopes: Iterable[str] = (),
    token_auth_method: str | None = None,
) -> dict[str, Any]:
    """One entry of ``APPS``: PKCE on, ``openid email profile`` plus extras.

    ``extra_scopes`` is for claims a site needs, such as ``["groups"]`` for
    group-to-role mapping; the checks refuse scopes outside
    ``HARDENED_AUTH_OIDC_ALLOWED_SCOPES``.
    """
    app_config: dict[str, Any] = {
        "server_url": server_url,
        "oauth_pkce_enabled": True,
        "scope": [*DEFAULT_SCOPES, *extra_scopes],
    }
    if token_auth_method is not None:
        app_config["token_auth_method"] = token_auth_method
    return {
        "provider_id": provider_id,
        "name": name,
        "client_id": client_id,
        "secret": secret,
        "settings": app_config,
    }


def openid_connect_settings(*apps: dict[str, Any]) -> dict[str, Any]:
    """``SOCIALACCOUNT_PROVIDERS["openid_connect"]`` for the hardened provider."""
    return {
        "provider_class": PROVIDER_CLASS,
        "OAUTH_PKCE_ENABLED": True,
        "SCOPE": list(DEFAULT_SCOPES),
        "APPS": list(apps),
    }
