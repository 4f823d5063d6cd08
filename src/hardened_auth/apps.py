from django.apps import AppConfig, apps
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.core import checks
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_save,
    pre_delete,
    pre_save,
)


class HardenedAuthConfig(AppConfig):
    name = "hardened_auth"
    label = "hardened_auth"
    verbose_name = "Hardened authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hardened_auth import checks as auth_checks
        from hardened_auth import signals as auth_signals
        from hardened_auth.models import UserSession

        user_model = get_user_model()
        user_logged_in.connect(auth_signals.session_started)
        user_logged_out.connect(auth_signals.session_ended)
        user_login_failed.connect(auth_signals.login_failed)
        pre_delete.connect(auth_signals.session_row_deleting, sender=UserSession)
        post_delete.connect(auth_signals.session_row_deleted, sender=UserSession)
        pre_save.connect(auth_signals.remember_privileges, sender=user_model)
        post_save.connect(auth_signals.compare_privileges, sender=user_model)
        for relation in ("groups", "user_permissions"):
            field = getattr(user_model, relation, None)
            if field is not None:
                m2m_changed.connect(auth_signals.groups_changed, sender=field.through)
        if apps.is_installed("allauth.account"):
            from allauth.account import signals as account_signals

            for signal in (
                account_signals.password_changed,
                account_signals.password_set,
                account_signals.password_reset,
            ):
                signal.connect(auth_signals.password_changed)

        checks.register(auth_checks.check_trusted_proxies, checks.Tags.security)
        checks.register(auth_checks.check_client_ip_header, checks.Tags.security)
        checks.register(auth_checks.check_step_up, checks.Tags.security)
        checks.register(auth_checks.check_password_hasher, checks.Tags.security)
        checks.register(auth_checks.check_rate_limits, checks.Tags.security)
        checks.register(auth_checks.check_second_factors, checks.Tags.security)
        checks.register(auth_checks.check_admin_site, checks.Tags.security)
        checks.register(auth_checks.check_sessions, checks.Tags.security)
        checks.register(auth_checks.check_tokens, checks.Tags.security)
        checks.register(auth_checks.check_velocity, checks.Tags.security)
        checks.register(auth_checks.check_oidc, checks.Tags.security)
        checks.register(auth_checks.check_synthetic, checks.Tags.security)
        checks.register(auth_checks.check_oidc_email_match, checks.Tags.security)
        checks.register(
            auth_checks.check_oidc_email_authentication, checks.Tags.security
        )
        checks.register(
            auth_checks.check_oidc_database_apps,
            checks.Tags.security,
            checks.Tags.database,
        )
        checks.register(
            auth_checks.check_oidc_transport, checks.Tags.security, deploy=True
        )
        if apps.is_installed("allauth.socialaccount"):
            from allauth.socialaccount.signals import pre_social_login

            from hardened_auth.internal.oidc_flow import verify_nonce
            from hardened_auth.social_adapter import email_match_confirmed

            pre_social_login.connect(verify_nonce, dispatch_uid="hardened_auth_nonce")
            pre_social_login.connect(
                email_match_confirmed, dispatch_uid="hardened_auth_email_match"
            )
