from collections.abc import Iterable
from typing import Any

import django.contrib.auth.admin  # noqa: F401  (registers the user admin first)
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from hardened_rbac.internal import audit
from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.policy import (
    Decision,
    Policy,
    _has_tenant,
    decide,
    filter_allowed,
    registered,
)
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
from hardened_rbac.tenancy import unscoped, use_tenant


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


def _policy_value(policy: Policy) -> str:
    action, label = policy.key
    return f"{action} {label}"


def _model_can_be_viewed(user: Any, model: type[models.Model]) -> bool:
    opts = model._meta
    return bool(user.has_perm(f"{opts.app_label}.view_{opts.model_name}"))


def _viewable_policies(user: Any) -> list[Policy]:
    """The declared policies on models ``user`` may view in the admin."""
    found = []
    for policy in registered():
        try:
            model = policy.model
        except LookupError:
            continue
        if _model_can_be_viewed(user, model):
            found.append(policy)
    return sorted(found, key=_policy_value)


def _object_in_tenant(
    model: type[models.Model], tenant: Tenant, object_id: str
) -> models.Model | None:
    """The object with ``object_id`` as seen from ``tenant``, if any."""
    try:
        pk = model._meta.pk.to_python(object_id)
    except ValidationError:
        return None
    with use_tenant(tenant):
        queryset = model._default_manager.filter(pk=pk)
        if _has_tenant(model):
            queryset = queryset.filter(tenant_id=tenant.pk)
        return queryset.first()


class AccessCheckForm(forms.Form):
    """Who, where, which policy and which object an access check asks about."""

    user = forms.CharField(
        label=_("User"), max_length=150, help_text=_("The user's username.")
    )
    tenant = forms.ModelChoiceField(label=_("Tenant"), queryset=Tenant.objects.all())
    policy = forms.ChoiceField(label=_("Policy"))
    object_id = forms.CharField(label=_("Object id"), max_length=64)

    def __init__(self, *args: Any, policies: Iterable[Policy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policies = {_policy_value(policy): policy for policy in policies}
        field = self.fields["policy"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (value, f"{policy.action} {policy.model._meta.label}")
            for value, policy in self.policies.items()
        ]

    def clean_user(self) -> Any:
        user_model = get_user_model()
        try:
            return user_model._default_manager.get_by_natural_key(
                self.cleaned_data["user"]
            )
        except user_model.DoesNotExist:
            raise ValidationError(
                _("No user has this username."), code="unknown_user"
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        tenant, value = cleaned.get("tenant"), cleaned.get("policy")
        object_id = cleaned.get("object_id")
        if tenant is None or value is None or object_id is None:
            return cleaned
        policy = self.policies[value]
        obj = _object_in_tenant(policy.model, tenant, object_id)
        if obj is None:
            self.add_error(
                "object_id",
                ValidationError(
                    _("No %(model)s has this id in tenant %(tenant)s."),
                    code="unknown_object",
                    params={
                        "model": policy.model._meta.verbose_name,
                        "tenant": tenant.slug,
                    },
                ),
            )
            return cleaned
        cleaned["policy"], cleaned["object"] = policy, obj
        return cleaned


def _audit_access_check(
    request: HttpRequest, form: AccessCheckForm, decision: Decision | None
) -> None:
    data = form.cleaned_data
    tenant, checked = data.get("tenant"), data.get("user")
    obj = data.get("object")
    fields: dict[str, Any] = {
        "action": "access_check",
        "checked_user": None if checked is None else str(checked.pk),
    }
    if decision is None:
        fields["errors"] = sorted(form.errors)
    else:
        fields |= {
            "policy": decision.action,
            "allowed": decision.allowed,
            "rule": decision.rule,
        }
    audit.emit(
        "authz_admin",
        outcome="success" if decision is not None else "failure",
        actor=getattr(request.user, "pk", None),
        tenant=None if tenant is None else tenant.pk,
        target=None if obj is None else f"{obj._meta.label}:{obj.pk}",
        **fields,
    )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships, and a "Check access" page that explains one decision.

    The page evaluates one declared policy for one user on one object, in the
    chosen tenant, and shows which rule allowed or why each rule denied. Only
    staff who may view memberships open it, only policies on models they may
    view are offered, and an object of another tenant is reported exactly as
    a missing one. Every check is audited as ``authz_admin``
    (``action: access_check``).
    """

    list_display = ["user", "tenant", "is_active", "created_at"]
    list_filter = ["is_active", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        check = path(
            "check-access/",
            self.admin_site.admin_view(self.check_access_view),
            name=f"{opts.app_label}_{opts.model_name}_check_access",
        )
        return [check, *super().get_urls()]

    def check_access_view(self, request: HttpRequest) -> HttpResponse:
        """GET shows the form; POST evaluates the policy and explains it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        policies = _viewable_policies(request.user)
        data = request.POST if request.method == "POST" else None
        form = AccessCheckForm(data, policies=policies)
        decision: Decision | None = None
        in_filter: bool | None = None
        if form.is_bound:
            if form.is_valid():
                decision, in_filter = self._evaluate(form.cleaned_data)
            _audit_access_check(request, form, decision)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Check access"),
            "form": form,
            "decision": decision,
            "in_filter": in_filter,
            "has_policies": bool(policies),
        }
        return TemplateResponse(
            request, "admin/hardened_rbac/membership/check_access.html", context
        )

    def _evaluate(self, data: dict[str, Any]) -> tuple[Decision, bool]:
        """The decision and whether the policy's queryset filter agrees."""
        policy, obj, user = data["policy"], data["object"], data["user"]
        with use_tenant(data["tenant"]):
            decision = decide(user, policy.action, obj)
            listed = filter_allowed(
                user, policy.action, type(obj)._default_manager.filter(pk=obj.pk)
            )
            return decision, listed.exists()


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
