from typing import Any

import django.contrib.auth.admin  # noqa: F401  (registers the user admin first)
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from hardened_rbac.internal.context import current_tenant
from hardened_rbac.models import (
    ActionLinkUse,
    AgentToolApproval,
    Grant,
    Membership,
    Role,
    ScimGroup,
    ScimToken,
    ScimUser,
    SsoGroupRole,
    Tenant,
)
from hardened_rbac.tenancy import unscoped


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class UnscopedDeletionAdmin(admin.ModelAdmin):
    """An admin whose deletions reach every tenant's rows, audited.

    Deleting a tenant or a user cascades into tenant-scoped rows of every
    tenant. Row-level security shows the cascade those rows only inside
    ``unscoped()``, so the confirmation page and the deletion run in it, and
    each opening is logged as ``authz_admin`` with the reason.
    """

    def _unscoped(self, step: str) -> Any:
        return unscoped(reason=f"admin {step} of {self.opts.label}")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        with self._unscoped("deletion preview"):
            return super().get_deleted_objects(objs, request)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with self._unscoped("deletion"):
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with self._unscoped("deletion"):
            super().delete_queryset(request, queryset)


def delete_users_unscoped(site: admin.AdminSite) -> None:
    """Make the user model's registered admin an ``UnscopedDeletionAdmin``."""
    user_model = get_user_model()
    registered = site._registry.get(user_model)
    if registered is None or isinstance(registered, UnscopedDeletionAdmin):
        return
    base = type(registered)
    site.unregister(user_model)
    site.register(user_model, type(base.__name__, (UnscopedDeletionAdmin, base), {}))


@admin.register(Tenant)
class TenantAdmin(UnscopedDeletionAdmin):
    list_display = ["slug", "name", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "is_active", "created_at"]
    list_filter = ["is_active", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 0
    autocomplete_fields = ["role"]


MembershipAdmin.inlines = [GrantInline]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    filter_horizontal = ["permissions"]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["role", "membership", "source", "expires_at", "created_at"]
    list_filter = ["source", "membership__tenant"]
    search_fields = ["role__name", "membership__user__username"]
    autocomplete_fields = ["membership", "role"]


class TenantScopedModelAdmin(admin.ModelAdmin):
    """Admin for a ``TenantScopedModel``: the current tenant's rows only.

    Without a current tenant the list is empty and nothing can be added, so an
    operator must reach the admin through a tenant (``/t/<slug>/admin/``).
    """

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset if current_tenant() is not None else queryset.none()

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if current_tenant() is None:
            return False
        return super().has_add_permission(request, *args)


def _decide_approvals(
    request: HttpRequest, queryset: QuerySet[Any], approve: bool
) -> None:
    from django.contrib import messages

    from hardened_rbac.exceptions import AgentToolApprovalInvalid
    from hardened_rbac.internal.agent_gateway import decide_approval
    from hardened_rbac.internal.context import tenant_context

    decided = refused = 0
    for approval in queryset.select_related("tenant"):
        with tenant_context(approval.tenant):
            try:
                decide_approval(approval.pk, request.user, approve=approve)
                decided += 1
            except AgentToolApprovalInvalid:
                refused += 1
    messages.info(request, f"{decided} decided, {refused} refused.")


@admin.register(AgentToolApproval)
class AgentToolApprovalAdmin(admin.ModelAdmin):
    """Pending agent tool calls; only a member of the tenant may decide one."""

    list_display = ["tool", "side_effect", "tenant", "requested_by", "status"]
    list_filter = ["status", "side_effect", "tenant"]
    search_fields = ["tool", "requested_by__username", "tenant__slug"]
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = [f.name for f in AgentToolApproval._meta.fields if f.name != "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AgentToolApproval | None = None
    ) -> bool:
        return False

    @admin.action(description="Approve the selected calls")
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[AgentToolApproval]
    ) -> None:
        _decide_approvals(request, queryset, approve=True)

    @admin.action(description="Reject the selected calls")
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[AgentToolApproval]
    ) -> None:
        _decide_approvals(request, queryset, approve=False)


@admin.register(ActionLinkUse)
class ActionLinkUseAdmin(admin.ModelAdmin):
    list_display = ["action", "target", "user_id", "used_at"]
    list_filter = ["action"]
    search_fields = ["target", "user_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SsoGroupRole)
class SsoGroupRoleAdmin(admin.ModelAdmin):
    list_display = ["provider", "group", "role", "tenant"]
    list_filter = ["provider", "tenant"]
    search_fields = ["group", "role__name", "tenant__slug"]
    autocomplete_fields = ["tenant", "role"]


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    """SCIM tokens: the token is shown once, when it is made; only its hash stays."""

    list_display = ["name", "tenant", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["created_at", "last_used_at", "revoked_at"]
        return ["tenant", "name", "created_at", "last_used_at", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: ScimToken, form: Any, change: bool
    ) -> None:
        from django.contrib import messages

        from hardened_rbac.internal import audit
        from hardened_rbac.internal.scim_tokens import new_token_value

        if change:
            super().save_model(request, obj, form, change)
            return
        token, obj.token_hash = new_token_value()
        super().save_model(request, obj, form, change)
        audit.emit(
            "scim_token_created",
            outcome="success",
            tenant=obj.tenant_id,
            target=f"scim_token:{obj.pk}",
        )
        messages.warning(
            request,
            f"Copy this SCIM token now; it will not be shown again: {token}",
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[ScimToken]
    ) -> None:
        from django.contrib import messages

        from hardened_rbac.internal.scim_tokens import revoke_token

        revoked = sum(revoke_token(row) for row in queryset)
        messages.info(request, f"{revoked} token(s) revoked.")


@admin.register(ScimUser)
class ScimUserAdmin(admin.ModelAdmin):
    """Users provisioned over SCIM; the identity provider changes them."""

    list_display = ["user_name", "tenant", "membership", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["user_name", "external_id", "tenant__slug"]
    readonly_fields = ["tenant", "membership", "user_name", "external_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ScimGroup)
class ScimGroupAdmin(admin.ModelAdmin):
    """Groups provisioned over SCIM; give their roles permissions on the role."""

    list_display = ["role", "tenant", "external_id", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["role__name", "external_id", "tenant__slug"]
    readonly_fields = ["tenant", "role", "external_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


delete_users_unscoped(admin.site)
