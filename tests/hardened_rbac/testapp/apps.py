from django.apps import AppConfig


class RbacTestAppConfig(AppConfig):
    name = "tests.hardened_rbac.testapp"
    label = "rbac_testapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tests.hardened_rbac.testapp import policies  # noqa: F401
