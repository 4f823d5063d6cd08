"""Tenants and the users who belong to them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from hardened_rbac.conf import app_settings


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


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> "MembershipQuerySet":
        return self.filter(is_active=True, tenant__is_active=True)


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
