from django.apps import AppConfig


class PrivacyTestAppConfig(AppConfig):
    name = "tests.hardened_privacy.testapp"
    label = "hardened_privacy_tests"
    default_auto_field = "django.db.models.BigAutoField"
