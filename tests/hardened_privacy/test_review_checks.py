import pytest
from django.test import override_settings

from hardened_privacy import checks


def ids(messages):
    return [m.id for m in messages]


def test_default_review_settings_pass():
    assert checks.check_review() == []


def test_valid_review_settings_pass():
    with override_settings(
        HARDENED_PRIVACY_REVIEW_MANIFEST="ci/reviews.json",
        HARDENED_PRIVACY_REVIEW_PATTERNS={"migration": ["**/migrations/*.py"]},
        HARDENED_PRIVACY_REVIEW_EXCLUDE=[],
    ):
        assert checks.check_review() == []


@pytest.mark.parametrize("value", ["", "   ", None, 3])
def test_invalid_manifest_fails(value):
    with override_settings(HARDENED_PRIVACY_REVIEW_MANIFEST=value):
        messages = checks.check_review()
    assert ids(messages) == ["hardened_privacy.E070"]
    assert messages[0].msg == checks.E070_MSG


@pytest.mark.parametrize(
    "value",
    [{}, [], {"migration": []}, {"migration": "**/*.py"}, {"": ["*.py"]}, {"a": [""]}],
)
def test_invalid_patterns_fail(value):
    with override_settings(HARDENED_PRIVACY_REVIEW_PATTERNS=value):
        messages = checks.check_review()
    assert ids(messages) == ["hardened_privacy.E071"]
    assert messages[0].msg == checks.E071_MSG


@pytest.mark.parametrize("value", ["build/**", [3], [""]])
def test_invalid_exclude_fails(value):
    with override_settings(HARDENED_PRIVACY_REVIEW_EXCLUDE=value):
        messages = checks.check_review()
    assert ids(messages) == ["hardened_privacy.E072"]
    assert messages[0].msg == checks.E072_MSG


@pytest.mark.parametrize("value", [{}, {"auth_gate": [r"@login_required\b"]}])
def test_valid_markers_pass(value):
    with override_settings(HARDENED_PRIVACY_REVIEW_MARKERS=value):
        assert checks.check_review() == []


@pytest.mark.parametrize(
    "value", [[], {"a": []}, {"a": "x"}, {"": ["x"]}, {"a": ["("]}, {"a": [3]}]
)
def test_invalid_markers_fail(value):
    with override_settings(HARDENED_PRIVACY_REVIEW_MARKERS=value):
        messages = checks.check_review()
    assert ids(messages) == ["hardened_privacy.E073"]
    assert messages[0].msg == checks.E073_MSG
