"""A URLconf with views guarded by step-up, next to the app's own URLs."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import View

from hardened_auth.admin_site import SecondFactorAdminSite
from hardened_auth.stepup import StepUpRequiredMixin, step_up_required
from hardened_auth.tokens import bearer_token_required


@step_up_required()
def default_age(request: HttpRequest) -> HttpResponse:
    return HttpResponse("money moved")


@step_up_required(max_age=60)
def short_age(request: HttpRequest) -> HttpResponse:
    return HttpResponse("role granted")


class GuardedView(StepUpRequiredMixin, View):
    step_up_max_age = 120

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("class view ran")

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("class view posted")


second_factor_admin = SecondFactorAdminSite(name="secure_admin")

urlpatterns = [
    path("", default_age, name="home"),
    path("guarded/default/", default_age, name="guarded_default"),
    path("guarded/short/", short_age, name="guarded_short"),
    path("guarded/class/", GuardedView.as_view(), name="guarded_class"),
    path("auth/", include("hardened_auth.urls")),
    path("admin/", admin.site.urls),
    path("secure-admin/", second_factor_admin.urls),
    path("auth/passkeys/", include("hardened_auth.webauthn_urls")),
    path("accounts/", include("allauth.urls")),
]


@bearer_token_required
def api_me(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"user {request.user.pk}")


urlpatterns.append(path("api/me/", api_me, name="api_me"))
