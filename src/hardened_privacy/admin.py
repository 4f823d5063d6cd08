from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import router
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.internal.audit import ChainReport, emit, verify_chains
from hardened_privacy.models import AuditRecord, ErasureRecord

REPORTED_BREAKS = 20


def _client_ip(request: HttpRequest) -> str:
    if apps.is_installed("hardened_auth"):
        from hardened_auth.client_ip import get_client_ip

        return get_client_ip(request)
    return str(request.META.get("REMOTE_ADDR", ""))


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody adds, changes or deletes a record.

    Its "Verify chains" page checks every chain's HMAC links, as
    ``hardened_privacy_verify_audit`` does, and records that it did.
    """

    list_display = [
        "created_at",
        "chain",
        "sequence",
        "event",
        "outcome",
        "actor",
        "target",
        "ip",
    ]
    list_filter = ["outcome", "chain", "logger"]
    search_fields = ["event", "actor", "target", "ip"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in AuditRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        verify = path(
            "verify/",
            self.admin_site.admin_view(self.verify_chains_view),
            name=f"{opts.app_label}_{opts.model_name}_verify",
        )
        return [verify, *super().get_urls()]

    def verify_chains_view(self, request: HttpRequest) -> HttpResponse:
        """GET explains and offers the button; POST verifies every chain."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        reports: list[ChainReport] | None = None
        error: HardenedPrivacyConfigurationError | None = None
        if request.method == "POST":
            try:
                reports = verify_chains(using=router.db_for_read(AuditRecord))
            except HardenedPrivacyConfigurationError as exc:
                error = exc
            self._record_verification(request, reports, error)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Verify audit chains",
            "reports": reports,
            "broken": sum(1 for r in reports or [] if r.problem is not None),
            "error": "" if error is None else str(error),
        }
        return TemplateResponse(
            request, "admin/hardened_privacy/auditrecord/verify_chains.html", context
        )

    def _record_verification(
        self,
        request: HttpRequest,
        reports: list[ChainReport] | None,
        error: Exception | None,
    ) -> None:
        breaks = [r.problem for r in reports or [] if r.problem is not None]
        emit(
            "privacy_audit_verified",
            outcome="failure" if error is not None or breaks else "success",
            actor=getattr(request.user, "pk", None),
            ip=_client_ip(request),
            target="audit:all",
            chains=len(reports or []),
            broken=len(breaks),
            first_breaks=[
                {"chain": b.chain, "record": b.record_id, "sequence": b.sequence}
                for b in breaks[:REPORTED_BREAKS]
            ],
            error=None if error is None else type(error).__name__,
        )


@admin.register(ErasureRecord)
class ErasureRecordAdmin(admin.ModelAdmin):
    """Erasures carried out, read-only: the record must outlive the data."""

    list_display = ["subject", "completed_at", "requested_by", "fields_erased"]
    search_fields = ["subject"]
    ordering = ["-completed_at"]
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in ErasureRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
