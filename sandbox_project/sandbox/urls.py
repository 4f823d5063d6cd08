from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("feed/summary/", views.feed_summary, name="feed_summary"),
    path("admin/", admin.site.urls),
    path("auth/", include("hardened_auth.urls")),
    path("auth/passkeys/", include("hardened_auth.webauthn_urls")),
    path("accounts/", include("allauth.urls")),
    path("payments/", include("hardened_payments.urls")),
    path("scim/v2/", include("hardened_rbac.scim")),
    path("social/", include("social.urls")),
    path("market/", include("market.urls")),
]
if getattr(settings, "SANDBOX_DEMO_IDP", False):
    urlpatterns += [path("idp/", include("enterprise.idp_urls"))]
