from django.apps import AppConfig
from django.core import checks


class HardenedAuthConfig(AppConfig):
    name = "hardened_auth"
    label = "hardened_auth"
    verbose_name = "Hardened authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hardened_auth import checks as auth_checks

        checks.register(auth_checks.check_trusted_proxies, checks.Tags.security)
        checks.register(auth_checks.check_client_ip_header, checks.Tags.security)
        checks.register(auth_checks.check_step_up, checks.Tags.security)
        checks.register(auth_checks.check_password_hasher, checks.Tags.security)
        checks.register(auth_checks.check_rate_limits, checks.Tags.security)
        checks.register(auth_checks.check_second_factors, checks.Tags.security)
        checks.register(auth_checks.check_admin_site, checks.Tags.security)
