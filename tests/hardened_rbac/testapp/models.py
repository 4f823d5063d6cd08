"""Models that exercise the tenant scope and the policies in tests only."""

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

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


class Follow(TenantScopedModel):
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )


class FeedPost(TenantScopedModel):
    VISIBILITIES = ["public", "tenant", "followers", "private"]

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    visibility = models.CharField(max_length=10, choices=[(v, v) for v in VISIBILITIES])
    body = models.CharField(max_length=100, blank=True)


class SocialGroup(TenantScopedModel):
    name = models.CharField(max_length=50)


class GroupMembership(TenantScopedModel):
    ROLES = ["member", "moderator", "owner"]

    group = models.ForeignKey(SocialGroup, on_delete=models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=10, choices=[(r, r) for r in ROLES])


class GroupPost(TenantScopedModel):
    group = models.ForeignKey(SocialGroup, on_delete=models.CASCADE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )


class Conversation(TenantScopedModel):
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")


class DirectMessage(TenantScopedModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )


class Document(TenantScopedModel):
    """Shared by object permissions, with direct foreign-key permission tables."""

    title = models.CharField(max_length=100)


class DocumentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Document, on_delete=models.CASCADE)


class DocumentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Document, on_delete=models.CASCADE)


class Sheet(TenantScopedModel):
    """Shared by object permissions through guardian's generic tables."""

    title = models.CharField(max_length=100)


class FriendRequest(TenantScopedModel):
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    accepted = models.BooleanField(default=False)


class Charter(TenantScopedModel):
    """One per project, to follow a reverse one-to-one into the scope."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="charter"
    )
    goal = models.CharField(max_length=100)
