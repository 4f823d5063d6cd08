"""Public helpers for session binding.

Call :func:`privileges_changed` after changing what a user may do (a role
grant, staff status) so each of the user's sessions gets a new key on its
next request; :func:`end_all_sessions` ends every session of a user, for
example when the account is deprovisioned.
"""

from django.contrib.auth.base_user import AbstractBaseUser

from hardened_auth.internal import audit
from hardened_auth.internal.sessions import mark_privileges_changed
from hardened_auth.models import UserSession


def privileges_changed(user: AbstractBaseUser) -> None:
    """Rotate the session key of every session of ``user`` on next use."""
    mark_privileges_changed(user.pk)


def end_all_sessions(user: AbstractBaseUser) -> int:
    """End every session of ``user``; return how many were ended."""
    count, _ = UserSession.objects.filter(user_id=user.pk).delete()
    audit.emit(
        "session_expired",
        outcome="success",
        actor=user.pk,
        reason="ended_for_account",
        count=count,
    )
    return count
