"""A Content-Security-Policy header on every sandbox response.

Django 6 has ``SECURE_CSP`` built in; the sandbox also runs on Django 5.2, so
it sets the header itself. No inline script or style is allowed anywhere.

``form-action`` also governs where a form's submission may be redirected,
so it names the origins that the sandbox's own form posts send the browser
on to: each OpenID Connect provider's issuer (the sign-in button posts, then
redirects to the provider), the sandbox's other loopback name while the demo
provider runs (its sign-in form redirects back to the site), and Stripe's
hosted Checkout while the real Stripe provider is in use.
"""

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hardened_payments.conf import DEFAULT_PROVIDER

STRIPE_CHECKOUT = "https://checkout.stripe.com"
# A host (name, IPv4 or bracketed IPv6) and an optional port: nothing that
# could end the directive or add a source of its own.
_NETLOC = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    None,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
]


def _origin(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _NETLOC.match(parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _provider_origins() -> Iterator[str]:
    from enterprise.idp_settings import origins

    providers = getattr(settings, "SOCIALACCOUNT_PROVIDERS", {})
    for app in providers.get("openid_connect", {}).get("APPS", []):
        origin = _origin(app.get("settings", {}).get("server_url"))
        if origin is not None:
            yield origin
    if getattr(settings, "SANDBOX_DEMO_IDP", False):
        yield from origins(settings.SANDBOX_DEMO_IDP_ISSUER)


def form_action_sources() -> list[str]:
    """``'self'`` and every origin a form post here may be redirected to."""
    sources = ["'self'"]
    for origin in _provider_origins():
        if origin not in sources:
            sources.append(origin)
    provider = getattr(settings, "HARDENED_PAYMENTS_PROVIDER", DEFAULT_PROVIDER)
    if provider == DEFAULT_PROVIDER:
        sources.append(STRIPE_CHECKOUT)
    return sources


def policy() -> str:
    """The policy for the current settings."""
    form_action = "form-action " + " ".join(form_action_sources())
    return "; ".join(d if d is not None else form_action for d in DIRECTIVES)


class ContentSecurityPolicyMiddleware:
    """Add the sandbox's policy unless a view already set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy())
        return response
