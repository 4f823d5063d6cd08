"""Sessions bound to their device, with timeouts, rotation and user control."""

import logging
import time
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, models
from django.test import Client, override_settings

from hardened_auth.internal import sessions as binding
from hardened_auth.models import UserSession
from hardened_auth.sessions import end_all_sessions, privileges_changed
from tests.factories import DEFAULT_PASSWORD, UserFactory, force_login_verified

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.hardened_auth.urls")]

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"


def _browser(user_agent: str = FIREFOX, platform: str = "") -> Client:
    if platform:
        return Client(HTTP_USER_AGENT=user_agent, HTTP_SEC_CH_UA_PLATFORM=platform)
    return Client(HTTP_USER_AGENT=user_agent)


def _sign_in(client: Client, user) -> None:
    """Sign in through the allauth form, as the browser itself."""
    if not EmailAddress.objects.filter(user=user).exists():
        EmailAddress.objects.create(
            user=user, email=user.email, verified=True, primary=True
        )
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def _session_value(client: Client, key: str, value: object) -> None:
    session = client.session
    session[key] = value
    session.save()


def _is_signed_in(client: Client) -> bool:
    return client.get("/auth/sessions/").status_code == 200


def test_sign_in_records_a_session_row():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert _is_signed_in(client)
    [row] = UserSession.objects.filter(user=user)
    assert row.device_label == "Firefox on Linux"
    sid = client.session[binding.SID_KEY]
    assert row.sid_hash == binding.sid_hash(sid)
    assert sid not in row.sid_hash


def test_sign_in_through_allauth_rotates_the_key_and_labels_the_device():
    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True)
    client = _browser()
    client.get("/accounts/login/")
    anonymous_key = (
        client.cookies["sessionid"].value if "sessionid" in client.cookies else ""
    )
    client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert client.session.session_key != anonymous_key
    assert UserSession.objects.get(user=user).device_label == "Firefox on Linux"


def test_stolen_cookie_on_another_device_is_ended_and_audited(caplog):
    user = UserFactory()
    victim = _browser(FIREFOX)
    _sign_in(victim, user)
    thief = _browser(CHROME)
    thief.cookies = victim.cookies
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = thief.get("/auth/sessions/")
    assert response.status_code == 302
    [event] = [r for r in caplog.records if r.getMessage() == "session_expired"]
    assert event.hardened_audit["cause"] == "device_mismatch"
    assert event.hardened_audit["outcome"] == "denied"
    assert event.hardened_audit["actor"] == str(user.pk)
    assert not UserSession.objects.filter(user=user).exists()
    assert not _is_signed_in(victim)


def test_session_list_shows_the_coarse_label_not_the_user_agent():
    user = UserFactory()
    client = _browser(CHROME, platform='"Windows"')
    _sign_in(client, user)
    page = client.get("/auth/sessions/")
    assert b"Chrome on Windows" in page.content
    assert b"Win64" not in page.content
    assert b"126.0" not in page.content


def test_changed_client_hint_counts_as_another_device():
    user = UserFactory()
    client = _browser(platform='"Linux"')
    _sign_in(client, user)
    assert _is_signed_in(client)
    other = _browser(platform='"Windows"')
    other.cookies = client.cookies
    assert not _is_signed_in(other)


def test_fingerprint_is_the_salted_hmac_of_the_device_headers(settings):
    from django.test import RequestFactory
    from django.utils.crypto import salted_hmac

    request = RequestFactory().get(
        "/", HTTP_USER_AGENT=FIREFOX + "x" * 600, HTTP_SEC_CH_UA_MOBILE="?0"
    )
    values = "\x1f".join([FIREFOX + "x" * (512 - len(FIREFOX)), "", "", "?0"])
    expected = salted_hmac("hardened_auth.fingerprint", values, algorithm="sha256")
    assert binding.fingerprint(request) == expected.hexdigest()

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    expected = salted_hmac("hardened_auth.fingerprint", values, algorithm="sha256")
    assert binding.fingerprint(request) == expected.hexdigest()


@override_settings(HARDENED_AUTH_SESSION_FINGERPRINT_HEADERS=["User-Agent"])
def test_fingerprint_covers_only_the_configured_headers():
    from django.test import RequestFactory

    factory = RequestFactory(HTTP_USER_AGENT=FIREFOX)
    plain = binding.fingerprint(factory.get("/"))
    assert binding.fingerprint(factory.get("/", HTTP_SEC_CH_UA="x")) == plain
    assert binding.fingerprint(RequestFactory(HTTP_USER_AGENT=CHROME).get("/")) != (
        plain
    )


def test_forged_forwarded_for_does_not_change_the_binding():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert (
        client.get("/auth/sessions/", HTTP_X_FORWARDED_FOR="1.2.3.4").status_code == 200
    )


@override_settings(HARDENED_AUTH_SESSION_IDLE_TIMEOUT=600)
def test_idle_session_is_ended():
    client = _browser()
    _sign_in(client, UserFactory())
    _session_value(client, binding.SEEN_KEY, int(time.time()) - 601)
    assert not _is_signed_in(client)


