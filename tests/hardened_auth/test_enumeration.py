"""Account flows answer alike whether or not the account exists."""

import logging
import re
import uuid

import pytest
from allauth.account.forms import EmailAwarePasswordResetTokenGenerator
from allauth.account.internal.flows.password_reset_by_code import (
    PASSWORD_RESET_VERIFICATION_SESSION_KEY,
)
from allauth.account.models import EmailAddress
from allauth.core import context
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from hardened_auth.adapter import AccountAdapter
from hardened_auth.hashers import HardenedArgon2PasswordHasher
from hardened_auth.internal.identifiers import NON_ASCII_LOCAL_PART
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 4 signup"
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"csrfToken": "[^"]+"')
# Fresh on every response, whatever the account: a new request id each time.
VARIABLE_HEADERS = {"Set-Cookie", "Expires", "Date", "X-Request-ID"}
EMAIL = re.compile(rb"[0-9a-f]{10}@example\.com")
INSERT = re.compile(r'^INSERT INTO "(\w+)"')
STATEMENT = re.compile(
    r'^(?:DECLARE .*? FOR )?(SELECT|INSERT|UPDATE|DELETE) (?:.*? FROM |INTO )?"(\w+)"'
)
RESET_MAIL = "account/email/password_reset_key_message.txt"
UNKNOWN_MAIL = "account/email/unknown_account_message.txt"
CODE_MAIL_PREFIX = "account/email/password_reset_code"
UNKNOWN_MAIL_PREFIX = "account/email/unknown_account"
CONFIRM_CODE_URL = "/accounts/password/reset/confirm/"
RESET_BY_CODE = override_settings(
    ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED=True,
    ROOT_URLCONF="tests.hardened_auth.reset_code_urls",
)


@pytest.fixture
def hash_calls(monkeypatch):
    calls: list[str] = []
    real_encode = HardenedArgon2PasswordHasher.encode
    real_verify = HardenedArgon2PasswordHasher.verify

    def encode(self, password, salt):
        calls.append("hash")
        return real_encode(self, password, salt)

    def verify(self, password, encoded):
        calls.append("hash")
        return real_verify(self, password, encoded)

    monkeypatch.setattr(HardenedArgon2PasswordHasher, "encode", encode)
    monkeypatch.setattr(HardenedArgon2PasswordHasher, "verify", verify)
    return calls


def _verified_user(email: str | None = None):
    user = UserFactory(email=email or f"{uuid.uuid4().hex[:10]}@example.com")
    EmailAddress.objects.create(
        user=user, email=user.email, verified=True, primary=True
    )
    return user


def _client() -> Client:
    value = uuid.uuid4().int
    return Client(REMOTE_ADDR=f"192.0.{value % 250}.{(value >> 8) % 250 + 1}")


def _missing_email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


def _shape(response):
    body = EMAIL.sub(b"EMAIL", CSRF.sub(b"CSRF", response.content))
    headers = {k: v for k, v in response.headers.items() if k not in VARIABLE_HEADERS}
    return response.status_code, headers, body


def _compare(existing, missing):
    """Same status, headers and body; the typed address masked, same length."""
    assert _shape(existing) == _shape(missing)


def test_login_wrong_password_and_missing_account_answer_alike(hash_calls):
    user = _verified_user()
    hash_calls.clear()
    existing = _client().post(
        "/accounts/login/", {"login": user.email, "password": "wrong password x"}
    )
    calls_existing = list(hash_calls)
    hash_calls.clear()
    missing = _client().post(
        "/accounts/login/", {"login": _missing_email(), "password": "wrong password x"}
    )
    assert existing.status_code == 200
    _compare(existing, missing)
    assert calls_existing == hash_calls == ["hash"]


