"""Read-only admin pages: balances, transfers, entries, keys and events."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hardened_payments.models import (
    CheckoutSession,
    IdempotencyKey,
    LedgerAccount,
    LedgerEntry,
    LedgerTransfer,
    Payment,
    Payout,
    PayoutDestination,
    Refund,
    WebhookEvent,
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


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["provider_id", "tenant", "amount", "currency", "status"]
    list_filter = ["status", "currency"]
    search_fields = ["provider_id"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["provider_id", "payment", "amount", "status", "created_at"]
    search_fields = ["provider_id", "payment__provider_id"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "status", "attempts", "received_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id"]
    exclude = ["signature_digest"]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["provider_id", "tenant", "seller", "amount", "currency", "status"]
    list_filter = ["status", "currency"]
    search_fields = ["provider_id"]


@admin.register(PayoutDestination)
class PayoutDestinationAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "user", "account", "updated_at"]


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(ReadOnlyAdmin):
    list_display = ["provider_id", "tenant", "amount", "fee", "currency", "status"]
    list_filter = ["status", "currency"]
    search_fields = ["provider_id", "reference"]
