"""The Initech identity provider, configured from the environment.

Read by the sandbox's settings, so nothing here touches models. With
``SANDBOX_OIDC_ISSUER``, ``SANDBOX_OIDC_CLIENT_ID`` and
``SANDBOX_OIDC_CLIENT_SECRET`` set, the sign-in page offers "Initech SSO";
without them allauth's OpenID Connect provider has no app and offers nothing.
"""

from collections.abc import Mapping
from typing import Any

from hardened_auth.oidc import openid_connect_app, openid_connect_settings

PROVIDER_ID = "initech"
ENVIRONMENT_VARIABLES = (
    "SANDBOX_OIDC_ISSUER",
    "SANDBOX_OIDC_CLIENT_ID",
    "SANDBOX_OIDC_CLIENT_SECRET",
)


def initech_app(issuer: str, client_id: str, secret: str) -> dict[str, Any]:
    """Initech's app: groups for role mapping; its verified emails sign in.

    Initech provisions its people over SCIM before they first sign in, so a
    sign-in whose provider-verified email matches a provisioned account signs
    into that account (allauth's ``email_authentication``).
    """
    app = openid_connect_app(
        provider_id=PROVIDER_ID,
        name="Initech SSO",
        server_url=issuer,
        client_id=client_id,
        secret=secret,
        extra_scopes=["groups"],
    )
    app["settings"]["email_authentication"] = True
    return app


def provider_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """``SOCIALACCOUNT_PROVIDERS["openid_connect"]`` for this environment."""
    issuer, client_id, secret = (
        environ.get(name, "") for name in ENVIRONMENT_VARIABLES
    )
    if issuer and client_id and secret:
        return openid_connect_settings(initech_app(issuer, client_id, secret))
    return openid_connect_settings()
