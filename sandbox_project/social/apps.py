from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    label = "social"
    verbose_name = "Social launch scenario"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from social import policies  # noqa: F401
