"""Passkey views: django-otp-webauthn's ceremonies, with the gaps closed.

- Registering a passkey on an account that already has a second factor needs
  a fresh step-up; otherwise a session that has only the password could add
  its own passkey and call itself verified.
- A passkey sign-in or verification rotates the session key, records the
  step-up time and is audited.
"""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django_otp_webauthn import exceptions as webauthn_exceptions
from django_otp_webauthn import views as webauthn_views

from hardened_auth.conf import app_settings
from hardened_auth.internal import audit
from hardened_auth.internal.second_factor import has_second_factor
from hardened_auth.stepup import (
    mark_second_factor_verified,
    step_up_response,
    verified_within,
)


class StepUpForRegistrationMixin:
    """Refuse a registration ceremony until a present factor is re-verified."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if (
            isinstance(user, AbstractBaseUser)
            and has_second_factor(user)
            and not verified_within(request, app_settings.STEP_UP_MAX_AGE)
        ):
            request.META["HTTP_ACCEPT"] = "application/json"
            return step_up_response(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]


class BeginRegistrationView(
    StepUpForRegistrationMixin,
    webauthn_views.BeginCredentialRegistrationView,  # type: ignore[misc]
):
    """Start registering a passkey."""


class CompleteRegistrationView(
    StepUpForRegistrationMixin,
    webauthn_views.CompleteCredentialRegistrationView,  # type: ignore[misc]
):
    """Finish registering a passkey and audit the new device."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().post(*args, **kwargs)
        if response.status_code == 200:
            audit.emit(
                "authn_mfa_enrolled",
                outcome="success",
                request=self.request,
                device_type="webauthn",
            )
        return response


class CompleteAuthenticationView(webauthn_views.CompleteCredentialAuthenticationView):  # type: ignore[misc]
    """Finish a passkey sign-in or verification; rotate and mark the session.

    A passkey sign-in is audited once as ``authn_login_success`` (by the
    ``user_logged_in`` receiver) and, like a verification, as
    ``authn_mfa_success`` naming the device; a refused assertion is audited
    as ``authn_mfa_fail`` with django-otp-webauthn's error code.
    """

    def complete_auth(self, device: Any) -> Any:
        signed_in = self.request.user.is_authenticated
        result = super().complete_auth(device)
        mark_second_factor_verified(self.request)
        audit.emit(
            "authn_mfa_success",
            outcome="success",
            request=self.request,
            actor=device.user_id,
            target=device.persistent_id,
            device_type="webauthn",
            ceremony="verification" if signed_in else "sign_in",
        )
        return result

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, webauthn_exceptions.OTPWebAuthnApiError):
            audit.emit(
                "authn_mfa_fail",
                outcome="failure",
                request=self.request,
                device_type="webauthn",
                ceremony=(
                    "verification" if self.request.user.is_authenticated else "sign_in"
                ),
                cause=str(exc.code)[:60],
            )
        response: HttpResponse = super().handle_exception(exc)
        return response
