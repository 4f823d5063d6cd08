"""Data the sandbox seeds so each tenant has something to show."""

from django.conf import settings
from django.db import models

from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import TenantScopedModel


class Post(TenantScopedModel):
    """A short message a member writes in their tenant's feed.

    ``Post.objects`` sees the current tenant's posts only.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, editable=False, related_name="posts"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.author} in {self.tenant}: {self.body[:40]}"
