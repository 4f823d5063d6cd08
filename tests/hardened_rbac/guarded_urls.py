"""A URL configuration whose every route is guarded or really public.

``test_routes.py`` runs the route inventory over it and expects no problem.
"""

from django.contrib import admin
from django.urls import include, path

from hardened_rbac.decorators import policy_exempt
from tests.hardened_rbac.test_routes import (
    Dashboard,
    guarded,
    hook,
    landing,
    search,
)

nested = ([path("status|ok/", search, name="status")], "ops")

urlpatterns = [
    path("guarded/", guarded, name="guarded"),
    path("", landing, name="landing"),
    path("hook/", hook, name="hook"),
    path("search/", search, name="search"),
    path("dashboard/", policy_exempt("Own data.")(Dashboard.as_view()), name="dash"),
    path("ops/", include(nested)),
    path("admin/", admin.site.urls),
]
