from django.apps import AppConfig
from django.core import checks


class HardenedRbacConfig(AppConfig):
    name = "hardened_rbac"
    label = "hardened_rbac"
    verbose_name = "Hardened access control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in
        from django.db.backends.signals import connection_created
        from django.db.models.signals import m2m_changed

        from hardened_rbac import checks as rbac_checks
        from hardened_rbac import tenancy
        from hardened_rbac.internal import invalidation, rls, signals, sso

        checks.register(rbac_checks.check_reserved_slugs, checks.Tags.security)
        checks.register(rbac_checks.check_tenant_source, checks.Tags.security)
        checks.register(rbac_checks.check_unscoped_models, checks.Tags.security)
        checks.register(rbac_checks.check_views_without_policy, checks.Tags.security)
        checks.register(rbac_checks.check_decision_cache, checks.Tags.security)
        checks.register(rbac_checks.check_action_links_and_limits, checks.Tags.security)
        checks.register(rbac_checks.check_sso, checks.Tags.security)
        checks.register(rbac_checks.check_auth_dependency, checks.Tags.security)
        checks.register(rbac_checks.check_agent_gateway, checks.Tags.security)
        checks.register(rbac_checks.check_public_routes, checks.Tags.security)
        checks.register(
            rbac_checks.check_rls_role, checks.Tags.security, checks.Tags.database
        )
        checks.register(
            rbac_checks.check_rls_link_tables,
            checks.Tags.security,
            checks.Tags.database,
        )
        checks.register(
            rbac_checks.check_rls_scoped_tables,
            checks.Tags.security,
            checks.Tags.database,
        )
        signals.connect()
        user_logged_in.connect(sso.on_user_logged_in, dispatch_uid="hardened_rbac_sso")
        invalidation.connect()
        connection_created.connect(rls.install, dispatch_uid="hardened_rbac_rls")
        m2m_changed.connect(
            tenancy.m2m_stays_in_tenant, dispatch_uid="hardened_rbac_m2m_tenant"
        )
