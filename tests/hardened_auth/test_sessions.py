"""Sessions bound to their device, with timeouts, rotation and user control."""

import logging
import threading
import time
import uuid
from importlib import import_module

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import Group
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection, models, transaction
from django.db.models.signals import pre_delete
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path

from hardened_auth.internal import session_store
from hardened_auth.internal import sessions as binding
from hardened_auth.middleware import SessionBindingMiddleware
from hardened_auth.models import TOTP_STEP_SECONDS, TOTPDevice, UserSession
from hardened_auth.sessions import end_all_sessions, privileges_changed
from hardened_rbac.decorators import policy_exempt
from tests.factories import DEFAULT_PASSWORD, UserFactory, force_login_verified
from tests.hardened_auth import urls as auth_urls

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


def _rotate_secret_key(settings, *, keep_old: bool) -> None:
    """Give SECRET_KEY a new value, keeping the old one as a fallback or not."""
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-rotated-secret-key-for-this-test-only-0123456789abcdef"
    settings.SECRET_KEY_FALLBACKS = [old] if keep_old else []


def test_rotated_secret_key_keeps_the_device_signed_in_through_its_fallback(
    settings, caplog
):
    """The fingerprint is made again under the new key; nothing is audited."""
    user = UserFactory()
    client = _browser(FIREFOX)
    _sign_in(client, user)
    _rotate_secret_key(settings, keep_old=True)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert client.get("/auth/sessions/").status_code == 200
    assert "session_expired" not in [r.getMessage() for r in caplog.records]
    request = RequestFactory().get("/", HTTP_USER_AGENT=FIREFOX)
    assert client.session[binding.FINGERPRINT_KEY] == binding.fingerprint(request)
    settings.SECRET_KEY_FALLBACKS = []
    assert _is_signed_in(client)


def test_rotated_secret_key_still_refuses_another_device(settings, caplog):
    user = UserFactory()
    victim = _browser(FIREFOX)
    _sign_in(victim, user)
    _rotate_secret_key(settings, keep_old=True)
    thief = _browser(CHROME)
    thief.cookies = victim.cookies
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert thief.get("/auth/sessions/").status_code == 302
    [event] = [r for r in caplog.records if r.getMessage() == "session_expired"]
    assert event.hardened_audit["cause"] == "device_mismatch"


class _SessionRowsReadFromAReplica:
    """Route reads of session rows to a replica this test has not set up."""

    def db_for_read(self, model, **hints):
        return "no_such_replica" if model is UserSession else None

    def db_for_write(self, model, **hints):
        return None


def test_session_row_is_confirmed_on_the_database_it_is_written_to(settings):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    sid = client.session[binding.SID_KEY]
    settings.DATABASE_ROUTERS = [_SessionRowsReadFromAReplica()]
    assert binding._find_row(sid, user) is not None
    UserSession.objects.filter(user=user).delete()
    assert binding._find_row(sid, user) is None


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


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _store_has(key: str | None) -> bool:
    assert key is not None, "the session has no store key"
    return bool(_store()().exists(key))


def _usersession_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if TABLE in q["sql"]]


TABLE = UserSession._meta.db_table
ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
]


def test_row_holds_the_store_key_sealed_and_the_session_its_digest():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    row = UserSession.objects.get(user=user)
    key = client.session.session_key
    assert key is not None
    assert key not in row.sealed_store_key
    assert binding.store_keys_of(row) == [key]
    sid = client.session[binding.SID_KEY]
    assert client.session[binding.BINDING_KEY] == binding.binding_digest(
        key, sid, user.pk
    )


def test_ordinary_signed_in_request_reads_no_session_row():
    client = _browser()
    _sign_in(client, UserFactory())
    assert client.get("/auth/devices/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/auth/devices/")
    assert response.status_code == 200
    assert response.wsgi_request.user.is_authenticated
    assert _usersession_queries(queries) == []


