import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SECRET_LOOKING = "p" * 5000


def _events(caplog, name="input_validation_fail"):
    return [
        record.hardened_audit
        for record in caplog.records
        if record.name == "hardened_auth.audit" and record.getMessage() == name
    ]


@pytest.mark.parametrize(
    ("path", "data", "form", "fields"),
    [
        (
            "/accounts/login/",
            {"login": "a" * 5000 + "@example.com", "password": "x"},
            "LoginForm",
            ["login"],
        ),
        (
            "/accounts/login/",
            {"login": "someone@example.com", "password": SECRET_LOOKING},
            "LoginForm",
            ["password"],
        ),
        (
            "/accounts/password/reset/",
            {"email": "a" * 400 + "@example.com"},
            "ResetPasswordForm",
            ["email"],
        ),
        (
            "/accounts/login/",
            {"login": "nul\x00byte@example.com", "password": "x"},
            "LoginForm",
            ["login"],
        ),
    ],
)
def test_hostile_fields_are_refused_and_audited_without_their_values(
    caplog, path, data, form, fields
):
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        response = Client(REMOTE_ADDR="203.0.113.40").post(path, data)
    assert response.status_code == 200
    [event] = _events(caplog)
    assert event["form"] == form
    assert event["fields"] == fields
    assert event["outcome"] == "failure"
    assert event["ip"] == "203.0.113.40"
    assert SECRET_LOOKING not in caplog.text
    assert "a" * 400 not in caplog.text


def test_ordinary_mistakes_are_not_input_validation_failures(caplog):
    with caplog.at_level(logging.INFO, logger="hardened_auth.audit"):
        Client().post("/accounts/login/", {"login": "nobody", "password": "wrong"})
        Client().post("/accounts/password/reset/", {"email": "not an address"})
    assert _events(caplog) == []
