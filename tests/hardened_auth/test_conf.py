from django.test import override_settings

from hardened_auth.conf import DEFAULT_VELOCITY_THRESHOLDS, app_settings


def test_unset_setting_reads_as_its_default():
    assert app_settings.VELOCITY_THRESHOLDS is DEFAULT_VELOCITY_THRESHOLDS
    assert app_settings.SESSION_IDLE_TIMEOUT == 30 * 60


def test_overridden_setting_is_read_again_and_restored():
    assert app_settings.SESSION_IDLE_TIMEOUT == 30 * 60
    with override_settings(HARDENED_AUTH_SESSION_IDLE_TIMEOUT=60):
        assert app_settings.SESSION_IDLE_TIMEOUT == 60
        with override_settings(HARDENED_AUTH_SESSION_IDLE_TIMEOUT=5):
            assert app_settings.SESSION_IDLE_TIMEOUT == 5
        assert app_settings.SESSION_IDLE_TIMEOUT == 60
    assert app_settings.SESSION_IDLE_TIMEOUT == 30 * 60


def test_pytest_settings_fixture_changes_are_seen(settings):
    assert app_settings.VELOCITY_WINDOW == 900
    settings.HARDENED_AUTH_VELOCITY_WINDOW = 120
    assert app_settings.VELOCITY_WINDOW == 120
    del settings.HARDENED_AUTH_VELOCITY_WINDOW
    assert app_settings.VELOCITY_WINDOW == 900


def test_values_read_are_kept_until_the_settings_change():
    assert app_settings.ALTCHA_TTL == 300
    assert app_settings._values["ALTCHA_TTL"] == 300
    with override_settings(HARDENED_AUTH_ALTCHA_TTL=30):
        assert app_settings.ALTCHA_TTL == 30
    assert app_settings.ALTCHA_TTL == 300