def test_login_with_right_password_works():
    user = _verified_user()
    client = _client()
    response = client.post(
        "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_with_full_width_email_finds_the_account():
    user = _verified_user()
    full_width = "".join(
        chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in user.email
    )
    client = _client()
    response = client.post(
        "/accounts/login/", {"login": full_width.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def test_signup_with_taken_and_new_email_answer_alike(hash_calls):
    user = _verified_user()
    hash_calls.clear()
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    existing = _client().post("/accounts/signup/", {**data, "email": user.email})
    calls_existing = list(hash_calls)
    hash_calls.clear()
    new_email = _missing_email()
    missing = _client().post("/accounts/signup/", {**data, "email": new_email})
    assert existing.status_code == 302
    _compare(existing, missing)
    assert calls_existing == hash_calls == ["hash"]
    assert get_user_model().objects.filter(email=user.email).count() == 1
    assert get_user_model().objects.filter(email=new_email).count() == 1


def test_signup_with_taken_email_mails_the_owner():
    user = _verified_user()
    mail.outbox.clear()
    _client().post(
        "/accounts/signup/",
        {"email": user.email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert NEW_PASSWORD not in mail.outbox[0].body


def _signup_inserts(email: str) -> list[str]:
    data = {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    with CaptureQueriesContext(connection) as queries:
        _client().post("/accounts/signup/", data)
    found = (INSERT.match(query["sql"]) for query in queries.captured_queries)
    return [m.group(1) for m in found if m is not None]


def test_signup_with_taken_email_rehearses_a_new_signup_and_keeps_nothing():
    user = _verified_user()
    new = _signup_inserts(_missing_email())
    users, addresses = get_user_model().objects.count(), EmailAddress.objects.count()
    mail.outbox.clear()
    assert _signup_inserts(user.email) == new
    assert new == ["auth_user", "account_emailaddress", "django_session"]
    assert get_user_model().objects.count() == users
    assert EmailAddress.objects.count() == addresses
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_full_width_spelling_of_taken_email_does_not_create_a_second_account():
    user = _verified_user()
    local, domain = user.email.split("@")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in local.upper()) + "@" + domain
    response = _client().post(
        "/accounts/signup/",
        {"email": full_width, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert EmailAddress.objects.filter(email__iexact=user.email).count() == 1
    assert get_user_model().objects.count() == 1


def test_cyrillic_look_alike_local_part_is_refused():
    user = _verified_user("alice-" + uuid.uuid4().hex[:6] + "@example.com")
    look_alike = "\u0430" + user.email[1:]
    response = _client().post(
        "/accounts/signup/",
        {"email": look_alike, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert get_user_model().objects.count() == 1


def test_non_ascii_local_part_is_refused_by_the_adapter():
    with pytest.raises(ValidationError) as caught:
        AccountAdapter().clean_email("\u0430lice@example.com")
    assert caught.value.messages == [NON_ASCII_LOCAL_PART]


def test_look_alike_domain_is_stored_in_its_idna_form():
    response = _client().post(
        "/accounts/signup/",
        {
            "email": "bob@ex\u0430mple.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    [address] = EmailAddress.objects.all()
    assert address.email.startswith("bob@xn--")
    assert address.email.isascii()


def test_password_reset_answers_alike():
    user = _verified_user()
    existing = _client().post("/accounts/password/reset/", {"email": user.email})
    missing = _client().post("/accounts/password/reset/", {"email": _missing_email()})
    assert existing.status_code == 302
    _compare(existing, missing)


def _statements(queries: CaptureQueriesContext) -> list[tuple[str, str]]:
    found = (STATEMENT.match(query["sql"]) for query in queries.captured_queries)
    return [(m.group(1), m.group(2)) for m in found if m is not None]


def _reset(email: str) -> tuple[list[tuple[str, str]], set[str | None]]:
    """The data statements a reset runs and the templates it renders."""
    with CaptureQueriesContext(connection) as queries:
        response = _client().post("/accounts/password/reset/", {"email": email})
    assert response.status_code == 302
    return _statements(queries), {template.name for template in response.templates}


def test_password_reset_does_the_work_of_both_answers_and_sends_one_mail():
    user = _verified_user()
    missing_email = _missing_email()
    users, addresses = get_user_model().objects.count(), EmailAddress.objects.count()
    mail.outbox.clear()
    existing, existing_templates = _reset(user.email)
    missing, missing_templates = _reset(missing_email)
    # Both sign a token over the account's addresses; a missing address is
    # also looked up in the user table, which allauth does on its own.
    assert existing == [("SELECT", "account_emailaddress")] * 3
    assert sorted(missing) == sorted([*existing, ("SELECT", "auth_user")])
    assert {RESET_MAIL, UNKNOWN_MAIL} <= existing_templates
    assert {RESET_MAIL, UNKNOWN_MAIL} <= missing_templates
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([user.email], "[testserver] Password Reset Email"),
        ([missing_email], "[testserver] Unknown Account"),
    ]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    assert get_user_model().objects.count() == users
    assert EmailAddress.objects.count() == addresses


class _WritingTokenGenerator(EmailAwarePasswordResetTokenGenerator):
    def make_token(self, user) -> str:
        UserFactory()
        return str(super().make_token(user))


def test_a_rehearsed_reset_keeps_nothing_its_token_generator_writes_and_sends_nothing():
    request = RequestFactory().post("/accounts/password/reset/")
    users = get_user_model().objects.count()
    mail.outbox.clear()
    with context.request_context(request):
        AccountAdapter(request).rehearse_password_reset(
            request, _missing_email(), _WritingTokenGenerator()
        )
    assert get_user_model().objects.count() == users
    assert mail.outbox == []


@pytest.fixture
def rendered_mails(monkeypatch):
    """The template prefix of every account mail rendered, sent or not."""
    prefixes: list[str] = []
    real_render_mail = AccountAdapter.render_mail

    def render_mail(self, template_prefix, email, context, headers=None):
        prefixes.append(template_prefix)
        return real_render_mail(self, template_prefix, email, context, headers)

    monkeypatch.setattr(AccountAdapter, "render_mail", render_mail)
    return prefixes


@pytest.fixture
def generated_codes(monkeypatch):
    """Every password reset code generated, sent or not."""
    codes: list[str] = []
    real_generate = AccountAdapter.generate_password_reset_code

    def generate(self):
        codes.append(real_generate(self))
        return codes[-1]

    monkeypatch.setattr(AccountAdapter, "generate_password_reset_code", generate)
    return codes


def _cookies(response) -> dict[str, dict[str, str]]:
    """Each cookie a response sets, with its attributes but not its value."""
    return {
        name: {key: value for key, value in morsel.items() if key != "expires"}
        for name, morsel in response.cookies.items()
    }


def _reset_by_code(client: Client, email: str):
    """Ask for a reset code; the answer and the data statements it ran."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/accounts/password/reset/", {"email": email})
    return response, _statements(queries)


def _submit_code(client: Client, code: str):
    """Submit a code; the answer and the data statements it ran."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post(CONFIRM_CODE_URL, {"code": code})
    return response, _statements(queries)


@RESET_BY_CODE
def test_password_reset_by_code_answers_alike():
    user = _verified_user()
    existing_client, missing_client = _client(), _client()
    existing, _ = _reset_by_code(existing_client, user.email)
    missing, _ = _reset_by_code(missing_client, _missing_email())
    assert existing.status_code == 302
    assert existing["Location"] == CONFIRM_CODE_URL
    _compare(existing, missing)
    assert _cookies(existing) == _cookies(missing)
    assert set(_cookies(existing)) == {"sessionid"}
    existing = existing_client.get(CONFIRM_CODE_URL)
    missing = missing_client.get(CONFIRM_CODE_URL)
    assert existing.status_code == 200
    _compare(existing, missing)
    assert _cookies(existing) == _cookies(missing)


@RESET_BY_CODE
def test_password_reset_by_code_does_the_work_of_both_answers_and_sends_one_mail(
    rendered_mails, generated_codes
):
    user = _verified_user()
    missing_email = _missing_email()
    users, addresses = get_user_model().objects.count(), EmailAddress.objects.count()
    mail.outbox.clear()
    _existing, existing_statements = _reset_by_code(_client(), user.email)
    existing_mails, existing_codes = list(rendered_mails), len(generated_codes)
    rendered_mails.clear()
    generated_codes.clear()
    _missing, missing_statements = _reset_by_code(_client(), missing_email)
    # A missing address is also looked up in the user table, which allauth
    # does on its own.
    assert sorted(missing_statements) == sorted(
        [*existing_statements, ("SELECT", "auth_user")]
    )
    assert existing_mails == [UNKNOWN_MAIL_PREFIX, CODE_MAIL_PREFIX]
    assert rendered_mails == [CODE_MAIL_PREFIX, UNKNOWN_MAIL_PREFIX]
    assert existing_codes == len(generated_codes) == 1
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([user.email], "[testserver] Password Reset Code"),
        ([missing_email], "[testserver] Unknown Account"),
    ]
    assert get_user_model().objects.count() == users
    assert EmailAddress.objects.count() == addresses


@RESET_BY_CODE
@override_settings(ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS=False)
def test_password_reset_by_code_without_unknown_account_mail_renders_one_mail_each(
    rendered_mails, generated_codes
):
    user = _verified_user()
    mail.outbox.clear()
    _reset_by_code(_client(), user.email)
    existing_mails, existing_codes = list(rendered_mails), len(generated_codes)
    rendered_mails.clear()
    generated_codes.clear()
    _reset_by_code(_client(), _missing_email())
    assert existing_mails == rendered_mails == [CODE_MAIL_PREFIX]
    assert existing_codes == len(generated_codes) == 1
    assert [m.to for m in mail.outbox] == [[user.email]]


@RESET_BY_CODE
def test_wrong_reset_codes_answer_alike_up_to_the_last_attempt():
    user = _verified_user()
    existing_client, missing_client = _client(), _client()
    _reset_by_code(existing_client, user.email)
    _reset_by_code(missing_client, _missing_email())
    answers = []
    for _attempt in range(3):
        existing, existing_statements = _submit_code(existing_client, "WRONG-CODE")
        missing, missing_statements = _submit_code(missing_client, "WRONG-CODE")
        _compare(existing, missing)
        assert _cookies(existing) == _cookies(missing)
        # Both look up the account of the reset: the missing one a stand-in.
        assert existing_statements == missing_statements
        assert existing_statements.count(("SELECT", "auth_user")) == 1
        answers.append(existing.status_code)
    assert answers == [200, 200, 302]
    assert existing["Location"] == missing["Location"] == "/accounts/login/"


@RESET_BY_CODE
def test_code_reset_of_a_missing_account_accepts_no_code(generated_codes):
    client = _client()
    _reset_by_code(client, _missing_email())
    [rehearsed] = generated_codes
    state = client.session[PASSWORD_RESET_VERIFICATION_SESSION_KEY]
    assert "code" not in state
    assert get_user_model().objects.filter(pk=state["user_id"]).exists() is False
    response = client.post(CONFIRM_CODE_URL, {"code": rehearsed})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert mail.outbox[-1].subject == "[testserver] Unknown Account"


@RESET_BY_CODE
def test_code_reset_of_an_account_accepts_the_mailed_code(generated_codes):
    user = _verified_user()
    client = _client()
    _reset_by_code(client, user.email)
    [sent] = generated_codes
    state = client.session[PASSWORD_RESET_VERIFICATION_SESSION_KEY]
    assert state["user_id"] == str(user.pk)
    assert sent in mail.outbox[-1].body
    response = client.post(CONFIRM_CODE_URL, {"code": sent})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/complete/"


def test_email_change_to_a_taken_address_answers_alike():
    owner = _verified_user()
    user = _verified_user()
    client = _client()
    client.force_login(user)
    taken = client.post("/accounts/email/", {"email": owner.email, "action_add": ""})
    free = client.post(
        "/accounts/email/", {"email": _missing_email(), "action_add": ""}
    )
    assert taken.status_code == 302
    _compare(taken, free)
    assert EmailAddress.objects.filter(email=owner.email).get().user == owner


def test_oversized_login_fields_are_refused_without_hashing(hash_calls):
    response = _client().post(
        "/accounts/login/", {"login": "a" * 5000 + "@example.com", "password": "x"}
    )
    assert response.status_code == 200
    assert hash_calls == []
    response = _client().post(
        "/accounts/login/", {"login": _missing_email(), "password": "p" * 5000}
    )
    assert response.status_code == 200
    assert hash_calls == []


def test_sign_in_and_failure_are_audited_without_the_password(caplog):
    user = _verified_user()
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        _client().post(
            "/accounts/login/", {"login": user.email, "password": "hunter2-wrong"}
        )
        _client().post(
            "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
        )
    events = [r.getMessage() for r in caplog.records if r.name == "hardened_auth.audit"]
    assert events[0] == "authn_login_fail"
    assert "authn_login_success" in events
    success = next(r for r in caplog.records if r.getMessage() == "authn_login_success")
    assert success.hardened_audit["actor"] == str(user.pk)
    assert "hunter2-wrong" not in caplog.text
    assert DEFAULT_PASSWORD not in caplog.text
