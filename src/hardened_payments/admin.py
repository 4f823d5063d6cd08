"""Read-only admin pages: balances, transfers, entries, keys and events."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hardened_payments.models import (
    IdempotencyKey,
    LedgerAccount,
    LedgerEntry,
    LedgerTransfer,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows rows; nobody adds, edits or deletes money records by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account", "amount", "currency")
    readonly_fields = ("account", "amount", "currency")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "tenant", "currency", "balance", "allow_negative"]
    list_filter = ["currency", "allow_negative"]
    search_fields = ["code", "name", "tenant__slug"]


@admin.register(LedgerTransfer)
class LedgerTransferAdmin(ReadOnlyAdmin):
    list_display = ["transfer_id", "tenant", "description", "created_at"]
    search_fields = ["transfer_id", "description"]
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["transfer", "account", "amount", "currency"]
    list_filter = ["currency"]
    search_fields = ["transfer__transfer_id", "account__code"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["user", "state", "response_status", "created_at", "expires_at"]
    list_filter = ["state"]
    exclude = ["response_body"]
