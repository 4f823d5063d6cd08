"""The social scenario in a real browser, with plain forms and no JavaScript.

Carol posts to Acme's feed and asks Alice to be friends; Alice accepts through
the link in her mail. Bob, who belongs to Globex only, gets the same 404 for
Carol's post and for the link as for ids that do not exist.
"""

import re

import pytest
from allauth.account.models import EmailAddress

from tests.factories import (
    DEFAULT_PASSWORD,
    MembershipFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _member(username: str, *tenants):
    user = UserFactory(username=username)
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    for tenant in tenants:
        MembershipFactory(tenant=tenant, user=user)
    return user


def _sign_in(page, live_server, email: str):
    """Sign in through the form, after signing out whoever was signed in."""
    page.context.clear_cookies()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(live_server.url + "/")
    return page


def _shot(screenshot, name: str) -> None:
    assert screenshot(name).stat().st_size > 0


@pytest.fixture
def people(db):
    acme = TenantFactory(slug="acme", name="Acme Cooperative")
    globex = TenantFactory(slug="globex", name="Globex Guild")
    return {
        "alice": _member("alice", acme),
        "carol": _member("carol", acme),
        "bob": _member("bob", globex),
    }


def test_post_befriend_and_accept_while_another_community_sees_nothing(
    live_server, page, screenshot, people, mailoutbox
):
    base = live_server.url

    carol = _sign_in(page, live_server, "carol@example.com")
    carol.goto(base + "/social/")
    _shot(screenshot, "social-communities")
    carol.click("text=Acme Cooperative")
    assert carol.url == base + "/t/acme/social/feed/"
    carol.fill("textarea[name=body]", "Seedlings for anyone who wants them.")
    carol.select_option("select[name=visibility]", "tenant")
    carol.click("#new-post button[type=submit]")
    post = carol.locator("#posts li", has_text="Seedlings for anyone")
    assert post.count() == 1
    _shot(screenshot, "social-feed")
    post.locator("a", has_text="open").click()
    post_url = carol.url
    assert re.fullmatch(re.escape(base) + r"/t/acme/social/posts/\d+/", post_url)
    _shot(screenshot, "social-post")

    carol.goto(base + "/t/acme/social/friends/")
    carol.fill("input[name=email]", "alice@example.com")
    carol.click("#friend-request button[type=submit]")
    assert "If a member of this community uses that address" in carol.inner_text(
        "#request-answer"
    )
    _shot(screenshot, "social-friend-request-sent")
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    found = re.search(r"(http://\S+/accept/\?token=\S+)", mailoutbox[0].body)
    assert found is not None
    link = found.group(1)

    alice = _sign_in(page, live_server, "alice@example.com")
    alice.goto(link)
    assert "carol would like to be your friend" in alice.inner_text("main")
    _shot(screenshot, "social-accept")
    alice.click("#accept button[type=submit]")
    assert alice.url == base + "/t/acme/social/friends/"
    assert alice.locator("#friends li").all_inner_texts() == ["carol"]
    _shot(screenshot, "social-friends")
    alice.goto(link)
    assert "already friends with carol" in alice.inner_text("main")

    alice.goto(base + "/t/acme/social/feed/")
    assert alice.locator("#posts li", has_text="Seedlings").count() == 1
    for name, path in (
        ("social-members", "/t/acme/social/members/"),
        ("social-groups", "/t/acme/social/groups/"),
        ("social-messages", "/t/acme/social/messages/"),
    ):
        response = alice.goto(base + path)
        assert response is not None
        assert response.status == 200
        _shot(screenshot, name)
    alice.goto(base + "/t/acme/social/groups/")
    alice.fill("input[name=name]", "Gardeners")
    alice.click("#new-group button[type=submit]")
    assert alice.inner_text("#group-name") == "Gardeners"
    _shot(screenshot, "social-group")
    alice.goto(base + "/t/acme/social/messages/")
    alice.select_option("select[name=recipient]", label="carol")
    alice.fill("textarea[name=body]", "Thanks for the seedlings!")
    alice.click("#new-conversation button[type=submit]")
    assert "Thanks for the seedlings!" in alice.inner_text("#messages-thread")
    _shot(screenshot, "social-conversation")

    bob = _sign_in(page, live_server, "bob@example.com")
    missing = bob.goto(base + "/t/globex/social/posts/987654321/")
    assert missing is not None
    assert missing.status == 404
    missing_text = bob.inner_text("body")
    post_id = post_url.rstrip("/").rsplit("/", 1)[1]
    request_id = link.split("/requests/", 1)[1].split("/", 1)[0]
    for url in (
        post_url,
        f"{base}/t/globex/social/posts/{post_id}/",
        link,
        link.replace("/t/acme/", "/t/globex/"),
        f"{base}/t/globex/social/friends/requests/{request_id}/accept/",
    ):
        response = bob.goto(url)
        assert response is not None
        assert response.status == 404, url
        assert bob.inner_text("body") == missing_text
    _shot(screenshot, "social-other-community-404")
    bob.goto(base + "/t/globex/social/feed/")
    assert "Seedlings" not in bob.inner_text("main")
    _shot(screenshot, "social-other-community-feed")
