from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Sandbox demo"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from demo import agent_tools

        agent_tools.register()
