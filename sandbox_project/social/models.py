"""A community's social data: posts, follows, groups, messages, friendships.

Every model is tenant-scoped: ``objects`` sees the current tenant's rows
only, and which of those a member may see is decided by ``social.policies``.
"""

from django.conf import settings
from django.db import models

from hardened_rbac.tenancy import TenantScopedModel


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    TENANT = "tenant", "Community members"
    FOLLOWERS = "followers", "Followers"
    PRIVATE = "private", "Only me"


class Follow(TenantScopedModel):
    """``follower`` reads ``followee``'s followers-only posts."""

    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "follower", "followee"], name="social_follow_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class Post(TenantScopedModel):
    """A message in the community's feed, seen as its visibility allows."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(max_length=2000)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.TENANT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.visibility} post by {self.author_id}: {self.body[:40]}"


class Group(TenantScopedModel):
    """A circle inside the community; ``private`` ones are seen by members only."""

    VISIBILITIES = [
        (Visibility.TENANT.value, "Open to the community"),
        (Visibility.PRIVATE.value, "Members only"),
    ]

    name = models.CharField(max_length=80)
    description = models.TextField(max_length=500, blank=True)
    visibility = models.CharField(
        max_length=10, choices=VISIBILITIES, default=Visibility.TENANT.value
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="social_group_name")
        ]

    def __str__(self) -> str:
        return self.name


class GroupMembership(TenantScopedModel):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        OWNER = "owner", "Owner"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "group", "user"], name="social_group_member_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id} as {self.role}"


class GroupPost(TenantScopedModel):
    """A message only the group's members read."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.author_id} in {self.group_id}: {self.body[:40]}"


class Conversation(TenantScopedModel):
    """Direct messages between members; only participants read them."""

    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="social_conversations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class Message(TenantScopedModel):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.sender_id} in {self.conversation_id}: {self.body[:40]}"


class FriendRequest(TenantScopedModel):
    """One member asks another to be friends; the recipient accepts by link."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "sender", "recipient"],
                name="social_friend_request_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} to {self.recipient_id} ({self.status})"
