"""SCIM Users of one tenant: each is a membership the provider owns.

A SCIM User exists only inside the tenant whose token created it. Creating
one makes a new site account (with a generated username and no usable
password) and a membership in that tenant, so a provider never learns of,
nor reaches, an account another tenant provisioned. Deactivating or deleting
the User ends the membership and, at once, every session and API token of
the account.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django_scim.constants import SchemaURI

from hardened_rbac.internal import audit
from hardened_rbac.models import Membership, ScimUser, Tenant

logger = logging.getLogger(__name__)

MAX_USER_NAME = 150
MAX_EXTERNAL_ID = 255
MAX_NAME_PART = 150
MAX_EMAIL = 254
MAX_OPERATIONS = 50
MAX_PAGE = 100

FILTER_RE = re.compile(
    r'\s*username\s+eq\s+"((?:[^"\\]|\\.){1,600})"\s*', re.IGNORECASE
)


class ScimError(Exception):
    """A request SCIM answers with an error body and this status."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


@dataclass
class Attributes:
    user_name: str
    external_id: str
    given_name: str
    family_name: str
    email: str
    active: bool


def text_value(value: object, field: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ScimError(
            400,
            f"{field} must be a string of at most {limit} characters.",
            "invalidValue",
        )
    if required and not value.strip():
        raise ScimError(400, f"{field} is required.", "invalidValue")
    return value.strip()


def _active(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, "active must be a boolean.", "invalidValue")


def _email(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, list) or len(value) > 10:
        raise ScimError(400, "emails must be a list.", "invalidValue")
    entries = [e for e in value if isinstance(e, dict)]
    if len(entries) != len(value):
        raise ScimError(400, "emails must be a list of objects.", "invalidValue")
    if not entries:
        return ""
    chosen = next((e for e in entries if e.get("primary") is True), entries[0])
    email = text_value(chosen.get("value"), "emails.value", MAX_EMAIL)
    try:
        validate_email(email)
    except ValidationError:
        raise ScimError(
            400, "emails.value is not an address.", "invalidValue"
        ) from None
    return email


def parse_user(body: dict[str, Any]) -> Attributes:
    """The attributes of a full User; unknown attributes are ignored."""
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SchemaURI.USER not in schemas:
        raise ScimError(400, "schemas must name the core User schema.", "invalidSyntax")
    name = body.get("name")
    if name is None:
        name = {}
    if not isinstance(name, dict):
        raise ScimError(400, "name must be an object.", "invalidValue")
    active = body.get("active", True)
    return Attributes(
        user_name=text_value(
            body.get("userName"), "userName", MAX_USER_NAME, required=True
        ),
        external_id=text_value(body.get("externalId"), "externalId", MAX_EXTERNAL_ID),
        given_name=text_value(name.get("givenName"), "name.givenName", MAX_NAME_PART),
        family_name=text_value(
            name.get("familyName"), "name.familyName", MAX_NAME_PART
        ),
        email=_email(body.get("emails")),
        active=_active(active),
    )


def attributes_of(scim_user: ScimUser) -> Attributes:
    user = scim_user.membership.user
    return Attributes(
        user_name=scim_user.user_name,
        external_id=scim_user.external_id,
        given_name=getattr(user, "first_name", ""),
        family_name=getattr(user, "last_name", ""),
        email=getattr(user, "email", ""),
        active=scim_user.membership.is_active,
    )


def representation(scim_user: ScimUser, location: str) -> dict[str, Any]:
    values = attributes_of(scim_user)
    resource: dict[str, Any] = {
        "schemas": [SchemaURI.USER],
        "id": str(scim_user.pk),
        "userName": values.user_name,
        "name": {"givenName": values.given_name, "familyName": values.family_name},
        "active": values.active,
        "meta": {
            "resourceType": "User",
            "created": scim_user.created_at.isoformat(),
            "lastModified": scim_user.updated_at.isoformat(),
            "location": location,
        },
    }
    if values.external_id:
        resource["externalId"] = values.external_id
    if values.email:
        resource["emails"] = [{"value": values.email, "primary": True}]
    return resource


def filter_user_name(raw: str | None) -> str | None:
    """The userName of a ``userName eq "..."`` filter; other filters are refused."""
    if raw is None:
        return None
    match = FILTER_RE.fullmatch(raw)
    if match is None:
        raise ScimError(
            400, 'Only the filter userName eq "..." is supported.', "invalidFilter"
        )
    try:
        value = json.loads(f'"{match.group(1)}"')
    except ValueError:
        raise ScimError(
            400, "The filter value is malformed.", "invalidFilter"
        ) from None
    return str(value)


def tenant_users(tenant: Tenant) -> Any:
    return ScimUser.objects.filter(tenant=tenant).select_related("membership__user")


def get_user(tenant: Tenant, scim_id: str) -> ScimUser:
    """The tenant's User with this id; any other id is simply not found."""
    found = None
    if scim_id.isdigit() and len(scim_id) <= 18:
        found = tenant_users(tenant).filter(pk=int(scim_id)).first()
    if found is None:
        audit.emit(
            "authz_fail",
            outcome="denied",
            tenant=tenant.pk,
            target=f"scim_user:{scim_id[:20]}",
            action="scim_user_not_in_tenant",
        )
        raise ScimError(404, "Resource not found.")
    return found  # type: ignore[no-any-return]


def _taken(tenant: Tenant, user_name: str, exclude: int | None = None) -> bool:
    others = ScimUser.objects.filter(tenant=tenant, user_name__iexact=user_name)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    return bool(others.exists())


def _apply_account(user: Any, values: Attributes) -> None:
    user.first_name = values.given_name
    user.last_name = values.family_name
    user.email = values.email
    user.save(update_fields=["first_name", "last_name", "email"])


def create_user(tenant: Tenant, values: Attributes) -> ScimUser:
    if _taken(tenant, values.user_name):
        raise ScimError(409, "userName is already in use.", "uniqueness")
    user_model = get_user_model()
    try:
        with transaction.atomic():
            account: Any = user_model(username=f"scim-{secrets.token_hex(12)}")
            account.set_unusable_password()
            account.save()
            _apply_account(account, values)
            membership = Membership.objects.create(
                tenant=tenant, user=account, is_active=values.active
            )
            scim_user = ScimUser.objects.create(
                tenant=tenant,
                membership=membership,
                user_name=values.user_name,
                external_id=values.external_id,
            )
    except IntegrityError:
        raise ScimError(409, "userName is already in use.", "uniqueness") from None
    audit.emit(
        "user_created",
        outcome="success",
        tenant=tenant.pk,
        target=f"user:{account.pk}",
        channel="scim",
    )
    return scim_user


def _end_access(scim_user: ScimUser, event: str) -> None:
    from hardened_auth.sessions import end_all_sessions

    account = scim_user.membership.user
    ended = end_all_sessions(account)
    audit.emit(
        event,
        outcome="success",
        tenant=scim_user.tenant_id,
        target=f"user:{account.pk}",
        channel="scim",
        sessions_ended=ended,
    )


def update_user(scim_user: ScimUser, values: Attributes) -> ScimUser:
    """Store new attributes; going inactive ends the account's access at once."""
    if _taken(scim_user.tenant, values.user_name, exclude=scim_user.pk):
        raise ScimError(409, "userName is already in use.", "uniqueness")
    membership = scim_user.membership
    was_active = membership.is_active
    with transaction.atomic():
        scim_user.user_name = values.user_name
        scim_user.external_id = values.external_id
        try:
            with transaction.atomic():
                scim_user.save()
        except IntegrityError:
            raise ScimError(409, "userName is already in use.", "uniqueness") from None
        _apply_account(membership.user, values)
        if membership.is_active != values.active:
            membership.is_active = values.active
            membership.save(update_fields=["is_active"])
        if was_active and not values.active:
            _end_access(scim_user, "user_deactivated")
    if values.active and not was_active:
        audit.emit(
            "user_reactivated",
            outcome="success",
            tenant=scim_user.tenant_id,
            target=f"user:{membership.user_id}",
            channel="scim",
        )
    audit.emit(
        "user_updated",
        outcome="success",
        tenant=scim_user.tenant_id,
        target=f"user:{membership.user_id}",
        channel="scim",
    )
    return scim_user


def delete_user(scim_user: ScimUser) -> None:
    """End the membership and every session and token of the account."""
    with transaction.atomic():
        _end_access(scim_user, "user_deleted")
        scim_user.membership.delete()


PATCH_PATHS = {
    "active": "active",
    "username": "user_name",
    "externalid": "external_id",
    "name.givenname": "given_name",
    "name.familyname": "family_name",
}
REMOVABLE = {"external_id", "given_name", "family_name"}


def _set(values: Attributes, field: str, value: object) -> None:
    if field == "active":
        values.active = _active(value)
    elif field == "user_name":
        values.user_name = text_value(value, "userName", MAX_USER_NAME, required=True)
    elif field == "external_id":
        values.external_id = text_value(value, "externalId", MAX_EXTERNAL_ID)
    else:
        setattr(values, field, text_value(value, field, MAX_NAME_PART))


def _flatten(value: dict[str, Any]) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    for key, item in value.items():
        if key == "name" and isinstance(item, dict):
            pairs.extend((f"name.{sub}", v) for sub, v in item.items())
        else:
            pairs.append((key, item))
    return pairs


def apply_patch(scim_user: ScimUser, body: dict[str, Any]) -> Attributes:
    """The User's attributes after the PatchOp ``body``; nothing is stored."""
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SchemaURI.PATCH_OP not in schemas:
        raise ScimError(400, "schemas must name the PatchOp message.", "invalidSyntax")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not 0 < len(operations) <= MAX_OPERATIONS:
        raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
    values = attributes_of(scim_user)
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise ScimError(400, "op must be add, replace or remove.", "invalidSyntax")
        path = operation.get("path")
        if path is None:
            value = operation.get("value")
            if op.lower() == "remove" or not isinstance(value, dict):
                raise ScimError(
                    400,
                    "An operation without a path needs an object value.",
                    "invalidSyntax",
                )
            pairs = _flatten(value)
        elif isinstance(path, str):
            pairs = [(path, operation.get("value"))]
        else:
            raise ScimError(400, "path must be a string.", "invalidPath")
        for key, value in pairs:
            field = PATCH_PATHS.get(key.lower())
            if field is None:
                raise ScimError(400, "This attribute cannot be changed.", "invalidPath")
            if op.lower() == "remove":
                if field not in REMOVABLE:
                    raise ScimError(
                        400, "This attribute cannot be removed.", "mutability"
                    )
                setattr(values, field, "")
            else:
                _set(values, field, value)
    return values
