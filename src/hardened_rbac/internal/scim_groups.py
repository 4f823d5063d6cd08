"""SCIM Groups of one tenant: each is a role its members are granted.

Creating a Group makes a role of the token's tenant, with no permissions: a
site operator decides in the admin what the role may do. A Group's members
are the tenant's SCIM Users; each holds a grant of source ``scim`` on the
role. Only roles made over SCIM are Groups, so a provider can neither see
nor change roles made in the admin, and never another tenant's.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django_scim.constants import SchemaURI

from hardened_rbac.internal import audit
from hardened_rbac.internal.scim_users import (
    MAX_EXTERNAL_ID,
    MAX_OPERATIONS,
    ScimError,
    text_value,
)
from hardened_rbac.models import Grant, Role, ScimGroup, ScimUser, Tenant

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME = 100
MAX_MEMBERS = 1000

FILTER_RE = re.compile(
    r'\s*displayname\s+eq\s+"((?:[^"\\]|\\.){1,400})"\s*', re.IGNORECASE
)
MEMBER_PATH_RE = re.compile(
    r'members\[\s*value\s+eq\s+"(\d{1,18})"\s*\]', re.IGNORECASE
)


@dataclass
class GroupAttributes:
    display_name: str
    external_id: str
    members: set[int]


def _listed_ids(raw: object) -> set[int]:
    """The ids of a ``members`` value, each a SCIM User id in decimal."""
    if not isinstance(raw, list) or len(raw) > MAX_MEMBERS:
        raise ScimError(400, "members must be a list.", "invalidValue")
    listed: set[int] = set()
    for item in raw:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
            raise ScimError(
                400, "A member is not a User of this tenant.", "invalidValue"
            )
        listed.add(int(value))
    return listed


def _member_ids(tenant: Tenant, raw: object) -> set[int]:
    """The SCIM User ids of ``raw``; each must be a User of this tenant."""
    wanted = _listed_ids(raw)
    known = set(
        ScimUser.objects.filter(tenant=tenant, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    if known != wanted:
        raise ScimError(400, "A member is not a User of this tenant.", "invalidValue")
    return wanted


def parse_group(tenant: Tenant, body: dict[str, Any]) -> GroupAttributes:
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SchemaURI.GROUP not in schemas:
        raise ScimError(
            400, "schemas must name the core Group schema.", "invalidSyntax"
        )
    return GroupAttributes(
        display_name=text_value(
            body.get("displayName"), "displayName", MAX_DISPLAY_NAME, required=True
        ),
        external_id=text_value(body.get("externalId"), "externalId", MAX_EXTERNAL_ID),
        members=_member_ids(tenant, body.get("members", [])),
    )


def current_members(group: ScimGroup) -> set[int]:
    return set(
        ScimUser.objects.filter(
            tenant=group.tenant_id,
            membership__grants__role=group.role_id,
            membership__grants__source=Grant.Source.SCIM,
        ).values_list("pk", flat=True)
    )


def members_excluded(raw: str | None) -> bool:
    """Whether the ``excludedAttributes`` parameter names ``members``."""
    if raw is None:
        return False
    return "members" in {part.strip().lower() for part in raw[:1000].split(",")}


def representation(
    group: ScimGroup, location: str, *, members: bool = True
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [SchemaURI.GROUP],
        "id": str(group.pk),
        "displayName": group.role.name,
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": location,
        },
    }
    if members:
        resource["members"] = [
            {"value": str(pk)} for pk in sorted(current_members(group))
        ]
    if group.external_id:
        resource["externalId"] = group.external_id
    return resource


def filter_display_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    match = FILTER_RE.fullmatch(raw)
    if match is None:
        raise ScimError(
            400, 'Only the filter displayName eq "..." is supported.', "invalidFilter"
        )
    try:
        return str(json.loads(f'"{match.group(1)}"'))
    except ValueError:
        raise ScimError(
            400, "The filter value is malformed.", "invalidFilter"
        ) from None


def tenant_groups(tenant: Tenant) -> Any:
    return ScimGroup.objects.filter(tenant=tenant).select_related("role")


def get_group(tenant: Tenant, scim_id: str) -> ScimGroup:
    found = None
    if scim_id.isdigit() and len(scim_id) <= 18:
        found = tenant_groups(tenant).filter(pk=int(scim_id)).first()
    if found is None:
        audit.emit(
            "authz_fail",
            outcome="denied",
            tenant=tenant.pk,
            target=f"scim_group:{scim_id[:20]}",
            action="scim_group_not_in_tenant",
        )
        raise ScimError(404, "Resource not found.")
    return found  # type: ignore[no-any-return]


def _set_members(group: ScimGroup, wanted: set[int]) -> None:
    have = current_members(group)
    joining = ScimUser.objects.filter(tenant=group.tenant_id, pk__in=wanted - have)
    for scim_user in joining.select_related("membership"):
        Grant.objects.get_or_create(
            membership=scim_user.membership,
            role=group.role,
            defaults={"source": Grant.Source.SCIM},
        )
    for grant in Grant.objects.filter(
        role=group.role,
        source=Grant.Source.SCIM,
        membership__tenant=group.tenant_id,
        membership__scim_user__pk__in=have - wanted,
    ):
        grant.delete()


def _taken(tenant: Tenant, name: str, group: ScimGroup | None) -> bool:
    """Whether another role of the tenant, or a site-wide one, has ``name``."""
    others = Role.objects.filter(
        Q(tenant=tenant) | Q(tenant__isnull=True), name__iexact=name
    )
    if group is not None:
        others = others.exclude(pk=group.role_id)
    return bool(others.exists())


def save_group(
    tenant: Tenant, values: GroupAttributes, group: ScimGroup | None = None
) -> ScimGroup:
    """Create a group, or store new attributes and members on ``group``."""
    if len(values.members) > MAX_MEMBERS:
        raise ScimError(
            400, f"A group has at most {MAX_MEMBERS} members.", "invalidValue"
        )
    if _taken(tenant, values.display_name, group):
        raise ScimError(409, "displayName is already in use.", "uniqueness")
    try:
        with transaction.atomic():
            if group is None:
                role = Role.objects.create(tenant=tenant, name=values.display_name)
                group = ScimGroup.objects.create(
                    tenant=tenant, role=role, external_id=values.external_id
                )
                event = "scim_group_created"
            else:
                group.role.name = values.display_name
                group.role.save(update_fields=["name"])
                group.external_id = values.external_id
                group.save()
                event = "scim_group_updated"
            _set_members(group, values.members)
    except IntegrityError:
        raise ScimError(409, "displayName is already in use.", "uniqueness") from None
    audit.emit(
        event,
        outcome="success",
        tenant=tenant.pk,
        target=f"role:{group.role_id}",
        members=len(values.members),
    )
    return group


def delete_group(group: ScimGroup) -> None:
    """Delete the group's role and with it every grant of it."""
    role_id = group.role_id
    tenant_id = group.tenant_id
    with transaction.atomic():
        for grant in Grant.objects.filter(role_id=role_id):
            grant.delete()
        Role.objects.filter(pk=role_id).delete()
    audit.emit(
        "scim_group_deleted",
        outcome="success",
        tenant=tenant_id,
        target=f"role:{role_id}",
    )


