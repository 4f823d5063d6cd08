"""A URLconf with views guarded by step-up, next to the app's own URLs."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import View

from hardened_auth.stepup import StepUpRequiredMixin, step_up_required


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


urlpatterns = [
    path("guarded/default/", default_age, name="guarded_default"),
    path("guarded/short/", short_age, name="guarded_short"),
    path("guarded/class/", GuardedView.as_view(), name="guarded_class"),
    path("auth/", include("hardened_auth.urls")),
    path("admin/", admin.site.urls),
]
