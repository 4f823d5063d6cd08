from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Sandbox marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from market import policies, receivers

        policies.declare()
        receivers.connect()
