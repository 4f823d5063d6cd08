"""Turn identity-provider groups into role grants at each sign-in.

For every tenant with mappings for the provider, the user's grants of source
``sso`` are made to match the groups the provider sent this time: missing
ones are added, ones whose group is gone are removed. A membership is created
when a mapped group gives a role in a tenant the user is not yet in, unless
the tenant provisions its members over SCIM (it holds a SCIM token that is
not revoked): there the SCIM client alone adds and removes members, so a
sign-in cannot bring back a membership it deleted. A membership is
reactivated only by an administrator or the SCIM client. Manual grants are
never touched. Every change is audited through the grant and membership
signals.

The groups are read from the claim named by ``HARDENED_RBAC_SSO_GROUPS_CLAIM``
in the account's data: at its top level, in the ID token, or in the userinfo
answer, the first present winning.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from hardened_rbac.models import Grant, Membership, ScimToken, SsoGroupRole

logger = logging.getLogger(__name__)

MAX_GROUPS = 1000
MAX_GROUP_LENGTH = 255


def clean_groups(raw: object) -> frozenset[str]:
    """Keep the well-formed group names of a claim; ignore everything else."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        return frozenset()
    return frozenset(
        group
        for group in list(raw)[:MAX_GROUPS]
        if isinstance(group, str) and 0 < len(group) <= MAX_GROUP_LENGTH
    )


@transaction.atomic
def sync_roles(user: Any, provider: str, raw_groups: object) -> tuple[int, int]:
    """Make the user's SSO grants match the groups; return (added, removed)."""
    groups = clean_groups(raw_groups)
    mappings = SsoGroupRole.objects.filter(provider=provider).select_related("role")
    wanted: dict[Any, set[Any]] = {}
    for mapping in mappings:
        roles = wanted.setdefault(mapping.tenant_id, set())
        if mapping.group in groups:
            roles.add(mapping.role_id)

    scim_tenants = set(
        ScimToken.objects.filter(
            tenant_id__in=wanted, revoked_at__isnull=True
        ).values_list("tenant_id", flat=True)
    )
    added = removed = 0
    for tenant_id, role_ids in wanted.items():
        membership = Membership.objects.filter(user=user, tenant_id=tenant_id).first()
        if membership is None:
            if not role_ids or tenant_id in scim_tenants:
                continue
            membership = Membership.objects.create(user=user, tenant_id=tenant_id)
        current = set(
            Grant.objects.filter(
                membership=membership, source=Grant.Source.SSO
            ).values_list("role_id", flat=True)
        )
        manual = set(
            Grant.objects.filter(membership=membership)
            .exclude(source=Grant.Source.SSO)
            .values_list("role_id", flat=True)
        )
        for role_id in role_ids - current - manual:
            Grant.objects.create(
                membership=membership, role_id=role_id, source=Grant.Source.SSO
            )
            added += 1
        for grant in Grant.objects.filter(
            membership=membership,
            source=Grant.Source.SSO,
            role_id__in=current - role_ids,
        ):
            grant.delete()
            removed += 1
    return added, removed


def on_user_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """allauth ``user_logged_in`` receiver: sync when the login came by SSO."""
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None:
        return
    account = sociallogin.account
    extra = account.extra_data if isinstance(account.extra_data, dict) else {}
    sync_roles(user, str(account.provider), groups_claim(extra))


def groups_claim(extra: dict[str, Any]) -> object:
    """The groups claim of an account's data, or ``None`` when it has none."""
    from hardened_rbac.conf import app_settings

    name = app_settings.SSO_GROUPS_CLAIM
    for source in (extra, extra.get("id_token"), extra.get("userinfo")):
        if isinstance(source, dict) and source.get(name) is not None:
            return source[name]
    return None
