"""URLs of hardened_auth; include them under a prefix such as ``auth/``."""

from django.urls import path

from hardened_auth import views

app_name = "hardened_auth"

urlpatterns = [
    path("step-up/", views.step_up, name="step_up"),
    path("devices/", views.devices, name="devices"),
    path("devices/totp/", views.totp_add, name="totp_add"),
    path("devices/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("devices/remove/", views.device_remove, name="device_remove"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/end/", views.session_end, name="session_end"),
    path("challenge/", views.challenge, name="challenge"),
    path("token/", views.token_obtain, name="token"),
    path("token/refresh/", views.token_refresh, name="token_refresh"),
    path("token/revoke/", views.token_revoke, name="token_revoke"),
]