@override_settings(HARDENED_AUTH_SESSION_ABSOLUTE_TIMEOUT=3600)
def test_old_session_is_ended_even_when_active():
    client = _browser()
    _sign_in(client, UserFactory())
    _session_value(client, binding.STARTED_KEY, int(time.time()) - 3601)
    assert not _is_signed_in(client)


def test_activity_keeps_the_session_alive_and_updates_last_seen():
    client = _browser()
    _sign_in(client, UserFactory())
    _session_value(client, binding.SEEN_KEY, int(time.time()) - 120)
    assert _is_signed_in(client)
    assert int(time.time()) - client.session[binding.SEEN_KEY] < 5


@pytest.mark.parametrize(
    "key", [binding.SID_KEY, binding.FINGERPRINT_KEY, binding.STARTED_KEY]
)
def test_session_missing_binding_data_is_ended(key):
    client = _browser()
    _sign_in(client, UserFactory())
    session = client.session
    del session[key]
    session.save()
    assert not _is_signed_in(client)


def test_forged_sid_is_ended():
    client = _browser()
    _sign_in(client, UserFactory())
    _session_value(client, binding.SID_KEY, "guessed")
    assert not _is_signed_in(client)


def test_sid_of_another_users_session_is_ended():
    victim, intruder = _browser(), _browser()
    _sign_in(victim, UserFactory())
    _sign_in(intruder, UserFactory())
    _session_value(intruder, binding.SID_KEY, victim.session[binding.SID_KEY])
    assert not _is_signed_in(intruder)
    assert _is_signed_in(victim)


def test_session_lookup_takes_only_the_session_hash():
    """The compiled statement holds no user value, so any key type fits."""
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    sid = client.session[binding.SID_KEY]
    binding._lookup_sql.clear()
    sql = binding._compiled_lookup(connection.alias)
    assert sql.count("%s") == 1
    with connection.cursor() as cursor:
        cursor.execute(sql, [binding.sid_hash(sid)])
        row_pk, rotate_pending, owner = cursor.fetchone()
    assert row_pk == UserSession.objects.get(user=user).pk
    assert (rotate_pending, owner) == (False, user.pk)
    assert binding._find_row(sid, user) == (row_pk, False)


KEY = uuid.UUID("0b5e3f4e-8a41-4c1a-9c1e-6d2f0a7b9c11")


@pytest.mark.parametrize(
    ("key", "stored", "pk", "matches"),
    [
        (models.UUIDField(), KEY.hex, KEY, True),
        (models.UUIDField(), KEY, KEY, True),
        (models.UUIDField(), str(KEY), KEY.hex, True),
        (models.UUIDField(), uuid.uuid4().hex, KEY, False),
        (models.UUIDField(), "not a uuid", KEY, False),
        (models.CharField(max_length=40), "alice", "alice", True),
        (models.CharField(max_length=40), "-1", "alice", False),
        (models.CharField(max_length=40), "Alice", "alice", False),
        (models.BigAutoField(primary_key=True), 7, 7, True),
        (models.BigAutoField(primary_key=True), 7, 8, False),
        (models.BigAutoField(primary_key=True), "x", 7, False),
    ],
)
def test_owner_is_compared_in_the_type_of_the_user_key(key, stored, pk, matches):
    """A UUID or text user key matches however the backend returns it."""
    assert binding.owner_matches(key, stored, pk) is matches


def test_privilege_change_rotates_the_session_key(caplog):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    before = client.session.session_key
    user.is_staff = True
    user.save()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert _is_signed_in(client)
    assert client.session.session_key != before
    assert "session_renewed" in [r.getMessage() for r in caplog.records]
    after = client.session.session_key
    assert _is_signed_in(client)
    assert client.session.session_key == after


def test_group_change_rotates_the_session_key():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    before = client.session.session_key
    user.groups.add(Group.objects.create(name="auditors"))
    assert _is_signed_in(client)
    assert client.session.session_key != before


def test_privileges_changed_helper_rotates():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    before = client.session.session_key
    privileges_changed(user)
    assert _is_signed_in(client)
    assert client.session.session_key != before


def test_unrelated_save_does_not_rotate():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    before = client.session.session_key
    user.first_name = "Ada"
    user.save()
    assert _is_signed_in(client)
    assert client.session.session_key == before


def test_deactivation_ends_every_session():
    user = UserFactory()
    laptop, phone = _browser(FIREFOX), _browser(CHROME)
    _sign_in(laptop, user)
    _sign_in(phone, user)
    user.is_active = False
    user.save()
    assert not UserSession.objects.filter(user=user).exists()
    assert not _is_signed_in(laptop)
    assert not _is_signed_in(phone)


def test_end_all_sessions_helper():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert end_all_sessions(user) == 1
    assert not _is_signed_in(client)


