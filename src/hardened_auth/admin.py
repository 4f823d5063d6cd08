"""Admin pages where operators see and revoke users' second-factor devices."""

from django.apps import apps
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.models import Device

from hardened_auth.internal import audit
from hardened_auth.internal.devices import remove_device
from hardened_auth.models import RecoveryCodeDevice, TOTPDevice, UserSession


class DeviceAdmin(admin.ModelAdmin):
    """Devices are enrolled by their users; operators view and revoke them."""

    list_filter = ("confirmed",)
    search_fields = ("user__username", "user__email", "name")
    raw_id_fields = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: object | None = None
    ) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Device) -> None:
        remove_device(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for device in queryset:
            remove_device(request, device)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(DeviceAdmin):
    list_display = ("name", "user", "confirmed", "created_at", "last_used_at")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields


@admin.register(RecoveryCodeDevice)
class RecoveryCodeDeviceAdmin(DeviceAdmin):
    list_display = ("name", "user", "remaining_codes", "created_at", "last_used_at")
    fields = ("user", "name", "remaining_codes", "created_at", "last_used_at")
    readonly_fields = fields

    @admin.display(description="unused codes")
    def remaining_codes(self, obj: RecoveryCodeDevice) -> int:
        return obj.remaining()


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Signed-in sessions; deleting one signs it out on its next request."""

    list_display = ("user", "device_label", "ip", "created_at", "last_seen_at")
    fields = list_display
    readonly_fields = list_display
    search_fields = ("user__username", "user__email", "ip")
    raw_id_fields = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: object | None = None
    ) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: UserSession) -> None:
        target, owner = str(obj.pk), str(obj.user_id)
        obj.delete()
        audit.emit(
            "session_expired",
            outcome="success",
            request=request,
            target=target,
            owner=owner,
            cause="ended_by_operator",
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for row in queryset:
            self.delete_model(request, row)


if apps.is_installed("django_otp_webauthn"):
    from django_otp_webauthn.utils import get_credential_model

    _passkey_model = get_credential_model()

    if not admin.site.is_registered(_passkey_model):

        @admin.register(_passkey_model)
        class PasskeyAdmin(DeviceAdmin):
            """Passkeys, read only; deleting one is audited like any device."""

            list_display = ("name", "user", "confirmed", "created_at", "last_used_at")
            fields = (
                "user",
                "name",
                "confirmed",
                "discoverable",
                "backup_state",
                "sign_count",
                "created_at",
                "last_used_at",
            )
            readonly_fields = fields
