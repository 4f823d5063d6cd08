"""Attribute rules: each answers for one object and as a queryset filter.

A rule's ``check`` and ``q`` are written side by side from one declaration,
and the property tests hold them to the same answer for every object.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q

from hardened_rbac.internal.grants import permissions_in
from hardened_rbac.models import Membership, Tenant

NOTHING = Q(pk__in=[])
EVERYTHING = Q(pk__isnull=False)


@dataclass
class Subject:
    """Who asks, in which tenant; memberships and permissions load lazily."""

    user: Any
    tenant: Tenant
    _member: bool | None = field(default=None, repr=False)

    @property
    def authenticated(self) -> bool:
        return bool(
            self.user is not None and self.user.is_authenticated and self.user.is_active
        )

    @property
    def user_id(self) -> Any:
        return self.user.pk if self.authenticated else None

    @property
    def is_member(self) -> bool:
        if self._member is None:
            self._member = (
                self.authenticated
                and Membership.objects.active()
                .filter(user_id=self.user.pk, tenant_id=self.tenant.pk)
                .exists()
            )
        return self._member

    def member_q(self) -> Q:
        """Active membership as SQL, so a filter stays one query."""
        if not self.authenticated:
            return NOTHING
        return Q(
            Exists(
                Membership.objects.active().filter(
                    user_id=self.user.pk, tenant_id=self.tenant.pk
                )
            )
        )

    def has_perm(self, perm: str) -> bool:
        return self.is_member and perm in permissions_in(self.user, self.tenant)


@dataclass(frozen=True)
class Verdict:
    rule: str
    allowed: bool
    reason: str


class Rule:
    """One way of being allowed. Subclasses give ``check`` and ``q``."""

    def describe(self) -> str:
        return type(self).__name__

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        raise NotImplementedError

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        raise NotImplementedError

    def verdict(self, allowed: bool, reason: str) -> Verdict:
        return Verdict(self.describe(), allowed, reason)


class HasPermission(Rule):
    """A role granted in the tenant includes the permission."""

    def __init__(self, perm: str) -> None:
        self.perm = perm

    def describe(self) -> str:
        return f"HasPermission({self.perm})"

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        if subject.has_perm(self.perm):
            return self.verdict(True, "a granted role includes the permission")
        return self.verdict(False, "no granted role includes the permission")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        return EVERYTHING if subject.has_perm(self.perm) else NOTHING


class IsCreator(Rule):
    """The user is the object's creator (``field`` names the user key)."""

    def __init__(self, field: str = "author") -> None:
        self.field = field

    def describe(self) -> str:
        return f"IsCreator({self.field})"

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        creator = getattr(obj, f"{self.field}_id")
        if subject.authenticated and creator == subject.user_id:
            return self.verdict(True, "the user created the object")
        return self.verdict(False, "the user did not create the object")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        if not subject.authenticated:
            return NOTHING
        return Q(**{f"{self.field}_id": subject.user_id})


class FeedVisibility(Rule):
    """Feed visibility: ``public``, ``tenant``, ``followers`` or ``private``.

    Public items are visible to anyone in the tenant's context; the others
    need an active membership of the tenant, and ``followers`` items also
    need a follow of the author (or authorship), ``private`` ones authorship.
    """

    PUBLIC, TENANT, FOLLOWERS, PRIVATE = "public", "tenant", "followers", "private"

    def __init__(
        self,
        follow_model: type[models.Model] | str,
        *,
        field: str = "visibility",
        author: str = "author",
        follower: str = "follower",
        followee: str = "followee",
    ) -> None:
        self._follow_model = follow_model
        self.field = field
        self.author = author
        self.follower = follower
        self.followee = followee

    @property
    def follow_model(self) -> type[models.Model]:
        from django.apps import apps

        model = self._follow_model
        return apps.get_model(model) if isinstance(model, str) else model

    def describe(self) -> str:
        return f"FeedVisibility({self.field})"

    def _follows(self, subject: Subject, author_id: Any) -> bool:
        return bool(
            self.follow_model._default_manager.filter(
                **{
                    f"{self.follower}_id": subject.user_id,
                    f"{self.followee}_id": author_id,
                }
            ).exists()
        )

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        visibility = getattr(obj, self.field)
        author_id = getattr(obj, f"{self.author}_id")
        if visibility == self.PUBLIC:
            return self.verdict(True, "the item is public")
        if visibility not in (self.TENANT, self.FOLLOWERS, self.PRIVATE):
            return self.verdict(False, "the item's visibility is unknown")
        if not subject.is_member:
            return self.verdict(False, "the user is not a member of the tenant")
        if visibility == self.TENANT:
            return self.verdict(True, "the item is visible to the tenant's members")
        if author_id == subject.user_id:
            return self.verdict(True, "the user wrote the item")
        if visibility == self.FOLLOWERS and self._follows(subject, author_id):
            return self.verdict(True, "the user follows the author")
        return self.verdict(
            False, f"the item is {visibility} and the user may not see it"
        )

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        public = Q(**{self.field: self.PUBLIC})
        if not subject.authenticated:
            return public
        follows = Exists(
            self.follow_model._default_manager.filter(
                **{
                    f"{self.follower}_id": subject.user_id,
                    f"{self.followee}_id": OuterRef(f"{self.author}_id"),
                }
            )
        )
        own = Q(**{f"{self.author}_id": subject.user_id})
        return public | (
            subject.member_q()
            & (
                Q(**{self.field: self.TENANT})
                | (Q(**{self.field: self.FOLLOWERS}) & (own | follows))
                | (Q(**{self.field: self.PRIVATE}) & own)
            )
        )


