"""Seed the Enterprise SSO scenario: Initech signs in through its provider.

Called by ``manage.py sandbox_demo`` (``SANDBOX_SEEDERS``). Creates the
``initech`` tenant, two roles, the mapping from Initech's provider groups to
those roles, and a fresh SCIM token, then prints how to point the sandbox at
a provider and how to deprovision a user.
"""

from typing import Any

from django.contrib.auth.models import Permission

from enterprise.oidc import ENVIRONMENT_VARIABLES, PROVIDER_ID
from hardened_rbac.internal.scim_tokens import create_token
from hardened_rbac.models import Role, ScimToken, SsoGroupRole, Tenant

TENANT_SLUG = "initech"
TENANT_NAME = "Initech"
SCIM_TOKEN_NAME = "Initech SSO (sandbox demo)"

ROLES: dict[str, tuple[str, list[str]]] = {
    "Engineer": ("Writes posts in Initech's feed.", ["view_post", "add_post"]),
    "Manager": (
        "Writes and moderates posts in Initech's feed.",
        ["view_post", "add_post", "change_post", "delete_post"],
    ),
}
GROUP_ROLES = {"engineering": "Engineer", "managers": "Manager"}


def seed(*, tenants: dict[str, Any], users: dict[str, Any], stdout: Any) -> str:
    """Create or refresh Initech; return the new SCIM token (demo use only)."""
    tenant, _ = Tenant.objects.update_or_create(
        slug=TENANT_SLUG, defaults={"name": TENANT_NAME}
    )
    tenants[TENANT_SLUG] = tenant

    roles: dict[str, Role] = {}
    for name, (description, codenames) in ROLES.items():
        role, _ = Role.objects.update_or_create(
            tenant=tenant, name=name, defaults={"description": description}
        )
        role.permissions.set(
            Permission.objects.filter(
                content_type__app_label="demo", codename__in=codenames
            )
        )
        roles[name] = role
    for group, role_name in GROUP_ROLES.items():
        SsoGroupRole.objects.get_or_create(
            tenant=tenant, provider=PROVIDER_ID, group=group, role=roles[role_name]
        )

    for old in ScimToken.objects.filter(
        tenant=tenant, name=SCIM_TOKEN_NAME, revoked_at__isnull=True
    ):
        from hardened_rbac.internal.scim_tokens import revoke_token

        revoke_token(old)
    _, token = create_token(tenant, SCIM_TOKEN_NAME)

    _print_instructions(stdout, token)
    return token


def _print_instructions(stdout: Any, token: str) -> None:
    issuer, client_id, secret = ENVIRONMENT_VARIABLES
    callback = f"http://127.0.0.1:8000/accounts/oidc/{PROVIDER_ID}/login/callback/"
    scim = "http://127.0.0.1:8000/scim/v2"
    lines = [
        "",
        "Enterprise SSO (tenant 'initech'):",
        "  Register a confidential OpenID Connect client at your provider with",
        f"  exactly this redirect URI: {callback}",
        "  authorization code flow, PKCE (S256) required, scopes",
        "  'openid email profile groups', and a 'groups' claim. Then restart with",
        f"    {issuer}=https://idp.example.com/realms/initech \\",
        f"    {client_id}=<client id> {secret}=<client secret> \\",
        "    python3 dev.py sandbox",
        "  and choose 'Initech SSO' on the sign-in page. Provider groups map to",
        "  roles in initech: "
        + ", ".join(f"{group} -> {role}" for group, role in GROUP_ROLES.items())
        + ".",
        f"  SCIM token for initech (new on every run; demo use only): {token}",
        "  Provision a user before their first sign-in:",
        f"    curl -s -X POST {scim}/Users -H 'Authorization: Bearer {token}' \\",
        "      -H 'Content-Type: application/scim+json' \\",
        '      -d \'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],'
        ' "userName": "peter@initech.example", "emails": [{"value":'
        ' "peter@initech.example", "primary": true}], "active": true}\'',
        "  Deprovision them; their open sessions end at once (the id is the",
        "  'id' the POST answered with):",
        f"    curl -s -X DELETE {scim}/Users/<id> -H 'Authorization: Bearer {token}'",
        "  Admin changes are audit-logged; verify the chain in the admin under",
        "  Hardened privacy > Audit records > Verify chains.",
    ]
    for line in lines:
        stdout.write(line)
