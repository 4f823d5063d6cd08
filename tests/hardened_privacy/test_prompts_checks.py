import pytest
from django.test import override_settings

from hardened_privacy import checks


def test_no_prompt_dirs_pass():
    assert checks.check_prompt_dirs() == []


def test_existing_prompt_dirs_pass(tmp_path):
    with override_settings(HARDENED_PRIVACY_PROMPT_DIRS=[str(tmp_path)]):
        assert checks.check_prompt_dirs() == []


@pytest.mark.parametrize("value", ["prompts", [3], ["/definitely/missing/prompts"]])
def test_invalid_prompt_dirs_fail(value):
    with override_settings(HARDENED_PRIVACY_PROMPT_DIRS=value):
        messages = checks.check_prompt_dirs()
    assert [m.id for m in messages] == ["hardened_privacy.E060"]
    assert messages[0].msg == checks.E060_MSG


@pytest.mark.parametrize("value", [True, False])
def test_boolean_require_lock_passes(value):
    with override_settings(HARDENED_PRIVACY_PROMPT_REQUIRE_LOCK=value):
        assert checks.check_prompt_dirs() == []


@pytest.mark.parametrize("value", ["no", 0, None])
def test_non_boolean_require_lock_fails(value):
    with override_settings(HARDENED_PRIVACY_PROMPT_REQUIRE_LOCK=value):
        messages = checks.check_prompt_dirs()
    assert [m.id for m in messages] == ["hardened_privacy.E061"]
    assert messages[0].msg == checks.E061_MSG