class GroupMember(Rule):
    """The user belongs to the object's group, optionally with a group role.

    ``group`` names the object's key to the group, or ``None`` when the object
    is the group itself.
    """

    def __init__(
        self,
        membership_model: type[models.Model] | str,
        *,
        group: str | None = "group",
        roles: Collection[str] | None = None,
        member_group: str = "group",
        member_user: str = "user",
        member_role: str = "role",
    ) -> None:
        self._membership_model = membership_model
        self.group = group
        self.roles = frozenset(roles) if roles is not None else None
        self.member_group = member_group
        self.member_user = member_user
        self.member_role = member_role

    @property
    def membership_model(self) -> type[models.Model]:
        from django.apps import apps

        model = self._membership_model
        return apps.get_model(model) if isinstance(model, str) else model

    def describe(self) -> str:
        roles = f", roles={sorted(self.roles)}" if self.roles is not None else ""
        return f"GroupMember({self.group or 'self'}{roles})"

    def _memberships(self, subject: Subject, group_ref: Any) -> models.QuerySet[Any]:
        queryset = self.membership_model._default_manager.filter(
            **{
                f"{self.member_user}_id": subject.user_id,
                f"{self.member_group}_id": group_ref,
            }
        )
        if self.roles is not None:
            queryset = queryset.filter(**{f"{self.member_role}__in": self.roles})
        return queryset

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        group_id = obj.pk if self.group is None else getattr(obj, f"{self.group}_id")
        if not subject.is_member or group_id is None:
            return self.verdict(False, "the user is not in the object's group")
        if self._memberships(subject, group_id).exists():
            return self.verdict(True, "the user is in the group with a fitting role")
        return self.verdict(False, "the user is not in the group with a fitting role")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        if not subject.authenticated:
            return NOTHING
        ref = OuterRef("pk" if self.group is None else f"{self.group}_id")
        return subject.member_q() & Q(Exists(self._memberships(subject, ref)))


class Participant(Rule):
    """The user is among the participants the ``path`` leads to (DMs)."""

    def __init__(self, path: str = "participants") -> None:
        self.path = path

    def describe(self) -> str:
        return f"Participant({self.path})"

    def _matching(self, subject: Subject, model: type[models.Model]) -> Any:
        return model._base_manager.filter(**{self.path: subject.user_id}).values("pk")

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        if not subject.is_member:
            return self.verdict(False, "the user is not a member of the tenant")
        if self._matching(subject, type(obj)).filter(pk=obj.pk).exists():
            return self.verdict(True, "the user takes part in the conversation")
        return self.verdict(False, "the user does not take part in the conversation")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        if not subject.authenticated:
            return NOTHING
        return subject.member_q() & Q(pk__in=self._matching(subject, model))


class AllOf(Rule):
    """Allowed only when every rule allows."""

    def __init__(self, *rules: Rule) -> None:
        self.rules: Sequence[Rule] = rules

    def describe(self) -> str:
        return "AllOf(" + ", ".join(r.describe() for r in self.rules) + ")"

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        for rule in self.rules:
            verdict = rule.check(subject, obj)
            if not verdict.allowed:
                return self.verdict(False, f"{verdict.rule}: {verdict.reason}")
        return self.verdict(True, "every rule allowed")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        combined = EVERYTHING
        for rule in self.rules:
            combined &= rule.q(subject, model)
        return combined


class ObjectPermission(Rule):
    """django-guardian gave the user, or one of their groups, ``codename``.

    With direct foreign-key permission tables (subclasses of guardian's
    ``UserObjectPermissionBase`` and ``GroupObjectPermissionBase`` with a
    ``content_object`` key) the filter is a plain key lookup; with guardian's
    generic tables it matches the content type and the text primary key.
    """

    def __init__(self, codename: str) -> None:
        self.codename = codename.rsplit(".", 1)[-1]

    def describe(self) -> str:
        return f"ObjectPermission({self.codename})"

    def _sources(
        self, subject: Subject, model: type[models.Model]
    ) -> list[tuple[Any, str]]:
        """Each permission table's matching rows and its object column."""
        from django.contrib.contenttypes.models import ContentType
        from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

        content_type = ContentType.objects.get_for_model(model)
        sources: list[tuple[Any, str]] = []
        user_table: Any = get_user_obj_perms_model(model)  # type: ignore[arg-type]
        group_table: Any = get_group_obj_perms_model(model)  # type: ignore[arg-type]
        for perms_model, holder in (
            (user_table, {"user_id": subject.user_id}),
            (group_table, {"group__user": subject.user_id}),
        ):
            rows = perms_model.objects.filter(
                permission__codename=self.codename,
                permission__content_type=content_type,
                **holder,
            )
            if perms_model.objects.is_generic():
                sources.append((rows.filter(content_type=content_type), "object_pk"))
            else:
                sources.append((rows, "content_object_id"))
        return sources

    def check(self, subject: Subject, obj: models.Model) -> Verdict:
        if subject.is_member:
            for rows, column in self._sources(subject, type(obj)):
                value = str(obj.pk) if column == "object_pk" else obj.pk
                if rows.filter(**{column: value}).exists():
                    return self.verdict(True, "an object permission allows")
        return self.verdict(False, "no object permission allows")

    def q(self, subject: Subject, model: type[models.Model]) -> Q:
        from django.db.models.functions import Cast

        if not subject.authenticated:
            return NOTHING
        combined = NOTHING
        for rows, column in self._sources(subject, model):
            if column == "object_pk":
                rows = rows.annotate(hardened_object=Cast("object_pk", model._meta.pk))
                column = "hardened_object"
            combined |= Q(pk__in=rows.values(column))
        return subject.member_q() & combined
