"""Receivers that keep session records in step with the account."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, transaction
from django.http import HttpRequest

from hardened_auth.internal import audit, session_store, sessions, tokens, velocity
from hardened_auth.models import UserSession
from hardened_auth.sessions import end_all_sessions, privileges_changed

PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "is_active")


def session_started(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    audit.emit("authn_login_success", outcome="success", request=request, actor=user.pk)
    if request is not None and hasattr(request, "session"):
        sessions.start(request, user)


def login_failed(
    sender: object,
    credentials: dict[str, Any],
    request: HttpRequest | None = None,
    **kwargs: Any,
) -> None:
    """Audit and count a failed sign-in; the credentials are never logged."""
    audit.emit("authn_login_fail", outcome="failure", request=request)
    if request is not None:
        velocity.record_failure(request)


def remember_privileges(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    old = sender._default_manager.filter(pk=instance.pk).values(*PRIVILEGE_FIELDS)
    instance._hardened_auth_privileges = next(iter(old), None)


def compare_privileges(
    sender: type, instance: Any, created: bool, **kwargs: Any
) -> None:
    old = getattr(instance, "_hardened_auth_privileges", None)
    if created or old is None:
        return
    if not getattr(instance, "is_active", True):
        end_all_sessions(instance)
    elif any(old[name] != getattr(instance, name, None) for name in PRIVILEGE_FIELDS):
        privileges_changed(instance)


def groups_changed(sender: type, instance: Any, action: str, **kwargs: Any) -> None:
    if action in {"post_add", "post_remove", "post_clear"} and isinstance(
        instance, AbstractBaseUser
    ):
        privileges_changed(instance)


def password_changed(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """A new or reset password ends every other session of the account.

    It also revokes every API token family, since a client signed in with
    the old password holds them.
    """
    sessions.end_other_sessions(request, user)
    tokens.revoke_user_families(request, user, "password_changed")


def session_ended(
    sender: object, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """Delete the signed-out session's row and audit the sign-out.

    A session that :func:`hardened_auth.internal.sessions.end` signs out has
    no row left by then and was audited with its reason already.
    """
    if request is None or not hasattr(request, "session"):
        return
    if sessions.forget(request):
        audit.emit(
            "session_expired",
            outcome="success",
            request=request,
            actor=getattr(user, "pk", None),
            cause="logout",
        )


def session_row_deleting(
    sender: type[UserSession], instance: UserSession, using: str, **kwargs: Any
) -> None:
    """Read the row's sealed store keys again, locking the row, before it goes.

    A request that changed its session key may have sealed the new key after
    the row was loaded for deletion; reading the seals again under the lock
    takes that key, and a request sealing one later waits for the deletion
    and then finds no row.
    """
    current = (
        UserSession.objects.using(using)
        .select_for_update()
        .filter(pk=instance.pk)
        .values_list("sealed_store_key", flat=True)
    )
    for sealed in current:
        instance.sealed_store_key = sealed


def session_row_deleted(
    sender: type[UserSession], instance: UserSession, using: str, **kwargs: Any
) -> None:
    """Delete the store entry of each key sealed in the row.

    The session then arrives signed out, under whichever of its keys. The
    entries are deleted at once: a cache or file store forgets them whatever
    becomes of the transaction that deleted the row, and a database store
    deletes them in that transaction, so a rollback keeps the row and the
    entries together. Inside a transaction on ``using`` they are deleted
    again once that transaction commits: until then other connections still
    read the session's committed database rows, which the ``cached_db``
    engine writes back into its cache. A failure of that second deletion is
    logged by Django without the keys. A sealed key that does not open is
    logged and the row's deletion goes on.
    """
    keys = sessions.store_keys_of(instance)
    if not keys:
        return

    def delete_entries() -> None:
        for key in keys:
            session_store.delete_entry(key)

    delete_entries()
    if connections[using].in_atomic_block:
        transaction.on_commit(delete_entries, using=using, robust=True)
