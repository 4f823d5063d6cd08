"""OpenID Connect sign-in through django-allauth with PKCE, a nonce and fixed scopes.

allauth's OpenID Connect provider checks ``state`` but sends no ``nonce``,
lets the sign-in URL add scopes and authorization parameters (including
``redirect_uri``), and leaves PKCE off unless asked. The provider class here
starts every flow with an S256 code challenge, a fresh nonce whose digest is
stashed with allauth's state, and only the configured scopes and parameters;
it refuses to start a flow for an app whose configuration fails
:func:`~hardened_auth.internal.oidc.app_problems`. :func:`verify_nonce` runs
before each social sign-in and rejects an OpenID Connect sign-in whose ID
token does not carry the nonce sent with that flow's authorization request.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.openid_connect.provider import (
    OpenIDConnectProvider,
)
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse

from hardened_auth.conf import app_settings
from hardened_auth.internal import audit
from hardened_auth.internal.oidc import (
    NONCE_BYTES,
    NONCE_STATE_KEY,
    app_problems,
    nonce_digest,
)

logger = logging.getLogger(__name__)


class HardenedOpenIDConnectProvider(OpenIDConnectProvider):  # type: ignore[misc]
    """allauth's OpenID Connect provider with PKCE, a nonce and fixed scopes."""

    package = "allauth.socialaccount.providers.openid_connect"
    pkce_enabled_default = True

    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return list(self.get_scope())

    def get_auth_params_from_request(
        self, request: HttpRequest, action: str
    ) -> dict[str, Any]:
        return dict(self.get_auth_params())

    def redirect(
        self,
        request: HttpRequest,
        process: str,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        problems = app_problems(
            self.app.settings, self.get_settings(), app_settings.OIDC_ALLOWED_SCOPES
        )
        if problems:
            logger.error(
                "Refused to start OpenID Connect sign-in through %r: %s.",
                self.sub_id,
                "; ".join(problem.detail for problem in problems),
            )
            response: HttpResponse = render_authentication_error(
                request,
                self,
                exception=ImproperlyConfigured("OpenID Connect app is misconfigured."),
            )
            return response

        kwargs.pop("auth_params", None)
        kwargs.pop("scope", None)
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        auth_params = dict(self.get_auth_params())
        auth_params["nonce"] = nonce
        kwargs[NONCE_STATE_KEY] = nonce_digest(nonce)
        response = super().redirect(
            request,
            process,
            next_url,
            data,
            auth_params=auth_params,
            scope=list(self.get_scope()),
            **kwargs,
        )
        return response


def verify_nonce(
    sender: Any, request: HttpRequest, sociallogin: Any, **kwargs: Any
) -> None:
    """allauth ``pre_social_login`` receiver: the ID token must echo the nonce."""
    provider = sociallogin.account.get_provider(request)
    if not isinstance(provider, OpenIDConnectProvider):
        return

    state = sociallogin.state if isinstance(sociallogin.state, dict) else {}
    expected = state.get(NONCE_STATE_KEY)
    extra = sociallogin.account.extra_data
    id_token = extra.get("id_token") if isinstance(extra, dict) else None
    received = id_token.get("nonce") if isinstance(id_token, dict) else None
    if (
        isinstance(expected, str)
        and isinstance(received, str)
        and hmac.compare_digest(nonce_digest(received), expected)
    ):
        return

    reason = "no_nonce_sent" if not isinstance(expected, str) else "nonce_mismatch"
    if isinstance(expected, str) and not isinstance(received, str):
        reason = "nonce_missing"
    audit.emit(
        "authn_sso_nonce_fail",
        outcome="denied",
        request=request,
        target=str(provider.sub_id),
        reason=reason,
    )
    raise PermissionDenied("The ID token does not carry this sign-in's nonce.")
