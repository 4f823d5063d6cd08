"""Issue, rotate and check API tokens; only their hashes are stored."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from hardened_auth.conf import app_settings
from hardened_auth.exceptions import TokenRefused
from hardened_auth.internal import audit
from hardened_auth.models import AccessToken, RefreshToken, TokenFamily

logger = logging.getLogger(__name__)

ACCESS_PREFIX = "hat_"
REFRESH_PREFIX = "hrt_"
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(family: TokenFamily) -> TokenPair:
    now = timezone.now()
    access = ACCESS_PREFIX + secrets.token_urlsafe(32)
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    access_ttl = app_settings.ACCESS_TOKEN_TTL
    AccessToken.objects.create(
        family=family,
        token_hash=token_hash(access),
        expires_at=now + timedelta(seconds=access_ttl),
    )
    RefreshToken.objects.create(
        family=family,
        token_hash=token_hash(refresh),
        expires_at=now + timedelta(seconds=app_settings.REFRESH_TOKEN_TTL),
    )
    return TokenPair(access, refresh, access_ttl)


def issue(request: HttpRequest, user: AbstractBaseUser) -> TokenPair:
    """Start a new token family for ``user`` and return its first pair."""
    with transaction.atomic():
        family = TokenFamily.objects.create(user_id=user.pk)
        pair = _issue(family)
    audit.emit(
        "authn_token_created",
        outcome="success",
        request=request,
        actor=user.pk,
        target=f"family:{family.pk}",
    )
    return pair


def revoke_family(family: TokenFamily, reason: str) -> None:
    """Revoke a family: none of its tokens works any more."""
    TokenFamily.objects.filter(pk=family.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    AccessToken.objects.filter(family=family).delete()


def revoke_user_families(
    request: HttpRequest | None, user: AbstractBaseUser, reason: str
) -> int:
    """Revoke every live token family of ``user``; return how many."""
    families = list(
        TokenFamily.objects.filter(user_id=user.pk, revoked_at__isnull=True)
    )
    for family in families:
        revoke_family(family, reason)
    if families:
        audit.emit(
            "authn_token_revoked",
            outcome="success",
            request=request,
            actor=user.pk,
            cause=reason,
            count=len(families),
        )
    return len(families)


def _well_formed(token: str, prefix: str) -> bool:
    return token.startswith(prefix) and len(token) <= MAX_TOKEN_LENGTH


def family_of(presented: str) -> int | None:
    """The id of the family a refresh token belongs to, spent or not."""
    if not _well_formed(presented, REFRESH_PREFIX):
        return None
    return (
        RefreshToken.objects.filter(token_hash=token_hash(presented))
        .values_list("family_id", flat=True)
        .first()
    )


def rotate(request: HttpRequest, presented: str) -> TokenPair:
    """Exchange a refresh token for a new pair; a reused one revokes its family."""
    if not _well_formed(presented, REFRESH_PREFIX):
        raise TokenRefused("malformed")
    row = (
        RefreshToken.objects.select_related("family__user")
        .filter(token_hash=token_hash(presented))
        .first()
    )
    if row is None:
        raise TokenRefused("unknown")
    family = row.family
    if family.revoked_at is not None:
        raise TokenRefused("revoked")
    if not family.user.is_active:
        revoke_family(family, "user_inactive")
        raise TokenRefused("inactive")

    now = timezone.now()
    with transaction.atomic():
        claimed = RefreshToken.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now
        )
        if claimed != 1:
            revoke_family(family, "refresh_token_reuse")
    if claimed != 1:
        audit.emit(
            "authn_token_reuse",
            outcome="denied",
            request=request,
            actor=family.user_id,
            target=f"family:{family.pk}",
        )
        logger.warning("refresh token reused; family %s revoked", family.pk)
        raise TokenRefused("reused")
    if row.expires_at <= now:
        raise TokenRefused("expired")

    pair = _issue(family)
    audit.emit(
        "authn_token_refreshed",
        outcome="success",
        request=request,
        actor=family.user_id,
        target=f"family:{family.pk}",
    )
    return pair


def revoke(request: HttpRequest, presented: str) -> None:
    """Revoke the family of a refresh token (sign-out of an API client)."""
    if not _well_formed(presented, REFRESH_PREFIX):
        raise TokenRefused("malformed")
    row = RefreshToken.objects.filter(token_hash=token_hash(presented)).first()
    if row is None:
        raise TokenRefused("unknown")
    revoke_family(row.family, "revoked_by_client")
    audit.emit(
        "authn_token_revoked",
        outcome="success",
        request=request,
        target=f"family:{row.family_id}",
    )


def user_for_access_token(presented: str) -> AbstractBaseUser:
    """Return the user of a valid access token."""
    if not _well_formed(presented, ACCESS_PREFIX):
        raise TokenRefused("malformed")
    row = (
        AccessToken.objects.select_related("family__user")
        .filter(token_hash=token_hash(presented))
        .first()
    )
    if row is None:
        raise TokenRefused("unknown")
    if row.expires_at <= timezone.now():
        raise TokenRefused("expired")
    if row.family.revoked_at is not None:
        raise TokenRefused("revoked")
    user: AbstractBaseUser = row.family.user
    if not user.is_active:
        raise TokenRefused("inactive")
    return user
