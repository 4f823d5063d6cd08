"""Pages of hardened_auth: step-up, devices, sessions and API tokens."""

import contextlib

from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import devices_for_user
from django_otp.models import Device

from hardened_auth.conf import app_settings
from hardened_auth.exceptions import TokenRefused
from hardened_auth.forms import MAX_PASSWORD_LENGTH, SecondFactorForm
from hardened_auth.internal import audit
from hardened_auth.internal import devices as device_actions
from hardened_auth.internal import sessions as session_binding
from hardened_auth.internal import tokens as token_actions
from hardened_auth.internal import velocity as velocity_actions
from hardened_auth.internal.identifiers import MAX_IDENTIFIER_LENGTH, fold_email
from hardened_auth.internal.responses import safe_next
from hardened_auth.internal.second_factor import (
    has_second_factor,
    match_code,
    verify_code,
)
from hardened_auth.models import (
    MAX_SUBMITTED_CODE_LENGTH,
    RecoveryCodeDevice,
    TOTPDevice,
    UserSession,
)
from hardened_auth.stepup import step_up_response, verified_within


def _user(request: HttpRequest) -> AbstractBaseUser:
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise Http404
    return user


def _needs_step_up(request: HttpRequest, user: AbstractBaseUser) -> bool:
    return has_second_factor(user) and not verified_within(
        request, app_settings.STEP_UP_MAX_AGE
    )


@never_cache
@login_required
@sensitive_post_parameters("code")
def step_up(request: HttpRequest) -> HttpResponse:
    """Ask for a second factor, then return to the page that asked for it."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    status = 200
    user = _user(request)
    if request.method == "POST":
        if form.is_valid() and verify_code(request, user, form.cleaned_data["code"]):
            return HttpResponseRedirect(next_url or resolve_url("/"))
        form.add_error(None, "That code is not valid.")
        status = 400
    return render(
        request,
        "hardened_auth/step_up.html",
        {"form": form, "next": next_url or ""},
        status=status,
    )


@never_cache
@login_required
def devices(request: HttpRequest) -> HttpResponse:
    """List the user's second-factor devices."""
    user = _user(request)
    listed = list(devices_for_user(user, confirmed=True))
    recovery = next((d for d in listed if isinstance(d, RecoveryCodeDevice)), None)
    return render(
        request,
        "hardened_auth/devices.html",
        {
            "devices": listed,
            "recovery_remaining": recovery.remaining() if recovery else None,
        },
    )


