"""Models that exercise the tenant scope and the policies in tests only."""

from django.conf import settings
from django.db import models

from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import TenantScopedModel


class Label(TenantScopedModel):
    name = models.CharField(max_length=50)


class Project(TenantScopedModel):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        related_name="rbac_projects",
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="projects")

    def __str__(self) -> str:
        return self.name


class Task(TenantScopedModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=100)


class LooseNote(models.Model):
    """Holds a tenant key without the scope, so the check must list it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()

    def __str__(self) -> str:
        return self.body[:20]
