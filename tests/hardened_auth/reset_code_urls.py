"""The sandbox's URLs with allauth's pages of a password reset by code.

allauth adds these pages only when reset by code is on as its URLs are
first imported, which the sandbox's settings leave off.
"""

from allauth.account import views
from django.urls import path

from sandbox.urls import urlpatterns as sandbox_urlpatterns

urlpatterns = [
    path(
        "accounts/password/reset/confirm/",
        views.confirm_password_reset_code,
        name="account_confirm_password_reset_code",
    ),
    path(
        "accounts/password/reset/complete/",
        views.complete_password_reset,
        name="account_complete_password_reset",
    ),
    *sandbox_urlpatterns,
]
