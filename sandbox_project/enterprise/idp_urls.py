"""URLs of the demo identity provider, mounted at ``/idp/``.

The namespace is django-oauth-toolkit's own, whose discovery document
reverses these names.
"""

from django.urls import path, re_path
from oauth2_provider import views

from enterprise.idp import IdpAuthorizationView, IdpLoginView

app_name = "oauth2_provider"

urlpatterns = [
    path("login/", IdpLoginView.as_view(), name="login"),
    path("authorize/", IdpAuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", views.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo/", views.UserInfoView.as_view(), name="user-info"),
]
