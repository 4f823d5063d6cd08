from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hardened_privacy.models import AuditRecord, ErasureRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody adds, changes or deletes a record."""

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