def test_user_lists_and_ends_another_session():
    user = UserFactory()
    laptop, phone = _browser(FIREFOX), _browser(CHROME)
    _sign_in(laptop, user)
    _sign_in(phone, user)
    listing = laptop.get("/auth/sessions/").content.decode()
    assert "(this session)" in listing
    assert "Chrome on Windows" in listing
    phone_row = UserSession.objects.get(user=user, device_label="Chrome on Windows")
    response = laptop.post("/auth/sessions/end/", {"session": phone_row.pk})
    assert response.status_code == 302
    assert not _is_signed_in(phone)
    assert _is_signed_in(laptop)


def test_user_cannot_end_someone_elses_session():
    victim = _browser(CHROME)
    _sign_in(victim, UserFactory())
    row = UserSession.objects.get(device_label="Chrome on Windows")
    attacker = _browser()
    _sign_in(attacker, UserFactory())
    for value in (row.pk, "x", "9" * 40, ""):
        response = attacker.post("/auth/sessions/end/", {"session": value})
        assert response.status_code == 404
    assert _is_signed_in(victim)


def test_ending_the_current_session_signs_out():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    row = UserSession.objects.get(user=user)
    assert client.post("/auth/sessions/end/", {"session": row.pk}).status_code == 302
    assert not _is_signed_in(client)


def test_sign_out_everywhere_else():
    user = UserFactory()
    laptop, phone, tablet = _browser(FIREFOX), _browser(CHROME), _browser("Tablet")
    for client in (laptop, phone, tablet):
        _sign_in(client, user)
    laptop.post("/auth/sessions/end/", {"others": "1"})
    assert _is_signed_in(laptop)
    assert not _is_signed_in(phone)
    assert not _is_signed_in(tablet)


def test_password_change_ends_every_other_session():
    user = UserFactory()
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    laptop, phone = _browser(FIREFOX), _browser(CHROME)
    _sign_in(laptop, user)
    _sign_in(phone, user)
    new = "an entirely new passphrase 77"
    response = laptop.post(
        "/accounts/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    assert _is_signed_in(laptop)
    assert not _is_signed_in(phone)
    assert UserSession.objects.filter(user=user).count() == 1


def test_sign_out_removes_the_row_and_is_audited_once(caplog):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        client.post("/accounts/logout/")
    assert not UserSession.objects.filter(user=user).exists()
    [event] = [r for r in caplog.records if r.getMessage() == "session_expired"]
    assert event.hardened_audit["cause"] == "logout"
    assert event.hardened_audit["actor"] == str(user.pk)
    assert event.hardened_audit["outcome"] == "success"


def test_ended_session_is_audited_once_with_its_reason(caplog):
    client = _browser()
    _sign_in(client, UserFactory())
    _session_value(client, binding.SEEN_KEY, int(time.time()) - 7200)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert not _is_signed_in(client)
    causes = [
        r.hardened_audit["cause"]
        for r in caplog.records
        if r.getMessage() == "session_expired"
    ]
    assert causes == ["idle_timeout"]


def _operator() -> Client:
    staff = get_user_model().objects.create_superuser(
        f"root-{time.time_ns()}", "root@example.com", DEFAULT_PASSWORD
    )
    client = Client()
    force_login_verified(client, staff)
    client.staff = staff  # type: ignore[attr-defined]
    return client


SESSION_ADMIN = "/admin/hardened_auth/usersession/"


def test_operator_ends_a_session_in_the_admin_with_an_audit_event(caplog):
    user = UserFactory()
    laptop = _browser()
    _sign_in(laptop, user)
    row = UserSession.objects.get(user=user)
    operator = _operator()
    url = f"{SESSION_ADMIN}{row.pk}/delete/"
    assert operator.get(url).status_code == 200
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert operator.post(url, {"post": "yes"}).status_code == 302
    [event] = [r for r in caplog.records if r.getMessage() == "session_expired"]
    assert event.hardened_audit["cause"] == "ended_by_operator"
    assert event.hardened_audit["actor"] == str(operator.staff.pk)  # type: ignore[attr-defined]
    assert event.hardened_audit["owner"] == str(user.pk)
    assert event.hardened_audit["target"] == str(row.pk)
    assert not _is_signed_in(laptop)


def test_operator_bulk_ends_sessions_with_an_event_each(caplog):
    users = [UserFactory(), UserFactory()]
    browsers = [_browser(), _browser()]
    for browser, user in zip(browsers, users, strict=True):
        _sign_in(browser, user)
    rows = list(UserSession.objects.filter(user__in=users).values_list("pk", flat=True))
    operator = _operator()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = operator.post(
            SESSION_ADMIN,
            {"action": "delete_selected", "_selected_action": rows, "post": "yes"},
        )
    assert response.status_code == 302
    targets = [
        r.hardened_audit["target"]
        for r in caplog.records
        if r.getMessage() == "session_expired"
    ]
    assert sorted(targets) == sorted(str(pk) for pk in rows)
    assert not any(_is_signed_in(b) for b in browsers)
