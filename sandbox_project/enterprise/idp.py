"""Initech's demo identity provider: django-oauth-toolkit at ``/idp/``.

Mounted by the sandbox's URLconf only while ``SANDBOX_DEMO_IDP`` is on (see
:mod:`enterprise.idp_settings`). The provider and the site that trusts it
share one process and one user table, so the provider keeps its own
session cookie: :class:`IdpSessionMiddleware` gives requests under ``/idp/``
a session of their own, and signing in at the provider never signs anyone
in to the sandbox. Only accounts with an :class:`~enterprise.models.IdpPerson`
may sign in at the provider; their claims come from that row.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import AuthorizationView

from enterprise.idp_settings import SESSION_COOKIE_NAME, USERNAME_PREFIX
from enterprise.models import IdpPerson

PREFIX = "/idp/"


def _is_idp(request: HttpRequest) -> bool:
    return request.path_info.startswith(PREFIX)


class IdpSessionMiddleware(SessionMiddleware):
    """Django's session middleware, with a separate cookie under ``/idp/``.

    For provider requests the site's session cookie is set aside and the
    provider's cookie stands in for it; the cookie the response sets is
    renamed back to the provider's, scoped to ``/idp/``.
    """

    def process_request(self, request: HttpRequest) -> None:
        if _is_idp(request):
            cookies = dict(request.COOKIES)
            cookies.pop(settings.SESSION_COOKIE_NAME, None)
            provider_key = cookies.get(SESSION_COOKIE_NAME)
            if provider_key:
                cookies[settings.SESSION_COOKIE_NAME] = provider_key
            request.COOKIES = cookies
        super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        response = super().process_response(request, response)
        if not _is_idp(request):
            return response

        morsel = response.cookies.pop(settings.SESSION_COOKIE_NAME, None)
        if morsel is not None:
            response.cookies[SESSION_COOKIE_NAME] = morsel.value
            renamed = response.cookies[SESSION_COOKIE_NAME]
            for attribute, value in morsel.items():
                renamed[attribute] = value
            renamed["path"] = PREFIX
        return response


class DirectoryValidator(OAuth2Validator):  # type: ignore[misc]
    """Claims from the person's row; ``groups`` needs the ``groups`` scope."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        person = IdpPerson.objects.filter(user=request.user).first()
        if person is None:
            return {}
        return {
            "email": person.email,
            "email_verified": True,
            "name": person.name,
            "groups": [str(group) for group in person.groups],
        }


class IdpAuthenticationForm(AuthenticationForm):
    """The provider's sign-in: only its own people, with the usual answer.

    People type their email; their provider account's username is that email
    behind :data:`USERNAME_PREFIX`, which no sandbox account has.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"

    def clean_username(self) -> str:
        return USERNAME_PREFIX + str(self.cleaned_data["username"])

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not IdpPerson.objects.filter(user=user).exists():
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class IdpLoginView(LoginView):
    """Sign in at the provider, then return to its authorization page."""

    template_name = "enterprise/idp_login.html"
    authentication_form = IdpAuthenticationForm

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str:
        url = str(super().get_redirect_url(*args, **kwargs))
        return url if url.startswith(PREFIX) else ""

    def get_default_redirect_url(self) -> str:
        return str(reverse_lazy("oauth2_provider:login"))


class IdpAuthorizationView(AuthorizationView):  # type: ignore[misc]
    """django-oauth-toolkit's authorization endpoint, signing in at /idp/."""

    login_url = reverse_lazy("oauth2_provider:login")
