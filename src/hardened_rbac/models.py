"""Tenants, the users who belong to them, roles and grants."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import GrantTenantMismatch


def validate_tenant_slug(value: str) -> None:
    if value.lower() in {s.lower() for s in app_settings.RESERVED_TENANT_SLUGS}:
        raise ValidationError(
            _("%(slug)s is reserved."), code="reserved", params={"slug": value}
        )


class Tenant(models.Model):
    """An organisation whose data is kept apart from every other tenant's."""

    slug = models.SlugField(
        max_length=63, unique=True, validators=[validate_tenant_slug]
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


MEMBERSHIP_ROW = ("pk", "user_id", "tenant_id")
GRANT_ROW = ("pk", "membership__user_id", "membership__tenant_id", "role_id", "source")
ROLE_ROW = ("pk", "tenant_id")


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> "MembershipQuerySet":
        return self.filter(is_active=True, tenant__is_active=True)

    def update(self, **kwargs: Any) -> int:
        """Update in bulk; each row is audited and its decisions invalidated."""
        from hardened_rbac.internal.bulk_changes import memberships_changed

        with transaction.atomic(using=self.db):
            before = list(self.values_list(*MEMBERSHIP_ROW))
            count = super().update(**kwargs)
            after = _rows_now(self, before, MEMBERSHIP_ROW)
        memberships_changed(before, after, "membership_updated", kwargs)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list["Membership"]:
        from hardened_rbac.internal.bulk_changes import memberships_changed

        created = super().bulk_create(objs, *args, **kwargs)
        rows = [(m.pk, m.user_id, m.tenant_id) for m in created]
        memberships_changed([], rows, "membership_created", ())
        return created


def _rows_now(
    queryset: models.QuerySet[Any], before: list[Any], fields: tuple[str, ...]
) -> list[Any]:
    pks = [row[0] for row in before]
    manager = queryset.model._base_manager.using(queryset.db)
    return list(manager.filter(pk__in=pks).order_by("pk").values_list(*fields))


class Membership(models.Model):
    """A user's belonging to one tenant; nothing carries over to another."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="hardened_memberships",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user"], name="hardened_rbac_membership_unique"
            )
        ]
        ordering = ["tenant", "user"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant}"


class RoleQuerySet(models.QuerySet["Role"]):
    def update(self, **kwargs: Any) -> int:
        """Update in bulk; each row is audited and its decisions invalidated.

        A role moved into a tenant while granted in another is refused.
        """
        from hardened_rbac.internal.bulk_changes import roles_changed

        with transaction.atomic(using=self.db):
            before = list(self.values_list(*ROLE_ROW))
            count = super().update(**kwargs)
            after = _rows_now(self, before, ROLE_ROW)
            if {"tenant", "tenant_id"} & set(kwargs) and _mismatched_grants(
                role_id__in=[row[0] for row in after]
            ):
                raise GrantTenantMismatch(
                    "A role of one tenant cannot be granted in another."
                )
        roles_changed(before, after, "role_updated", kwargs)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list["Role"]:
        from hardened_rbac.internal.bulk_changes import roles_changed

        created = super().bulk_create(objs, *args, **kwargs)
        roles_changed([], [(r.pk, r.tenant_id) for r in created], "role_created", ())
        return created


def _mismatched_grants(**lookup: Any) -> bool:
    """Whether a grant gives a tenant's role in another tenant's membership."""
    return (
        Grant.objects.filter(**lookup, role__tenant__isnull=False)
        .exclude(role__tenant=models.F("membership__tenant"))
        .exists()
    )


class Role(models.Model):
    """A named set of permissions; a site-wide role has no tenant.

    A role gives nothing by itself: only a grant on a membership does, and only
    in that membership's tenant.
    """

    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="roles",
        help_text=_("Empty for a role every tenant may grant."),
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    permissions = models.ManyToManyField(
        "auth.Permission", blank=True, related_name="hardened_roles"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="hardened_rbac_role_unique"
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(tenant__isnull=True),
                name="hardened_rbac_role_sitewide_unique",
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name if self.tenant_id is None else f"{self.name} ({self.tenant})"


class GrantQuerySet(models.QuerySet["Grant"]):
    def effective(self) -> "GrantQuerySet":
        """Grants that count now: unexpired, on active memberships and tenants."""
        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()),
            membership__is_active=True,
            membership__tenant__is_active=True,
        )

    def update(self, **kwargs: Any) -> int:
        """Update in bulk; each row is audited and its decisions invalidated.

        A grant moved onto a role of another tenant is refused, as in
        ``Grant.save``.
        """
        from hardened_rbac.internal.bulk_changes import grants_changed

        with transaction.atomic(using=self.db):
            before = list(self.values_list(*GRANT_ROW))
            count = super().update(**kwargs)
            after = _rows_now(self, before, GRANT_ROW)
            if {"role", "role_id", "membership", "membership_id"} & set(
                kwargs
            ) and _mismatched_grants(pk__in=[row[0] for row in after]):
                raise GrantTenantMismatch(
                    "A role of one tenant cannot be granted in another."
                )
        grants_changed(before, after, "grant_updated", kwargs)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list["Grant"]:
        from hardened_rbac.internal.bulk_changes import grants_changed

        objs = list(objs)
        for grant in objs:
            if not grant._role_fits_tenant():
                raise GrantTenantMismatch(
                    "A role of one tenant cannot be granted in another."
                )
        created = super().bulk_create(objs, *args, **kwargs)
        pks = [grant.pk for grant in created]
        rows = list(
            Grant.objects.using(self.db)
            .filter(pk__in=pks)
            .order_by("pk")
            .values_list(*GRANT_ROW)
        )
        grants_changed([], rows, "grant_created", ())
        return created


class Grant(models.Model):
    """One role given to one membership, and so to one user in one tenant."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Granted by an administrator")
        SSO = "sso", _("Mapped from an identity-provider group")
        SCIM = "scim", _("Provisioned over SCIM")

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="grants"
    )
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="grants")
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "role"], name="hardened_rbac_grant_unique"
            )
        ]
        ordering = ["membership", "role"]

    def __str__(self) -> str:
        return f"{self.role.name} for {self.membership}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._role_fits_tenant():
            raise GrantTenantMismatch(
                "A role of one tenant cannot be granted in another."
            )
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if not self._role_fits_tenant():
            raise ValidationError(
                {
                    "role": ValidationError(
                        _("This role belongs to another tenant."),
                        code="tenant_mismatch",
                    )
                }
            )

    def _role_fits_tenant(self) -> bool:
        if self.role_id is None or self.membership_id is None:
            return True
        role_tenant = Role.objects.values_list("tenant_id", flat=True).get(
            pk=self.role_id
        )
        if role_tenant is None:
            return True
        membership_tenant = Membership.objects.values_list("tenant_id", flat=True).get(
            pk=self.membership_id
        )
        return bool(role_tenant == membership_tenant)


