"""Pages of hardened_auth: step-up verification."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from hardened_auth.forms import SecondFactorForm
from hardened_auth.internal.responses import safe_next
from hardened_auth.internal.second_factor import verify_code


@never_cache
@login_required
@sensitive_post_parameters("code")
def step_up(request: HttpRequest) -> HttpResponse:
    """Ask for a second factor, then return to the page that asked for it."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = SecondFactorForm(request.POST or None)
    status = 200
    user = request.user
    if request.method == "POST" and isinstance(user, AbstractBaseUser):
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
