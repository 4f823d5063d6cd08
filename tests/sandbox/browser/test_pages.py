import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_home_page_renders_for_a_visitor(live_server, page, screenshot):
    response = page.goto(live_server.url + "/")
    assert response is not None
    assert response.status == 200
    assert page.locator("h1").inner_text() == "django-hardened sandbox"
    assert screenshot("home-anonymous").stat().st_size > 0


def test_sign_in_page_renders(live_server, page, screenshot):
    response = page.goto(live_server.url + "/accounts/login/")
    assert response is not None
    assert response.status == 200
    assert page.locator("input[name=password]").count() == 1
    screenshot("sign-in")
