from django.apps import AppConfig
from django.core import checks


class HardenedRbacConfig(AppConfig):
    name = "hardened_rbac"
    label = "hardened_rbac"
    verbose_name = "Hardened access control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hardened_rbac import checks as rbac_checks

        checks.register(rbac_checks.check_reserved_slugs, checks.Tags.security)
