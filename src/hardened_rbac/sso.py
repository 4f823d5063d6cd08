"""Map identity-provider groups to roles at each sign-in.

Map a provider's group to a role in a tenant with ``SsoGroupRole`` (in the
admin). At each sign-in through django-allauth's social accounts the groups
claim (``HARDENED_RBAC_SSO_GROUPS_CLAIM``, default ``"groups"``) decides the
user's grants of source ``sso``: added when a mapped group appears, removed
when it disappears. ``sync_roles(user, provider, groups)`` does the same for
other sign-in paths.
"""

from hardened_rbac.internal.sso import sync_roles

__all__ = ["sync_roles"]
