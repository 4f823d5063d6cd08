from django.apps import AppConfig
from django.core import checks


class HardenedPrivacyConfig(AppConfig):
    name = "hardened_privacy"
    label = "hardened_privacy"
    verbose_name = "Hardened privacy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hardened_privacy import checks as privacy_checks

        checks.register(privacy_checks.check_environment, checks.Tags.security)
