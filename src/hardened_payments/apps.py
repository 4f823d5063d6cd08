from django.apps import AppConfig
from django.core import checks


class HardenedPaymentsConfig(AppConfig):
    name = "hardened_payments"
    label = "hardened_payments"
    verbose_name = "Hardened payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hardened_payments import checks as payments_checks

        for check in payments_checks.ALL_CHECKS:
            checks.register(check, checks.Tags.security)
