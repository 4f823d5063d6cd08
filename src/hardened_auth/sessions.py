"""Public helpers for session binding.

Call :func:`privileges_changed` after changing what a user may do (a role
grant, staff status) so each of the user's sessions gets a new key on its
next request; :func:`end_all_sessions` ends every session of a user, for
example when the account is deprovisioned.
"""

from django.contrib.auth.base_user import AbstractBaseUser

from hardened_auth.internal import audit
from hardened_auth.internal.sessions import mark_privileges_changed
from hardened_auth.internal.tokens import revoke_family
from hardened_auth.models import TokenFamily, UserSession


def privileges_changed(user: AbstractBaseUser) -> None:
    """Rotate the session key of every session of ``user`` on next use."""
    mark_privileges_changed(user.pk)


def end_all_sessions(user: AbstractBaseUser) -> int:
    """End every session and API token family of ``user``.

    Returns how many sessions were ended.
    """
    count, _ = UserSession.objects.filter(user_id=user.pk).delete()
    for family in TokenFamily.objects.filter(user_id=user.pk, revoked_at__isnull=True):
        revoke_family(family, "ended_for_account")
    audit.emit(
        "session_expired",
        outcome="success",
        actor=user.pk,
        cause="ended_for_account",
        count=count,
    )
    return count
