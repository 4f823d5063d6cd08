"""What an OpenID Connect app's settings must hold: PKCE, few scopes, no overrides.

Shared by the system checks and by the provider, which refuses to start a
flow through an app that fails :func:`app_problems`. Nothing here imports
allauth, so the checks run whether or not its social accounts are installed.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PROVIDER_ID = "openid_connect"
PROVIDER_CLASS = "hardened_auth.oidc_provider.HardenedOpenIDConnectProvider"
DEFAULT_SCOPES: tuple[str, ...] = ("openid", "email", "profile")
NONCE_STATE_KEY = "hardened_auth_nonce"
NONCE_BYTES = 32
RESERVED_AUTH_PARAMS = frozenset(
    {
        "client_id",
        "code_challenge",
        "code_challenge_method",
        "nonce",
        "redirect_uri",
        "response_mode",
        "response_type",
        "scope",
        "state",
    }
)


@dataclass(frozen=True)
class AppProblem:
    """One way an OpenID Connect app's configuration weakens sign-in."""

    kind: str
    detail: str


def nonce_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def provider_settings() -> Mapping[str, Any]:
    from django.conf import settings

    providers = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {})
    value = providers.get(PROVIDER_ID, {}) if isinstance(providers, Mapping) else {}
    return value if isinstance(value, Mapping) else {}


def effective_scope(
    app_config: Mapping[str, Any], provider_config: Mapping[str, Any]
) -> object:
    scope = app_config.get("scope")
    if scope is None:
        scope = provider_config.get("SCOPE", list(DEFAULT_SCOPES))
    return scope


def effective_pkce(
    app_config: Mapping[str, Any], provider_config: Mapping[str, Any]
) -> object:
    enabled = app_config.get("oauth_pkce_enabled")
    if enabled is None:
        enabled = provider_config.get("OAUTH_PKCE_ENABLED", True)
    return enabled


def effective_auth_params(
    app_config: Mapping[str, Any], provider_config: Mapping[str, Any]
) -> object:
    params = app_config.get("auth_params")
    if params is None:
        params = provider_config.get("AUTH_PARAMS", {})
    return params


def app_problems(
    app_config: object,
    provider_config: Mapping[str, Any],
    allowed_scopes: Sequence[str],
) -> list[AppProblem]:
    """Return what weakens sign-in through an app with these settings."""
    config: Mapping[str, Any] = app_config if isinstance(app_config, Mapping) else {}
    problems: list[AppProblem] = []
    if effective_pkce(config, provider_config) is not True:
        problems.append(AppProblem("pkce", "PKCE is off"))

    scope = effective_scope(config, provider_config)
    if isinstance(scope, str) or not isinstance(scope, list | tuple):
        problems.append(AppProblem("scope", f"the scope {scope!r} is not a list"))
    else:
        broad = sorted({str(s) for s in scope} - set(allowed_scopes))
        if broad:
            problems.append(AppProblem("scope", f"it asks for {', '.join(broad)}"))
        if "openid" not in scope:
            problems.append(AppProblem("scope", "it does not ask for 'openid'"))

    params = effective_auth_params(config, provider_config)
    if not isinstance(params, Mapping):
        problems.append(AppProblem("auth_params", "auth_params is not a mapping"))
    else:
        reserved = sorted(RESERVED_AUTH_PARAMS & {str(k) for k in params})
        if reserved:
            problems.append(
                AppProblem("auth_params", f"auth_params override {', '.join(reserved)}")
            )
    return problems


def is_insecure_server_url(url: object) -> bool:
    """True when discovery would travel in the clear to a non-loopback host."""
    if not isinstance(url, str) or not url:
        return False
    parts = urlsplit(url)
    if parts.scheme == "https":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True