@never_cache
@login_required
@sensitive_post_parameters("code")
def totp_add(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app; a user with a device must step up first."""
    user = _user(request)
    if _needs_step_up(request, user):
        return step_up_response(request)

    status = 200
    error = ""
    if request.method == "POST":
        device_id = str(request.POST.get("device", ""))[:20]
        pending = None
        if device_id.isascii() and device_id.isdigit():
            pending = TOTPDevice.objects.filter(
                user=user, confirmed=False, pk=device_id
            ).first()
        if pending is None:
            raise Http404
        form = SecondFactorForm(request.POST)
        if form.is_valid() and device_actions.confirm_totp(
            request, pending, form.cleaned_data["code"]
        ):
            return HttpResponseRedirect(resolve_url("hardened_auth:devices"))
        device, status, error = pending, 400, "That code is not valid."
    else:
        device = device_actions.start_totp(user)

    url = device.config_url(app_settings.TOTP_ISSUER)
    return render(
        request,
        "hardened_auth/totp_add.html",
        {
            "device": device,
            "qr": device_actions.qr_data_uri(url),
            "secret": device.base32_secret,
            "error": error,
            "form": SecondFactorForm(),
        },
        status=status,
    )


@never_cache
@login_required
@require_POST
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Issue a new set of recovery codes and show them this one time."""
    user = _user(request)
    if _needs_step_up(request, user):
        return step_up_response(request)
    codes = device_actions.new_recovery_codes(request, user)
    return render(request, "hardened_auth/recovery_codes.html", {"codes": codes})


@never_cache
@login_required
@require_POST
def device_remove(request: HttpRequest) -> HttpResponse:
    """Remove one of the user's devices after a fresh second factor."""
    user = _user(request)
    if not verified_within(request, app_settings.STEP_UP_MAX_AGE):
        return step_up_response(request)
    device = Device.from_persistent_id(str(request.POST.get("device", ""))[:200])
    if device is None or device.user_id != user.pk:
        raise Http404
    device_actions.remove_device(request, device)
    return HttpResponseRedirect(resolve_url("hardened_auth:devices"))


@never_cache
@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    """List the user's signed-in sessions, the current one marked."""
    user = _user(request)
    current = request.session.get(session_binding.SID_KEY)
    current_hash = session_binding.sid_hash(current) if isinstance(current, str) else ""
    rows = UserSession.objects.filter(user_id=user.pk).order_by("-last_seen_at")
    return render(
        request,
        "hardened_auth/sessions.html",
        {"sessions": rows, "current_hash": current_hash},
    )


@never_cache
@login_required
@require_POST
def session_end(request: HttpRequest) -> HttpResponse:
    """End one of the user's sessions, or all but this one."""
    user = _user(request)
    if request.POST.get("others"):
        session_binding.end_other_sessions(request, user)
        return HttpResponseRedirect(resolve_url("hardened_auth:sessions"))

    raw = str(request.POST.get("session", ""))
    row = (
        UserSession.objects.filter(user_id=user.pk, pk=int(raw)).first()
        if raw.isdigit() and len(raw) < 20
        else None
    )
    if row is None:
        raise Http404
    current = request.session.get(session_binding.SID_KEY)
    if isinstance(current, str) and row.sid_hash == session_binding.sid_hash(current):
        session_binding.end(request, "ended_by_user")
        return HttpResponseRedirect(resolve_url("/"))
    row.delete()
    audit.emit(
        "session_expired",
        outcome="success",
        request=request,
        target=str(row.pk),
        cause="ended_by_user",
    )
    return HttpResponseRedirect(resolve_url("hardened_auth:sessions"))


def _token_response(pair: token_actions.TokenPair) -> JsonResponse:
    response = JsonResponse(
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _token_error(error: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
@sensitive_post_parameters("password", "code")
def token_obtain(request: HttpRequest) -> HttpResponse:
    """Sign an API client in with email, password and, if set up, a code."""
    login = str(request.POST.get("login", ""))[:MAX_IDENTIFIER_LENGTH]
    password = str(request.POST.get("password", ""))[:MAX_PASSWORD_LENGTH]
    if not login or not password:
        return _token_error("invalid_request")
    user = authenticate(request, email=fold_email(login), password=password)
    if not isinstance(user, AbstractBaseUser):
        audit.emit("authn_login_fail", outcome="failure", request=request, api=True)
        return _token_error("invalid_grant", 401)
    if has_second_factor(user):
        code = str(request.POST.get("code", ""))[:MAX_SUBMITTED_CODE_LENGTH]
        if not code or match_code(user, code) is None:
            audit.emit(
                "authn_mfa_fail", outcome="failure", request=request, actor=user.pk
            )
            return _token_error("second_factor_required", 401)
    audit.emit("authn_login_success", outcome="success", request=request, actor=user.pk)
    return _token_response(token_actions.issue(request, user))


@csrf_exempt
@require_POST
@sensitive_post_parameters("refresh_token")
def token_refresh(request: HttpRequest) -> HttpResponse:
    """Exchange a refresh token for a new pair."""
    presented = str(request.POST.get("refresh_token", ""))
    try:
        return _token_response(token_actions.rotate(request, presented))
    except TokenRefused as refused:
        if refused.reason != "reused":
            audit.emit(
                "authn_token_invalid",
                outcome="denied",
                request=request,
                cause=refused.reason,
            )
        return _token_error("invalid_grant", 401)


@csrf_exempt
@require_POST
@sensitive_post_parameters("refresh_token")
def token_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke every token of a refresh token's family."""
    with contextlib.suppress(TokenRefused):
        token_actions.revoke(request, str(request.POST.get("refresh_token", "")))
    return HttpResponse(status=204)


@never_cache
def challenge(request: HttpRequest) -> JsonResponse:
    """A fresh ALTCHA challenge for the widget on the sign-in page."""
    response = JsonResponse(velocity_actions.new_challenge())
    response["Cache-Control"] = "no-store"
    return response
