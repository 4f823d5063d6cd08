"""django-allauth's OpenID Connect provider with PKCE, a nonce and fixed scopes.

Named by ``provider_class`` in ``SOCIALACCOUNT_PROVIDERS["openid_connect"]``;
:func:`hardened_auth.oidc.openid_connect_settings` sets it.
"""

from hardened_auth.internal.oidc_flow import HardenedOpenIDConnectProvider

__all__ = ["HardenedOpenIDConnectProvider"]
