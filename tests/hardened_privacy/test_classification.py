import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from hardened_privacy import checks, classification
from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from tests.hardened_privacy.testapp.models import Patient, PlainPatient


@pytest.fixture(autouse=True)
def clean_registry():
    saved = {k: dict(v) for k, v in classification._registry.items()}
    yield
    classification._registry.clear()
    classification._registry.update(saved)
    classification._cache.clear()


def level(model, name):
    found = classification.classify(model, name)
    assert found is not None
    return found.level


def test_builtin_and_encrypted_defaults():
    user = get_user_model()
    assert level(user, "password") == "secret"
    assert level(user, "email") == "personal"
    assert level(Patient, "note") == "personal"
    assert level(Patient, "email_index") == "internal"
    assert classification.classify(PlainPatient, "note") is None


def test_settings_win_over_registrations():
    classification.register(PlainPatient, {"note": "internal"})
    assert level(PlainPatient, "note") == "internal"
    setting = {"hardened_privacy_tests.PlainPatient": {"note": {"level": "secret"}}}
    with override_settings(HARDENED_PRIVACY_CLASSIFICATION=setting):
        assert level(PlainPatient, "note") == "secret"


def test_retention_is_recorded():
    classification.register(
        "hardened_privacy_tests.plainpatient",
        {"born": {"level": "personal", "retention": 365}},
    )
    found = classification.classify(PlainPatient, "born")
    assert found is not None
    assert (found.level, found.retention_days) == ("personal", 365)


@pytest.mark.parametrize("value", ["top-secret", 3, {"level": "nope"}])
def test_unknown_levels_are_refused(value):
    with pytest.raises(HardenedPrivacyConfigurationError):
        classification.register(PlainPatient, {"note": value})


def test_check_lists_unclassified_fields():
    messages = checks.check_classification()
    assert [m.id for m in messages] == ["hardened_privacy.W002"]
    assert messages[0].msg == checks.W002_MSG
    assert "hardened_privacy_tests.PlainPatient.note" in str(messages[0].hint)
    assert "auth.User.email" not in str(messages[0].hint)


def test_check_passes_when_everything_is_classified():
    for label in classification.unclassified_fields():
        app_model, field = label.rsplit(".", 1)
        classification.register(app_model, {field: "internal"})
    assert checks.check_classification() == []


def test_personal_field_names_feed_masking():
    classification.register(PlainPatient, {"born": "personal"})
    assert "born" in classification.sensitive_field_names()


SHIPPED_APPS = {
    "hardened_auth",
    "hardened_rbac",
    "hardened_payments",
    "hardened_privacy",
    "account",
    "socialaccount",
    "django_otp_webauthn",
    "guardian",
}


def test_every_field_of_the_shipped_apps_and_their_libraries_is_classified():
    from django.apps import apps as registry

    from hardened_privacy.classification import classified_fields

    missing = [
        f"{model._meta.label}.{name}"
        for model in registry.get_models()
        if model._meta.app_label in SHIPPED_APPS
        for name, found in classified_fields(model).items()
        if found is None
    ]
    assert missing == []
