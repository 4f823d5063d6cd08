"""Pages of hardened_auth: step-up verification and the user's devices."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import devices_for_user
from django_otp.models import Device

from hardened_auth.conf import app_settings
from hardened_auth.forms import SecondFactorForm
from hardened_auth.internal import audit
from hardened_auth.internal import devices as device_actions
from hardened_auth.internal import sessions as session_binding
from hardened_auth.internal.responses import safe_next
from hardened_auth.internal.second_factor import has_second_factor, verify_code
from hardened_auth.models import RecoveryCodeDevice, TOTPDevice, UserSession
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
    form = SecondFactorForm(request.POST or None)
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
        pending = TOTPDevice.objects.filter(
            user=user, confirmed=False, pk=str(request.POST.get("device", ""))[:20]
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
        reason="ended_by_user",
    )
    return HttpResponseRedirect(resolve_url("hardened_auth:sessions"))
