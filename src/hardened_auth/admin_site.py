"""An admin site that opens only to sessions with a verified second factor."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_otp.admin import OTPAdminSite

from hardened_auth.internal.second_factor import has_second_factor
from hardened_auth.stepup import second_factor_required_response

NO_DEVICE_MESSAGE = (
    "The admin opens only after a second factor. Add a passkey or an "
    "authenticator app, then open the admin again."
)


class SecondFactorAdminSite(OTPAdminSite):  # type: ignore[misc]
    """django-otp's admin site: staff sign in with a password and a code.

    Install it as the default site with ``default_site`` on a custom
    ``AdminConfig``, or assign it to ``admin.site.__class__`` in the URLconf.
    Staff who are signed in but have not verified a second factor in this
    session are sent to the verification page, or, without any device, to
    the page where they add one, instead of the admin's own sign-in form.
    """

    site_header = "Administration (second factor required)"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    @method_decorator(never_cache)
    @login_not_required
    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        user = request.user
        if (
            isinstance(user, AbstractBaseUser)
            and user.is_active
            and getattr(user, "is_staff", False)
            and not user.is_verified()  # type: ignore[attr-defined]
        ):
            if has_second_factor(user):
                return second_factor_required_response(request)
            try:
                devices_url = resolve_url("hardened_auth:devices")
            except NoReverseMatch:
                devices_url = ""
            if devices_url:
                messages.info(request, NO_DEVICE_MESSAGE, fail_silently=True)
                return HttpResponseRedirect(devices_url)
        response: HttpResponse = super().login(request, extra_context)
        return response
