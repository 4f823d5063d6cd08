from django.test import RequestFactory
from django.utils import translation

from hardened_auth.internal import routing


def _post(path: str):
    return RequestFactory().post(path)


def test_path_resolves_to_its_url_name():
    assert routing.view_name(_post("/admin/login/")) == "admin:login"
    assert routing.view_name(_post("/accounts/login/")) == "account_login"


def test_path_that_resolves_nowhere_has_no_view():
    assert routing.view_name(_post("/no/such/page/")) is None


def test_urlconf_chosen_by_an_earlier_middleware_is_used():
    request = _post("/guarded/short/")
    assert routing.view_name(request) is None
    request.urlconf = "tests.hardened_auth.urls"
    assert routing.view_name(request) == "guarded_short"


def test_answers_are_kept_per_language():
    routing._resolve.cache_clear()
    for language in ("en", "de", "en"):
        with translation.override(language):
            assert routing.view_name(_post("/admin/login/")) == "admin:login"
    info = routing._resolve.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_long_path_is_resolved_without_being_kept():
    routing._resolve.cache_clear()
    path = "/admin/" + "x" * routing.MAX_CACHED_PATH + "/"
    assert routing.view_name(_post(path)) == (
        "admin:django.contrib.admin.sites.catch_all_view"
    )
    assert routing.view_name(_post("/" + "x" * routing.MAX_CACHED_PATH)) is None
    assert routing._resolve.cache_info().currsize == 0
