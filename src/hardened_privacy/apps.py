from django.apps import AppConfig
from django.core import checks
from django.core.signals import setting_changed


class HardenedPrivacyConfig(AppConfig):
    name = "hardened_privacy"
    label = "hardened_privacy"
    verbose_name = "Hardened privacy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hardened_privacy import checks as privacy_checks
        from hardened_privacy.classification import reset_cache
        from hardened_privacy.internal.keyring import reset_keyring

        checks.register(privacy_checks.check_environment, checks.Tags.security)
        checks.register(privacy_checks.check_keys, checks.Tags.security)
        checks.register(privacy_checks.check_privacy_settings, checks.Tags.security)
        checks.register(privacy_checks.check_retired_keys, checks.Tags.database)
        checks.register(privacy_checks.check_classification, checks.Tags.security)
        for deploy_check in (
            privacy_checks.check_debug_tools,
            privacy_checks.check_debug,
            privacy_checks.check_content_security_policy,
            privacy_checks.check_password_hasher_strength,
            privacy_checks.check_secret_key_fallbacks,
            privacy_checks.check_log_masking,
            privacy_checks.check_keys_in_source,
        ):
            checks.register(deploy_check, checks.Tags.security, deploy=True)
        checks.register(privacy_checks.check_egress, checks.Tags.security)
        checks.register(
            privacy_checks.check_egress_schemes, checks.Tags.security, deploy=True
        )
        checks.register(privacy_checks.check_prompt_dirs, checks.Tags.security)
        checks.register(privacy_checks.check_review, checks.Tags.security)
        setting_changed.connect(reset_keyring, dispatch_uid="hardened_privacy_keys")
        setting_changed.connect(
            reset_cache, dispatch_uid="hardened_privacy_classification"
        )
