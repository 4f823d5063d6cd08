import pytest
from django.test import override_settings

from hardened_privacy import checks


def test_default_environment_passes():
    assert checks.check_environment() == []


@pytest.mark.parametrize("name", ["", "Production", "prod env", "x" * 40])
def test_invalid_environment_fails(name):
    with override_settings(HARDENED_PRIVACY_ENVIRONMENT=name):
        messages = checks.check_environment()
    assert [m.id for m in messages] == ["hardened_privacy.E001"]
    assert messages[0].msg == checks.E001_MSG


ENV_PROVIDER = {"env": {"BACKEND": "hardened_privacy.keys.EnvironmentKeyProvider"}}
ONE_KEY = {"development/k1": {"PROVIDER": "env", "REFERENCE": "K1"}}


def ids(messages):
    return [m.id for m in messages]


def test_sandbox_key_configuration_passes():
    assert checks.check_keys() == []


@pytest.mark.parametrize(
    "providers",
    [[], {"env": "x"}, {"env": {"OPTIONS": {}}}, {"env": {"BACKEND": 1}}],
)
def test_malformed_providers_fail(providers):
    with override_settings(HARDENED_PRIVACY_KEY_PROVIDERS=providers):
        messages = checks.check_keys()
    assert ids(messages)[0] == "hardened_privacy.E002"
    assert messages[0].msg == checks.E002_MSG


@pytest.mark.parametrize(
    "keys",
    [
        [],
        {"no-slash": {"PROVIDER": "env", "REFERENCE": "K"}},
        {"development/k": {"PROVIDER": "missing", "REFERENCE": "K"}},
        {"development/k": {"PROVIDER": "env", "REFERENCE": ""}},
        {"development/k": "K"},
    ],
)
def test_malformed_keys_fail(keys):
    with override_settings(
        HARDENED_PRIVACY_KEY_PROVIDERS=ENV_PROVIDER, HARDENED_PRIVACY_KEYS=keys
    ):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E003"]
    assert messages[0].msg == checks.E003_MSG


def test_active_key_missing_from_keys_fails():
    with override_settings(
        HARDENED_PRIVACY_KEY_PROVIDERS=ENV_PROVIDER,
        HARDENED_PRIVACY_KEYS=ONE_KEY,
        HARDENED_PRIVACY_ACTIVE_KEY="development/k2",
    ):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E004"]
    assert messages[0].msg == checks.E004_MSG


def test_key_of_another_environment_fails():
    keys = {**ONE_KEY, "production/k9": {"PROVIDER": "env", "REFERENCE": "K9"}}
    with override_settings(
        HARDENED_PRIVACY_KEY_PROVIDERS=ENV_PROVIDER,
        HARDENED_PRIVACY_KEYS=keys,
        HARDENED_PRIVACY_ACTIVE_KEY="development/k1",
    ):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E005"]
    assert messages[0].msg == checks.E005_MSG
    assert "production/k9" in str(messages[0].hint)


def test_key_ids_follow_the_environment_setting():
    with override_settings(HARDENED_PRIVACY_ENVIRONMENT="staging"):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E005"]


def test_encrypted_models_without_active_key_fail():
    with override_settings(HARDENED_PRIVACY_ACTIVE_KEY=None):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E006"]
    assert messages[0].msg == checks.E006_MSG


def test_blind_indexes_without_their_key_fail():
    with override_settings(HARDENED_PRIVACY_BLIND_INDEX_KEY=None):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E015"]
    assert messages[0].msg == checks.E015_MSG
    assert "hardened_privacy_tests.Patient.email_index" in str(messages[0].hint)


def test_blind_index_key_is_not_needed_without_blind_indexes(monkeypatch):
    from django.apps import apps

    from tests.hardened_privacy.testapp.models import PlainPatient

    monkeypatch.setattr(apps, "get_models", lambda: [PlainPatient])
    with override_settings(
        HARDENED_PRIVACY_BLIND_INDEX_KEY=None, HARDENED_PRIVACY_ACTIVE_KEY=None
    ):
        assert checks.check_keys() == []


def test_blind_index_key_check_survives_malformed_keys():
    with override_settings(
        HARDENED_PRIVACY_KEYS=[], HARDENED_PRIVACY_BLIND_INDEX_KEY=None
    ):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E003", "hardened_privacy.E015"]


def test_audit_handler_without_audit_key_fails():
    with override_settings(HARDENED_PRIVACY_AUDIT_KEY=None):
        messages = checks.check_keys()
    assert ids(messages) == ["hardened_privacy.E016"]
    assert messages[0].msg == checks.E016_MSG
    assert "hardened_privacy.audit" in str(messages[0].hint)


def test_audit_handler_on_an_unlisted_logger_is_found():
    import logging

    from hardened_privacy.audit import AuditLogHandler

    handler = AuditLogHandler()
    logging.getLogger("hardened_checks_probe").addHandler(handler)
    try:
        with override_settings(HARDENED_PRIVACY_AUDIT_KEY=None, LOGGING={}):
            hint = str(checks.check_keys()[0].hint)
    finally:
        logging.getLogger("hardened_checks_probe").removeHandler(handler)
    assert "hardened_checks_probe" in hint


def test_audit_key_is_not_needed_without_an_audit_handler(monkeypatch):
    import logging

    from hardened_privacy.audit import AuditLogHandler

    for name in list(logging.Logger.manager.loggerDict):
        logger_ = logging.getLogger(name)
        kept = [h for h in logger_.handlers if not isinstance(h, AuditLogHandler)]
        monkeypatch.setattr(logger_, "handlers", kept)
    with override_settings(HARDENED_PRIVACY_AUDIT_KEY=None):
        assert checks.check_keys() == []