class AgentToolApproval(models.Model):
    """A person's decision on one agent tool call, usable once.

    The call is pinned by tool name and the SHA-256 of its validated
    arguments, so an approval cannot be spent on other arguments, by another
    user, in another tenant, after it expires, or twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a person")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="agent_tool_approvals"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="agent_tool_approvals",
    )
    tool = models.CharField(max_length=100)
    side_effect = models.CharField(max_length=10)
    arguments = models.JSONField(default=dict)
    arguments_sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["tenant", "status"], name="hardened_rbac_approval_status"
            )
        ]
        permissions = [
            ("approve_agenttoolapproval", "Can approve or reject agent tool calls")
        ]

    def __str__(self) -> str:
        return f"{self.tool} for {self.requested_by_id} ({self.status})"


class ActionLinkUse(models.Model):
    """The nonce of an action link that was used; a second use is refused."""

    nonce = models.CharField(max_length=64, unique=True)
    action = models.CharField(max_length=100)
    user_id = models.CharField(max_length=64)
    target = models.CharField(max_length=200)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.action} on {self.target} at {self.used_at:%Y-%m-%d %H:%M}"


class SsoGroupRole(models.Model):
    """An identity-provider group whose members get a role in a tenant."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="sso_group_roles"
    )
    provider = models.CharField(
        max_length=100, help_text=_("The allauth provider id, as 'openid_connect'.")
    )
    group = models.CharField(max_length=255)
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "group", "role"],
                name="hardened_rbac_sso_group_role_unique",
            )
        ]
        ordering = ["tenant", "provider", "group"]

    def __str__(self) -> str:
        return f"{self.provider}:{self.group} -> {self.role.name} in {self.tenant}"

    def clean(self) -> None:
        if self.role_id is not None and self.role.tenant_id not in (
            None,
            self.tenant_id,
        ):
            raise ValidationError(
                {
                    "role": ValidationError(
                        _("This role belongs to another tenant."),
                        code="tenant_mismatch",
                    )
                }
            )


class ScimToken(models.Model):
    """A bearer token that lets one tenant's identity provider use SCIM.

    Only the SHA-256 of the token is stored; the token itself is shown once,
    when it is created.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="scim_tokens"
    )
    name = models.CharField(
        max_length=100, help_text=_("Which identity provider uses this token.")
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["tenant", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant})"


class ScimUser(models.Model):
    """A user provisioned over SCIM: one membership, named by the provider."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="scim_user"
    )
    user_name = models.CharField(max_length=150)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user_name"], name="hardened_rbac_scim_user_unique"
            )
        ]
        ordering = ["tenant", "user_name"]

    def __str__(self) -> str:
        return f"{self.user_name} in {self.tenant}"


class ScimGroup(models.Model):
    """A group pushed over SCIM: a role of the tenant its members are granted."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    role = models.OneToOneField(
        Role, on_delete=models.CASCADE, related_name="scim_group"
    )
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "role"]

    def __str__(self) -> str:
        return f"{self.role.name} in {self.tenant}"