def _change(
    group: ScimGroup, values: GroupAttributes, op: str, name: str, value: object
) -> None:
    """Apply ``op`` on the attribute ``name`` (lower case) to ``values``."""
    if name == "members" and op == "remove":
        values.members = set() if value is None else values.members - _listed_ids(value)
    elif name == "members" and op == "add":
        values.members |= _member_ids(group.tenant, value)
    elif name == "members":
        values.members = _member_ids(group.tenant, value)
    elif name == "displayname" and op != "remove":
        values.display_name = text_value(
            value, "displayName", MAX_DISPLAY_NAME, required=True
        )
    elif name == "externalid" and op == "remove":
        values.external_id = ""
    elif name == "externalid":
        values.external_id = text_value(value, "externalId", MAX_EXTERNAL_ID)
    elif name != "id" or op == "remove" or value != str(group.pk):
        raise ScimError(400, "This attribute cannot be changed.", "invalidPath")


def apply_patch(group: ScimGroup, body: dict[str, Any]) -> GroupAttributes:
    """The group's attributes after the PatchOp ``body``; nothing is stored.

    Members are added by ``add`` on ``members``, removed by ``remove`` on
    ``members`` (all of them, or those listed in the value) or on
    ``members[value eq "<id>"]``, and replaced by ``replace``. An operation
    without a path takes an object of attributes, as some providers send a
    rename; a repeated ``id`` there must be the group's own.
    """
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SchemaURI.PATCH_OP not in schemas:
        raise ScimError(400, "schemas must name the PatchOp message.", "invalidSyntax")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not 0 < len(operations) <= MAX_OPERATIONS:
        raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
    values = GroupAttributes(group.role.name, group.external_id, current_members(group))
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise ScimError(400, "op must be add, replace or remove.", "invalidSyntax")
        op = op.lower()
        path = operation.get("path")
        value = operation.get("value")
        if path is None:
            if op == "remove" or not isinstance(value, dict):
                raise ScimError(
                    400,
                    "An operation without a path needs an object value.",
                    "invalidSyntax",
                )
            for key, item in value.items():
                _change(group, values, op, str(key).lower(), item)
            continue
        if not isinstance(path, str):
            raise ScimError(400, "path must be a string.", "invalidPath")
        single = MEMBER_PATH_RE.fullmatch(path)
        if single is None:
            _change(group, values, op, path.lower(), value)
        elif op == "remove":
            values.members.discard(int(single.group(1)))
        else:
            raise ScimError(400, "Only remove may name one member.", "invalidPath")
    return values
