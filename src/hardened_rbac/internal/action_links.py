"""Signed links that carry one action on one object for one user.

The token is signed with the site's secret key (``django.core.signing``,
timestamped, salted per purpose) and names the action, the object, the user,
the tenant, the path the link opens and a random nonce. It is refused when
the signature does not match, when it is older than
``HARDENED_RBAC_ACTION_LINK_MAX_AGE``, when any of those does not match the
request, or when its nonce was already used: the first use records the nonce
under a unique constraint, so two concurrent uses cannot both win.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.core import signing
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import ActionLinkRefused
from hardened_rbac.internal import audit
from hardened_rbac.internal.context import current_tenant
from hardened_rbac.models import ActionLinkUse

logger = logging.getLogger(__name__)

SALT = "hardened_rbac.action_link"
MAX_TOKEN_LENGTH = 1024


def _target(obj: models.Model) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def make_token(user: Any, action: str, obj: models.Model, path: str) -> str:
    tenant = current_tenant()
    payload = {
        "a": action,
        "o": _target(obj),
        "u": str(user.pk),
        "t": str(tenant.pk) if tenant is not None else "",
        "p": path,
        "n": secrets.token_urlsafe(24),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def _refuse(why: str, action: str, target: str | None = None) -> ActionLinkRefused:
    audit.emit(
        "authz_fail",
        outcome="denied",
        target=target,
        action="action_link_refused",
        link_action=action,
        refusal=why,
    )
    return ActionLinkRefused("This link cannot be used.")


def consume_token(
    request: HttpRequest, token: str, action: str, model: type[models.Model]
) -> models.Model:
    """Check the token against the request, spend it, and return its object."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _refuse("malformed", action)
    try:
        payload = signing.loads(
            token, salt=SALT, max_age=app_settings.ACTION_LINK_MAX_AGE
        )
    except signing.SignatureExpired:
        raise _refuse("expired", action) from None
    except (signing.BadSignature, ValueError):
        raise _refuse("tampered", action) from None
    if not isinstance(payload, dict):
        raise _refuse("tampered", action)

    target = str(payload.get("o", ""))
    tenant = current_tenant()
    user = getattr(request, "user", None)
    checks = {
        "wrong_action": payload.get("a") == action,
        "wrong_object_type": target.startswith(model._meta.label_lower + ":"),
        "wrong_user": user is not None
        and user.is_authenticated
        and payload.get("u") == str(user.pk),
        "wrong_tenant": payload.get("t")
        == (str(tenant.pk) if tenant is not None else ""),
        "wrong_path": payload.get("p") == request.path,
    }
    for why, passed in checks.items():
        if not passed:
            raise _refuse(why, action, target)

    try:
        with transaction.atomic():
            ActionLinkUse.objects.create(
                nonce=str(payload["n"])[:64],
                action=action[:100],
                user_id=str(payload["u"])[:64],
                target=target[:200],
            )
    except IntegrityError:
        raise _refuse("replayed", action, target) from None

    obj = model._default_manager.filter(pk=target.split(":", 1)[1]).first()
    if obj is None:
        raise _refuse("object_gone", action, target)
    return obj