def test_request_that_saves_the_session_confirms_its_row_first():
    client = _browser()
    _sign_in(client, UserFactory())
    _session_value(client, binding.SEEN_KEY, int(time.time()) - 120)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/auth/devices/").status_code == 200
    statements = _usersession_queries(queries)
    assert [sql.split()[0] for sql in statements] == ["SELECT", "UPDATE"]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_way_of_ending_a_session_deletes_its_store_entry(settings, engine):
    settings.SESSION_ENGINE = engine
    user = UserFactory()
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    laptop, phone, tablet = _browser(FIREFOX), _browser(CHROME), _browser("Tablet")
    for client in (laptop, phone, tablet):
        _sign_in(client, user)
    keys = {c: c.session.session_key for c in (laptop, phone, tablet)}

    phone_row = UserSession.objects.get(user=user, device_label="Chrome on Windows")
    laptop.post("/auth/sessions/end/", {"session": phone_row.pk})
    assert not _store_has(keys[phone])
    assert not _is_signed_in(phone)

    new = "an entirely new passphrase 77"
    laptop.post(
        "/accounts/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": new, "password2": new},
    )
    assert not _store_has(keys[tablet])
    assert not _is_signed_in(tablet)
    assert _is_signed_in(laptop)

    laptop_key = laptop.session.session_key
    assert end_all_sessions(user) == 1
    assert not _store_has(laptop_key)
    assert not _is_signed_in(laptop)


def test_deleting_the_user_deletes_the_store_entries_of_its_sessions():
    user = UserFactory()
    laptop, phone = _browser(FIREFOX), _browser(CHROME)
    _sign_in(laptop, user)
    _sign_in(phone, user)
    keys = [laptop.session.session_key, phone.session.session_key]
    user.delete()
    assert not any(_store_has(key) for key in keys)
    assert not _is_signed_in(laptop)
    assert not _is_signed_in(phone)


def test_queryset_delete_of_rows_ends_their_sessions():
    users = [UserFactory(), UserFactory()]
    browsers = [_browser(), _browser()]
    for browser, user in zip(browsers, users, strict=True):
        _sign_in(browser, user)
    keys = [b.session.session_key for b in browsers]
    assert UserSession.objects.filter(user__in=users).delete()[0] == 2
    assert not any(_store_has(key) for key in keys)
    assert not any(_is_signed_in(b) for b in browsers)


def test_operator_deletions_delete_the_store_entries():
    users = [UserFactory(), UserFactory(), UserFactory()]
    browsers = [_browser(), _browser(), _browser()]
    for browser, user in zip(browsers, users, strict=True):
        _sign_in(browser, user)
    keys = [b.session.session_key for b in browsers]
    rows = [UserSession.objects.get(user=user).pk for user in users]
    operator = _operator()
    single = f"{SESSION_ADMIN}{rows[0]}/delete/"
    assert operator.post(single, {"post": "yes"}).status_code == 302
    assert not _store_has(keys[0])
    assert all(_store_has(key) for key in keys[1:])
    response = operator.post(
        SESSION_ADMIN,
        {"action": "delete_selected", "_selected_action": rows[1:], "post": "yes"},
    )
    assert response.status_code == 302
    assert not any(_store_has(key) for key in keys)
    assert not any(_is_signed_in(b) for b in browsers)


def test_ending_a_session_leaves_the_others_untouched():
    user = UserFactory()
    laptop, phone = _browser(FIREFOX), _browser(CHROME)
    _sign_in(laptop, user)
    _sign_in(phone, user)
    UserSession.objects.get(user=user, device_label="Chrome on Windows").delete()
    assert _store_has(laptop.session.session_key)
    assert _is_signed_in(laptop)
    assert not _is_signed_in(phone)


