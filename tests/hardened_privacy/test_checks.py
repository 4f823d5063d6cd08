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
