import pytest

GENEROUS_LIMITS = {
    scope: {"ip": "10000/h", "identifier": "10000/h"}
    for scope in ("login", "signup", "reset", "email_change", "mfa", "token")
}


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    """Every test client shares 127.0.0.1; only rate-limit tests lower this.

    allauth's own per-IP limits are off here for the same reason; the
    limiter under test is hardened_auth's.
    """
    settings.HARDENED_AUTH_RATE_LIMITS = GENEROUS_LIMITS
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture(autouse=True)
def _no_policy_middleware_for_the_apps_own_urls(request, settings):
    """hardened_auth works without hardened_rbac.

    The views of tests/hardened_auth/urls.py therefore declare no policy,
    and the sandbox's PolicyRequiredMiddleware is left out where they run.
    """
    marker = request.node.get_closest_marker("urls")
    if marker is not None and marker.args == ("tests.hardened_auth.urls",):
        settings.MIDDLEWARE = [
            m
            for m in settings.MIDDLEWARE
            if not m.endswith(".PolicyRequiredMiddleware")
        ]
