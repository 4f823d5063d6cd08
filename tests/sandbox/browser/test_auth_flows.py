"""Sign-in flows of the sandbox in Chromium: passkeys, TOTP, recovery codes, ALTCHA.

Passkeys are made by Chromium's virtual WebAuthn authenticator (driven over
the DevTools protocol), so the browser runs the real ceremonies against the
live server. The relying party is ``localhost``, the live server's host.
Emails are read from Django's local-memory outbox, which the live server
shares with the test; a password reset is followed from its mail the same
way.
"""

import base64
import io
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django_otp.oath import totp
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from demo import seed_auth
from hardened_auth import stepup
from hardened_auth.models import TOTP_STEP_SECONDS, RecoveryCodeDevice, TOTPDevice
from hardened_payments.models import PayoutDestination
from tests.factories import (
    DEFAULT_PASSWORD,
    MembershipFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "violet pelican ladder 4417"
TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def _browser_settings(settings: Any, live_server: Any) -> None:
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Each test counts failures only per account, so earlier tests from the
    # same address never push a later one into the delay or challenge stage.
    settings.HARDENED_AUTH_VELOCITY_THRESHOLDS = {
        "identifier": {"delay": None, "challenge": 3, "lock": 20},
        "ip": {},
        "site": {},
    }
    settings.HARDENED_AUTH_ALTCHA_MAX_NUMBER = 20_000


def _authenticator(page: Any) -> Any:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def _verified_user(email: str) -> Any:
    user = UserFactory(username=email.split("@")[0], email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _sign_in(page: Any, base: str, email: str, password: str) -> Any:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    return page


def _sign_out(page: Any, base: str) -> None:
    page.goto(base + "/")
    with page.expect_navigation():
        page.click("#nav button[type=submit]")
    page.wait_for_selector("#nav >> text=Sign in")


def _signed_in_as(page: Any, email: str) -> bool:
    return bool(page.locator("#nav strong").inner_text() == email)


class _Codes:
    """TOTP codes for a key, each from a later time step than the last.

    The device accepts one step either side of now and each step once, so
    successive codes walk forward from the step before now. The previous
    step's code is used only while the current step has a while to run, so
    a slow page cannot submit it after the device stopped accepting it;
    when every acceptable step is spent, it waits for the next step.
    """

    MARGIN_SECONDS = 10

    def __init__(self, secret: str) -> None:
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.last = -1

    def next(self) -> str:
        while True:
            clock = time.time()
            now = int(clock) // TOTP_STEP_SECONDS
            left = (now + 1) * TOTP_STEP_SECONDS - clock
            step = max(self.last + 1, now - 1)
            if step == now - 1 and left < self.MARGIN_SECONDS:
                step = now
            if step <= now + 1:
                break
            time.sleep(left)
        self.last = step
        return f"{totp(self.key, step=TOTP_STEP_SECONDS, drift=step - now):06d}"


def _step_up(page: Any, code: str) -> Any:
    page.wait_for_selector("input[name=code]")
    page.fill("input[name=code]", code)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    return page


def test_sign_up_verify_email_add_a_passkey_and_sign_in_with_it_alone(
    live_server: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    email = "pat@example.com"
    _authenticator(page)

    page.goto(base + "/accounts/signup/")
    screenshot("auth-sign-up")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", NEW_PASSWORD)
    page.fill("input[name=password2]", NEW_PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    screenshot("auth-verification-sent")
    assert EmailAddress.objects.get(email=email).verified is False

    [message] = [m for m in mail.outbox if email in m.to]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(message.body))
    assert link is not None
    page.goto(link[0])
    screenshot("auth-confirm-email")
    with page.expect_navigation():
        page.click("form button:has-text('Confirm')")
    assert EmailAddress.objects.get(email=email).verified is True

    assert page.url == base + "/accounts/login/"

    _sign_in(page, base, email, NEW_PASSWORD)
    assert page.url == base + "/"
    assert _signed_in_as(page, email)

    page.goto(base + "/auth/devices/")
    page.click("#passkey-register-button")
    expect(page.locator("#passkey-register-status-message")).to_have_text(
        re.compile(r"\S"), timeout=TIMEOUT_MS
    )
    screenshot("auth-passkey-registered")
    page.reload()
    screenshot("auth-devices-with-passkey")
    assert WebAuthnCredential.objects.filter(user__email=email).count() == 1

    _sign_out(page, base)
    page.goto(base + "/accounts/login/")
    screenshot("auth-sign-in")
    with page.expect_navigation(timeout=TIMEOUT_MS):
        page.click("#passkey-verification-button")
    page.wait_for_selector("#nav strong")
    assert _signed_in_as(page, email)
    assert page.url == base + "/"
    screenshot("auth-signed-in-with-passkey")


def test_enrol_totp_sign_in_with_it_and_spend_a_recovery_code_once(
    live_server: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    email = "quinn@example.com"
    user = _verified_user(email)

    _sign_in(page, base, email, DEFAULT_PASSWORD)
    assert _signed_in_as(page, email)

    page.goto(base + "/auth/devices/")
    with page.expect_navigation():
        page.click("text=Add an authenticator app")
    screenshot("auth-totp-enrol")
    secret = page.locator("#totp-secret").inner_text()
    assert TOTPDevice.objects.get(user=user, confirmed=False).base32_secret == secret
    codes = _Codes(secret)
    page.fill("input[name=code]", codes.next())
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == base + "/auth/devices/"
    assert TOTPDevice.objects.get(user=user).confirmed

    with page.expect_navigation():
        page.click("text=Create new recovery codes")
    assert page.url.startswith(base + "/auth/step-up/")
    _step_up(page, codes.next())
    assert page.url == base + "/auth/devices/"
    with page.expect_navigation():
        page.click("text=Create new recovery codes")
    screenshot("auth-recovery-codes")
    recovery = page.locator("#recovery-codes code").all_inner_texts()
    assert len(recovery) == 10
    assert RecoveryCodeDevice.objects.get(user=user).remaining() == 10

    _sign_out(page, base)
    _sign_in(page, base, email, DEFAULT_PASSWORD)
    assert page.url.startswith(base + "/auth/step-up/")
    screenshot("auth-step-up")
    _step_up(page, codes.next())
    assert page.url == base + "/"
    assert _signed_in_as(page, email)

    _sign_out(page, base)
    _sign_in(page, base, email, DEFAULT_PASSWORD)
    _step_up(page, recovery[0])
    assert page.url == base + "/"
    assert RecoveryCodeDevice.objects.get(user=user).remaining() == 9

    _sign_out(page, base)
    _sign_in(page, base, email, DEFAULT_PASSWORD)
    _step_up(page, recovery[0])
    assert page.url.startswith(base + "/auth/step-up/")
    assert page.locator("main").inner_text().count("That code is not valid.") == 1
    screenshot("auth-recovery-code-refused")
    page.goto(base + "/")
    assert page.url.startswith(base + "/auth/step-up/")


def _fail_sign_ins(page: Any, base: str, email: str, times: int) -> None:
    for _ in range(times):
        _sign_in(page, base, email, "not the password at all")
        assert page.url.startswith(base + "/accounts/login/")


def _wait_solved(page: Any) -> None:
    page.wait_for_selector(
        "[data-altcha-widget][data-state=solved]", timeout=TIMEOUT_MS
    )


def test_sign_in_page_shows_the_challenge_after_failures_and_the_browser_solves_it(
    live_server: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    email = "robin@example.com"
    _verified_user(email)

    _fail_sign_ins(page, base, email, 3)
    widget = page.locator("[data-altcha-widget]")
    assert widget.is_visible()
    _wait_solved(page)
    screenshot("auth-sign-in-challenge-solved")

    page.fill("input[name=password]", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    assert page.url == base + "/"
    assert _signed_in_as(page, email)


def test_refused_sign_in_asks_for_the_challenge_and_succeeds_once_solved(
    live_server: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    email = "sam@example.com"
    _verified_user(email)
    _fail_sign_ins(page, base, email, 3)

    response = page.goto(base + "/accounts/login/")
    assert response is not None
    assert page.locator("[data-altcha-widget]").count() == 0
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    with page.expect_navigation() as navigation:
        page.click("#login-form button[type=submit]")
    assert navigation.value.status == 429
    assert page.locator("h1").inner_text() == "One more step to sign in"
    assert page.locator("input[name=login]").input_value() == email
    assert page.locator("input[name=password]").input_value() == ""
    _wait_solved(page)
    screenshot("auth-challenge-page-solved")

    page.fill("input[name=password]", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("#challenge-form button[type=submit]")
    assert page.url == base + "/"
    assert _signed_in_as(page, email)


def test_without_javascript_the_challenge_page_says_what_is_needed(
    live_server: Any, browser: Any
) -> None:
    base = live_server.url
    email = "tam@example.com"
    _verified_user(email)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _fail_sign_ins(page, base, email, 3)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        with page.expect_navigation() as navigation:
            page.click("#login-form button[type=submit]")
        assert navigation.value.status == 429
        text = page.locator("main").inner_text()
        assert "JavaScript is needed to sign in right now." in text
        assert re.search(r"wait \d+ seconds and try again", text)
        assert not page.locator("[data-altcha-widget]").is_visible()
        page.screenshot(path=str(_screenshot_path("auth-challenge-without-javascript")))
    finally:
        context.close()


def _screenshot_path(name: str) -> Any:
    from tests.sandbox.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def test_seeded_superuser_reaches_the_admin_after_a_code(
    live_server: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    admin = _verified_user("admin@example.com")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    printed = io.StringIO()
    seed_auth.seed(tenants={}, users={"admin": admin}, stdout=printed)
    secret = re.search(r"key \(base32\): ([A-Z2-7]+)", printed.getvalue())
    assert secret is not None

    _sign_in(page, base, admin.email, DEFAULT_PASSWORD)
    page.goto(base + "/admin/")
    assert page.url.startswith(base + "/auth/step-up/")
    _step_up(page, _Codes(secret[1]).next())
    assert page.url == base + "/admin/"
    assert "second factor required" in page.locator("#site-name").inner_text()
    screenshot("auth-admin-after-second-factor")


def test_reset_a_forgotten_password_and_end_the_other_session(
    live_server: Any, browser: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    email = "uma@example.com"
    _verified_user(email)
    other = browser.new_context()
    try:
        elsewhere = _sign_in(other.new_page(), base, email, DEFAULT_PASSWORD)
        assert _signed_in_as(elsewhere, email)

        page.goto(base + "/accounts/password/reset/")
        screenshot("auth-password-reset")
        page.fill("input[name=email]", email)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        assert page.url == base + "/accounts/password/reset/done/"
        screenshot("auth-password-reset-sent")

        [message] = [m for m in mail.outbox if email in m.to]
        link = re.search(
            r"https?://\S+/accounts/password/reset/key/\S+/", str(message.body)
        )
        assert link is not None
        page.goto(link[0])
        screenshot("auth-password-reset-new-password")
        page.fill("input[name=password1]", NEW_PASSWORD)
        page.fill("input[name=password2]", NEW_PASSWORD)
        with page.expect_navigation():
            page.click("form button:has-text('Change Password')")
        assert page.url == base + "/accounts/password/reset/key/done/"
        screenshot("auth-password-reset-done")

        elsewhere.goto(base + "/")
        assert elsewhere.locator("#nav strong").count() == 0
        elsewhere.wait_for_selector("#nav >> text=Sign in")
    finally:
        other.close()

    _sign_in(page, base, email, DEFAULT_PASSWORD)
    assert page.url.startswith(base + "/accounts/login/")
    assert page.locator("#nav strong").count() == 0
    screenshot("auth-old-password-refused")
    _sign_in(page, base, email, NEW_PASSWORD)
    assert page.url == base + "/"
    assert _signed_in_as(page, email)


def _register_passkey(page: Any, base: str) -> None:
    page.goto(base + "/auth/devices/")
    page.click("#passkey-register-button")
    expect(page.locator("#passkey-register-status-message")).to_have_text(
        re.compile(r"\S"), timeout=TIMEOUT_MS
    )


def _verify_with_passkey(page: Any) -> None:
    with page.expect_navigation(timeout=TIMEOUT_MS):
        page.click("#passkey-verification-button")


def _age_step_up(page: Any) -> None:
    """Make the browser's last second-factor proof an hour old."""
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[stepup.SESSION_KEY] = int(time.time()) - 3600
    session.save()


def test_passkey_as_the_second_factor_after_a_password_and_for_a_step_up(
    live_server: Any, page: Any, screenshot: Callable[[str], Any]
) -> None:
    base = live_server.url
    email = "vic@example.com"
    user = _verified_user(email)
    acme = TenantFactory(slug="acme", name="Acme Cooperative")
    MembershipFactory(tenant=acme, user=user)
    _authenticator(page)

    _sign_in(page, base, email, DEFAULT_PASSWORD)
    assert page.url == base + "/"
    _register_passkey(page, base)
    assert WebAuthnCredential.objects.filter(user=user).count() == 1

    _sign_out(page, base)
    _sign_in(page, base, email, DEFAULT_PASSWORD)
    assert page.url.startswith(base + "/auth/step-up/")
    page.goto(base + "/t/acme/market/balance/")
    assert page.url == (
        base + "/t/acme/auth/step-up/?next=%2Ft%2Facme%2Fmarket%2Fbalance%2F"
    )
    screenshot("auth-step-up-with-passkey")
    _verify_with_passkey(page)
    page.wait_for_selector("#nav strong")
    assert _signed_in_as(page, email)
    assert page.url == base + "/t/acme/market/balance/"

    _age_step_up(page)
    page.fill("#payout-account input[name=account]", "acct_sandboxvic")
    with page.expect_navigation():
        page.click("#payout-account button[type=submit]")
    assert page.url.startswith(base + "/t/acme/auth/step-up/")
    assert not PayoutDestination.objects.filter(user=user).exists()
    screenshot("auth-payout-step-up-with-passkey")
    _verify_with_passkey(page)
    assert page.url == base + "/t/acme/market/balance/"
    page.fill("#payout-account input[name=account]", "acct_sandboxvic")
    with page.expect_navigation():
        page.click("#payout-account button[type=submit]")
    assert page.locator("#destination").inner_text() == "acct_sandboxvic"
    assert PayoutDestination.objects.get(user=user).account == "acct_sandboxvic"
    screenshot("auth-payout-account-saved-after-passkey")