def _sign_in_with_second_factor(client: Client, user) -> None:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    _sign_in(client, user)
    code = device.code_at(int(time.time()) // TOTP_STEP_SECONDS)
    assert client.post("/auth/step-up/", {"code": code}).status_code == 302


def test_session_verified_by_a_second_factor_can_still_be_ended():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    password_key = client.session.session_key
    client.logout()
    client = _browser()
    _sign_in_with_second_factor(client, user)
    verified_key = client.session.session_key
    assert verified_key != password_key
    row = UserSession.objects.get(user=user)
    assert binding.store_keys_of(row) == [verified_key]
    row.delete()
    assert not _store_has(verified_key)
    assert not _is_signed_in(client)


def test_rotated_session_can_still_be_ended_by_a_row_loaded_before():
    """A row instance loaded before the rotation still ends the new key."""
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    before = client.session.session_key
    stale = UserSession.objects.get(user=user)
    privileges_changed(user)
    assert _is_signed_in(client)
    after = client.session.session_key
    assert after != before
    assert not _store_has(before)
    assert binding.store_keys_of(UserSession.objects.get(user=user)) == [after]
    stale.delete()
    assert not _store_has(after)
    assert not _is_signed_in(client)


def test_privilege_change_marks_the_store_entry_and_rotates_without_a_row_read():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    client.get("/auth/devices/")
    before = client.session.session_key
    privileges_changed(user)
    assert _store()(before)[binding.ROTATE_KEY] is True
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/auth/devices/").status_code == 200
    after = client.session.session_key
    assert after != before
    assert binding.ROTATE_KEY not in client.session
    first = _usersession_queries(queries)[0]
    assert first.split()[0] == "SELECT"
    row = UserSession.objects.get(user=user)
    assert row.rotate_pending is False
    assert binding.store_keys_of(row) == [after]


def test_rotation_marked_only_in_the_row_happens_when_the_session_is_saved():
    """A concurrent save can overwrite the mark in the store; the row has it."""
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    before = client.session.session_key
    UserSession.objects.filter(user=user).update(rotate_pending=True)
    _session_value(client, binding.SEEN_KEY, int(time.time()) - 120)
    assert _is_signed_in(client)
    assert client.session.session_key != before
    row = UserSession.objects.get(user=user)
    assert row.rotate_pending is False
    assert binding.store_keys_of(row) == [client.session.session_key]


def _legacy(client: Client) -> None:
    """Make the client's session one started before rows held store keys."""
    session = client.session
    del session[binding.BINDING_KEY]
    session.save()
    sid = session[binding.SID_KEY]
    UserSession.objects.filter(sid_hash=binding.sid_hash(sid)).update(
        sealed_store_key=""
    )


def test_older_session_reads_its_row_once_and_is_then_bound():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    client.get("/auth/devices/")
    _legacy(client)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/auth/devices/").status_code == 200
    assert _usersession_queries(queries)
    key = client.session.session_key
    row = UserSession.objects.get(user=user)
    assert binding.store_keys_of(row) == [key]
    assert binding.is_bound(client.session, client.session[binding.SID_KEY], user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/auth/devices/").status_code == 200
    assert _usersession_queries(queries) == []
    row.delete()
    assert not _store_has(key)
    assert not _is_signed_in(client)


def test_older_session_whose_row_is_gone_is_ended_on_its_next_request(caplog):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    _legacy(client)
    key = client.session.session_key
    UserSession.objects.filter(user=user).delete()
    assert _store_has(key)
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        assert not _is_signed_in(client)
    causes = [
        r.hardened_audit["cause"]
        for r in caplog.records
        if r.getMessage() == "session_expired"
    ]
    assert causes == ["revoked"]
    assert not _store_has(key)


def test_older_session_with_a_pending_rotation_rotates_and_is_bound():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    _legacy(client)
    before = client.session.session_key
    UserSession.objects.filter(user=user).update(rotate_pending=True)
    assert _is_signed_in(client)
    after = client.session.session_key
    assert after != before
    row = UserSession.objects.get(user=user)
    assert (row.rotate_pending, binding.store_keys_of(row)) == (False, [after])


def test_binding_digest_covers_key_session_id_and_owner():
    digest = binding.binding_digest("k" * 32, "sid", 7)
    assert len(digest) == binding.BINDING_DIGEST_LENGTH
    assert binding.binding_digest("k" * 31 + "x", "sid", 7) != digest
    assert binding.binding_digest("k" * 32, "sie", 7) != digest
    assert binding.binding_digest("k" * 32, "sid", 8) != digest
    assert binding.binding_digest(None, "sid", 7) == ""


def test_bad_seal_does_not_stop_the_deletion_and_is_logged(caplog):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    key = client.session.session_key
    row = UserSession.objects.get(user=user)
    sealed = row.sealed_store_key
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    UserSession.objects.filter(pk=row.pk).update(sealed_store_key=flipped)
    with caplog.at_level(logging.ERROR, logger="hardened_auth.internal.sessions"):
        end_all_sessions(user)
    assert not UserSession.objects.filter(user=user).exists()
    [record] = [r for r in caplog.records if r.name == binding.logger.name]
    assert record.getMessage() == (
        f"the sealed store key of session row {row.pk} does not open"
    )
    assert key not in record.getMessage()
    assert _store_has(key)


def test_seal_copied_into_another_row_does_not_open_there(caplog):
    victim, other = _browser(FIREFOX), _browser(CHROME)
    _sign_in(victim, UserFactory())
    _sign_in(other, UserFactory())
    victim_row = UserSession.objects.get(device_label="Firefox on Linux")
    other_row = UserSession.objects.get(device_label="Chrome on Windows")
    UserSession.objects.filter(pk=other_row.pk).update(
        sealed_store_key=victim_row.sealed_store_key
    )
    with caplog.at_level(logging.ERROR, logger="hardened_auth.internal.sessions"):
        UserSession.objects.get(pk=other_row.pk).delete()
    assert "does not open" in caplog.text
    assert _is_signed_in(victim)


def test_changed_secret_key_opens_seals_with_its_fallback(settings):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    key = client.session.session_key
    _rotate_secret_key(settings, keep_old=True)
    assert binding.store_keys_of(UserSession.objects.get(user=user)) == [key]
    end_all_sessions(user)
    assert not _store_has(key)


def test_changed_secret_key_without_fallback_fails_closed(settings, caplog):
    """The row still goes, and the session no longer signs anyone in."""
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    _rotate_secret_key(settings, keep_old=False)
    with caplog.at_level(logging.ERROR, logger="hardened_auth.internal.sessions"):
        assert end_all_sessions(user) == 1
    assert "does not open" in caplog.text
    assert not UserSession.objects.filter(user=user).exists()
    assert not _is_signed_in(client)


@policy_exempt("a test view about the session, not about permissions")
def _change_session_after_the_row_went(request):
    """Stand in for another process ending the session while this one runs."""
    rows = UserSession.objects.filter(user=request.user)
    if request.GET.get("keep_entry"):
        rows.update(sealed_store_key="")
    rows.delete()
    request.session["hardened_auth_test.note"] = "written by the view"
    return HttpResponse("view ran")


urlpatterns = [
    path("race/", _change_session_after_the_row_went),
    *auth_urls.urlpatterns,
]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("keep_entry", [False, True])
def test_session_ended_while_its_request_runs_is_signed_out_not_saved(
    caplog, keep_entry
):
    """Whether or not its store entry went too, the session is not saved."""
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    key = client.session.session_key
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = client.get("/race/", {"keep_entry": "1"} if keep_entry else {})
    assert response.content == b"view ran"
    assert response.cookies["sessionid"].value == ""
    causes = [
        r.hardened_audit["cause"]
        for r in caplog.records
        if r.getMessage() == "session_expired"
    ]
    assert causes == ["revoked"]
    assert not _store_has(key)
    assert not _is_signed_in(client)


def test_signing_in_over_another_users_session_binds_the_new_key():
    """Django flushes the other user's session, so its key is made anew."""
    first, second = UserFactory(), UserFactory()
    client = _browser()
    _sign_in(client, first)
    first_key = client.session.session_key
    request = RequestFactory().get("/", HTTP_USER_AGENT=FIREFOX)
    request.session = _store()(first_key)
    request.user = first
    login(request, second, backend="django.contrib.auth.backends.ModelBackend")
    key = request.session.session_key
    assert key is not None
    assert key != first_key
    assert not _store_has(first_key)
    row = UserSession.objects.get(user=second)
    assert binding.store_keys_of(row) == [key]
    assert binding.is_bound(request.session, request.session[binding.SID_KEY], second)
    request.session.save()
    row.delete()
    assert not _store_has(key)


def _stored_sessions_of(user) -> list[str]:
    return [
        stored.session_key
        for stored in Session.objects.all()
        if stored.get_decoded().get("_auth_user_id") == str(user.pk)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_key_sealed_while_the_row_is_being_deleted_waits_and_is_signed_out(caplog):
    """Run on PostgreSQL: the deletion locks the row before it reads the key.

    The request rotates its key while another connection holds the row for
    deletion; its update of the row waits for the deletion, finds no row,
    and the request signs its new key out instead of keeping it.
    """
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    privileges_changed(user)
    row_pk = UserSession.objects.get(user=user).pk
    locked = threading.Event()

    def hold_the_row(sender, instance, **kwargs):
        locked.set()
        time.sleep(1.0)

    def delete_the_row():
        try:
            UserSession.objects.get(pk=row_pk).delete()
        finally:
            connection.close()

    pre_delete.connect(hold_the_row, sender=UserSession, dispatch_uid="hold_the_row")
    try:
        deleter = threading.Thread(target=delete_the_row)
        deleter.start()
        assert locked.wait(5)
        with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
            client.get("/auth/devices/")
        deleter.join()
    finally:
        pre_delete.disconnect(sender=UserSession, dispatch_uid="hold_the_row")
    causes = [
        r.hardened_audit["cause"]
        for r in caplog.records
        if r.getMessage() == "session_expired"
    ]
    assert causes == ["revoked"]
    assert not UserSession.objects.filter(pk=row_pk).exists()
    assert _stored_sessions_of(user) == []
    assert not _is_signed_in(client)


def _with_key(key: str) -> Client:
    """A browser that carries the session cookie ``key``."""
    client = _browser()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


CACHED_DB = "django.contrib.sessions.backends.cached_db"


def test_ending_a_session_deletes_its_entry_again_when_the_transaction_commits(
    settings, django_capture_on_commit_callbacks
):
    """An entry written back before the commit is deleted once it commits."""
    settings.SESSION_ENGINE = CACHED_DB
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    key = client.session.session_key
    assert key is not None
    data = _store()(key).load()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert end_all_sessions(user) == 1
        assert not _store_has(key)
        cache = caches[settings.SESSION_CACHE_ALIAS]
        cache.set(cached_db.KEY_PREFIX + key, data)
        assert _store_has(key)
    assert not _store_has(key)
    assert not _is_signed_in(_with_key(key))
    assert len(callbacks) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cached_db_entry_refilled_while_the_ending_transaction_runs_is_deleted(
    settings,
):
    """Run on PostgreSQL: a request during the transaction cannot keep the key.

    Until the transaction commits, another connection still reads the
    session's database row and ``cached_db`` writes it back into the cache;
    the deletion after the commit removes that entry too.
    """
    settings.SESSION_ENGINE = CACHED_DB
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    key = client.session.session_key
    assert key is not None
    during: list[bool] = []

    def concurrent_request() -> None:
        try:
            during.append(_is_signed_in(_with_key(key)))
        finally:
            connection.close()

    with transaction.atomic():
        assert end_all_sessions(user) == 1
        thread = threading.Thread(target=concurrent_request)
        thread.start()
        thread.join()
    assert during == [True]
    assert not UserSession.objects.filter(user=user).exists()
    assert not _store_has(key)
    assert not _is_signed_in(_with_key(key))


ALL_ENGINES = [*ENGINES, "django.contrib.sessions.backends.file"]


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("view ran")


def _loaded_request(key: str | None) -> HttpRequest:
    """A request of the signed-in session ``key``, its data read from the store.

    Requests loaded one after another stand in for requests of one browser
    that read the session at the same time.
    """
    assert key is not None, "the session has no store key"
    request = RequestFactory().get("/", HTTP_USER_AGENT=FIREFOX)
    request.COOKIES[settings.SESSION_COOKIE_NAME] = key
    SessionMiddleware(_view).process_request(request)
    assert isinstance(request.session.get(binding.SID_KEY), str)
    return request


def _finish(request: HttpRequest) -> HttpResponse:
    """Run the rest of the middleware and the view over a loaded request."""
    inner = AuthenticationMiddleware(SessionBindingMiddleware(_view))
    response = inner(request)
    assert isinstance(response, HttpResponse)
    return SessionMiddleware(_view).process_response(request, response)


def _rotate_twice_at_once(user, key: str | None) -> list[str]:
    """Rotate ``key`` in two requests that both read it; their new keys."""
    privileges_changed(user)
    first, second = _loaded_request(key), _loaded_request(key)
    _finish(first)
    _finish(second)
    keys = [first.session.session_key, second.session.session_key]
    assert None not in keys
    assert len({key, *keys}) == 3
    return [k for k in keys if k is not None]


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_keys_of_two_rotations_at_once_are_all_ended_with_the_session(settings, engine):
    """Each request that read the old key leaves a key; both are sealed."""
    settings.SESSION_ENGINE = engine
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    keys = _rotate_twice_at_once(user, client.session.session_key)
    assert all(_is_signed_in(_with_key(key)) for key in keys)
    assert end_all_sessions(user) == 1
    assert not any(_store_has(key) for key in keys)
    assert not any(_is_signed_in(_with_key(key)) for key in keys)


def test_row_seals_every_live_key_and_drops_dead_ones():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    keys = _rotate_twice_at_once(user, client.session.session_key)
    row = UserSession.objects.get(user=user)
    assert binding.store_keys_of(row) == keys
    assert all(key not in row.sealed_store_key for key in keys)
    privileges_changed(user)
    assert all(_store()(key)[binding.ROTATE_KEY] is True for key in keys)
    client = _with_key(keys[1])
    assert _is_signed_in(client)
    rotated = client.session.session_key
    assert rotated not in keys
    row = UserSession.objects.get(user=user)
    assert binding.store_keys_of(row) == [keys[0], rotated]


def test_seals_stay_bounded_and_keys_beyond_the_bound_are_ended(monkeypatch):
    monkeypatch.setattr(binding, "MAX_SEALS", 3)
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    made = []
    key = client.session.session_key
    for _ in range(5):
        made += _rotate_twice_at_once(user, key)
        key = made[-1]
    row = UserSession.objects.get(user=user)
    assert len(row.sealed_store_key.split()) == 3
    sealed = binding.store_keys_of(row)
    assert sealed[-1] == key
    assert [k for k in made if _store_has(k)] == sealed
    end_all_sessions(user)
    assert not any(_is_signed_in(_with_key(k)) for k in made)


def test_row_with_a_single_seal_of_an_older_release_ends_its_session():
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    key = client.session.session_key
    assert key is not None
    row = UserSession.objects.get(user=user)
    single = session_store.seal(key, row.sid_hash)
    UserSession.objects.filter(pk=row.pk).update(sealed_store_key=single)
    assert binding.store_keys_of(UserSession.objects.get(pk=row.pk)) == [key]
    end_all_sessions(user)
    assert not _store_has(key)
    assert not _is_signed_in(client)


def _another_entry() -> str:
    store = _store()()
    store[binding.SID_KEY] = "another request's entry"
    store.create()
    assert store.session_key is not None
    return str(store.session_key)


def test_seal_is_written_again_when_another_request_changed_the_seals(monkeypatch):
    """Seals another request added between the read and the update stay."""
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    row = UserSession.objects.get(user=user)
    other = _another_entry()
    other_seal = session_store.seal(other, row.sid_hash)
    entry_exists = session_store.entry_exists
    writes: list[str] = []

    def another_request_seals_first(key: str) -> bool:
        if not writes:
            text = UserSession.objects.get(pk=row.pk).sealed_store_key
            writes.append(f"{text} {other_seal}")
            UserSession.objects.filter(pk=row.pk).update(sealed_store_key=writes[0])
        return entry_exists(key)

    monkeypatch.setattr(session_store, "entry_exists", another_request_seals_first)
    privileges_changed(user)
    request = _loaded_request(client.session.session_key)
    _finish(request)
    row.refresh_from_db()
    assert binding.store_keys_of(row) == [other, request.session.session_key]
    assert row.sealed_store_key.split()[0] == other_seal


def test_session_whose_seals_keep_changing_is_signed_out(monkeypatch, caplog):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    row = UserSession.objects.get(user=user)
    other_seal = session_store.seal(_another_entry(), row.sid_hash)
    entry_exists = session_store.entry_exists

    def another_request_always_seals_first(key: str) -> bool:
        rows = UserSession.objects.filter(pk=row.pk)
        text = rows.get().sealed_store_key
        rows.update(sealed_store_key=f"{text} {other_seal}")
        return entry_exists(key)

    monkeypatch.setattr(
        session_store, "entry_exists", another_request_always_seals_first
    )
    privileges_changed(user)
    request = _loaded_request(client.session.session_key)
    with caplog.at_level(logging.INFO):
        response = _finish(request)
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
    assert f"the seals of session row {row.pk} kept changing; signed out" in [
        r.getMessage() for r in caplog.records
    ]
    causes = [
        r.hardened_audit["cause"]
        for r in caplog.records
        if r.getMessage() == "session_expired"
    ]
    assert causes == ["revoked"]
    assert not UserSession.objects.filter(pk=row.pk).exists()


def test_session_whose_row_goes_while_its_key_is_sealed_is_signed_out(monkeypatch):
    user = UserFactory()
    client = _browser()
    _sign_in(client, user)
    assert client.get("/auth/devices/").status_code == 200
    entry_exists = session_store.entry_exists

    def another_request_ends_the_session(key: str) -> bool:
        UserSession.objects.filter(user=user).delete()
        return entry_exists(key)

    monkeypatch.setattr(session_store, "entry_exists", another_request_ends_the_session)
    privileges_changed(user)
    request = _loaded_request(client.session.session_key)
    response = _finish(request)
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
    assert _stored_sessions_of(user) == []
