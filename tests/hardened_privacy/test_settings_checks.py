import datetime

import pytest
from django.test import override_settings

from hardened_privacy import checks

GOOD_SPEC = {"PROVIDER": "env", "REFERENCE": "X"}


def test_sandbox_settings_pass():
    assert checks.check_privacy_settings() == []


@pytest.mark.parametrize(
    ("settings", "code", "message"),
    [
        ({"HARDENED_PRIVACY_AUDIT_KEY": {"PROVIDER": "nope"}}, "E007", "E007_MSG"),
        ({"HARDENED_PRIVACY_BLIND_INDEX_KEY": "K"}, "E007", "E007_MSG"),
        (
            {"HARDENED_PRIVACY_LEGACY_DJANGO_CRYPTOGRAPHY": [{"SECRET_KEY": "x"}]},
            "E007",
            "E007_MSG",
        ),
        ({"HARDENED_PRIVACY_DATA_KEY_MAX_USES": 0}, "E008", "E008_MSG"),
        ({"HARDENED_PRIVACY_DATA_KEY_MAX_USES": 2**40}, "E008", "E008_MSG"),
        ({"HARDENED_PRIVACY_MASKED_NAMES": "ssn"}, "E009", "E009_MSG"),
        ({"HARDENED_PRIVACY_LOG_MAX_LENGTH": 10}, "E010", "E010_MSG"),
        (
            {"HARDENED_PRIVACY_CLASSIFICATION": {"auth.User": {"email": "hush"}}},
            "E011",
            "E011_MSG",
        ),
        (
            {"HARDENED_PRIVACY_CLASSIFICATION": {"no.Model": {"x": "public"}}},
            "E011",
            "E011_MSG",
        ),
        ({"HARDENED_PRIVACY_RETENTION_DAYS": {"personal": -1}}, "E012", "E012_MSG"),
        (
            {"HARDENED_PRIVACY_RETENTION_MODELS": {"auth.User": {"AGE_FIELD": "x"}}},
            "E012",
            "E012_MSG",
        ),
        (
            {
                "HARDENED_PRIVACY_RETENTION_MODELS": {
                    "auth.User": {"AGE_FIELD": "date_joined", "ACTION": "burn"}
                }
            },
            "E012",
            "E012_MSG",
        ),
        ({"HARDENED_PRIVACY_LEGAL_HOLD_MODELS": ["a"]}, "E013", "E013_MSG"),
        ({"HARDENED_PRIVACY_ERASURE_LEDGER": 3}, "E013", "E013_MSG"),
        ({"HARDENED_PRIVACY_SECRET_KEY_ROTATED_AT": "last week"}, "E014", "E014_MSG"),
        ({"HARDENED_PRIVACY_SECRET_KEY_FALLBACK_DAYS": 0}, "E014", "E014_MSG"),
    ],
)
def test_malformed_settings_fail(settings, code, message):
    with override_settings(**settings):
        messages = checks.check_privacy_settings()
    assert [m.id for m in messages] == [f"hardened_privacy.{code}"]
    assert messages[0].msg == getattr(checks, message)


def test_well_formed_settings_pass():
    with override_settings(
        HARDENED_PRIVACY_LEGACY_DJANGO_CRYPTOGRAPHY={"SECRET_KEY": GOOD_SPEC},
        HARDENED_PRIVACY_DATA_KEY_MAX_USES=1000,
        HARDENED_PRIVACY_MASKED_NAMES=["national_id"],
        HARDENED_PRIVACY_LOG_MAX_LENGTH=2048,
        HARDENED_PRIVACY_CLASSIFICATION={
            "auth.User": {"email": {"level": "personal", "retention": 30}}
        },
        HARDENED_PRIVACY_RETENTION_DAYS={"personal": 365, "secret": None},
        HARDENED_PRIVACY_RETENTION_MODELS={
            "auth.User": {"AGE_FIELD": "date_joined", "ACTION": "delete", "DAYS": 9}
        },
        HARDENED_PRIVACY_LEGAL_HOLD_MODELS={"auth.User": "reason"},
        HARDENED_PRIVACY_ERASURE_LEDGER="/var/lib/site/erasures.jsonl",
        HARDENED_PRIVACY_SECRET_KEY_ROTATED_AT=datetime.date(2026, 1, 1),
        HARDENED_PRIVACY_SECRET_KEY_FALLBACK_DAYS=14,
    ):
        assert checks.check_privacy_settings() == []
