from django.apps import AppConfig


class EnterpriseConfig(AppConfig):
    name = "enterprise"
    label = "enterprise"
    verbose_name = "Enterprise SSO scenario"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        from enterprise.audit import admin_action_logged

        post_save.connect(
            admin_action_logged, sender=LogEntry, dispatch_uid="enterprise_admin"
        )
