"""Seed the Enterprise SSO scenario: Initech signs in through its provider.

Called by ``manage.py sandbox_demo`` (``SANDBOX_SEEDERS``). Creates the
``initech`` tenant, two roles that grant the social app's permissions, the
mapping from Initech's provider groups to those roles, and a fresh SCIM
token; provisions Initech's people over SCIM, as Initech's provider would,
and gives the feed a post to moderate. With the demo provider on
(``SANDBOX_DEMO_IDP``) it also registers the sandbox as the provider's
client and gives each person a fresh password there. Then it prints how to
sign in, how to deprovision someone and where to verify the audit log.
"""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from social.models import Post, Visibility

from enterprise.idp_settings import (
    CLIENT_ID,
    DEFAULT_ISSUER,
    USERNAME_PREFIX,
    origins,
)
from enterprise.models import IdpPerson
from enterprise.oidc import ENVIRONMENT_VARIABLES, PROVIDER_ID
from hardened_rbac.internal.scim_tokens import create_token, revoke_token
from hardened_rbac.internal.scim_users import Attributes, create_user
from hardened_rbac.models import Role, ScimToken, ScimUser, SsoGroupRole, Tenant
from hardened_rbac.tenancy import use_tenant

TENANT_SLUG = "initech"
TENANT_NAME = "Initech"
SCIM_TOKEN_NAME = "Initech SSO (sandbox demo)"
CALLBACK_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/callback/"

ROLES: dict[str, tuple[str, list[str]]] = {
    "Engineer": (
        "Reads and writes posts in Initech's feed.",
        ["view_post", "add_post"],
    ),
    "Manager": (
        "Reads, writes and moderates posts in Initech's feed: may delete any.",
        ["view_post", "add_post", "change_post", "delete_post"],
    ),
}
GROUP_ROLES = {"engineers": "Engineer", "managers": "Manager"}

# (email, name, provider groups) of Initech's people.
PEOPLE: list[tuple[str, str, list[str]]] = [
    ("bill@initech.example", "Bill Lumbergh", ["managers"]),
    ("peter@initech.example", "Peter Gibbons", ["engineers"]),
    ("milton@initech.example", "Milton Waddams", ["engineers"]),
]
POST_AUTHOR = "milton@initech.example"
POST_BODY = "Has anyone seen my stapler? It was on my desk this morning."


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
                content_type__app_label="social", codename__in=codenames
            )
        )
        roles[name] = role
    SsoGroupRole.objects.filter(tenant=tenant, provider=PROVIDER_ID).exclude(
        group__in=GROUP_ROLES
    ).delete()
    for group, role_name in GROUP_ROLES.items():
        SsoGroupRole.objects.get_or_create(
            tenant=tenant, provider=PROVIDER_ID, group=group, role=roles[role_name]
        )

    for old in ScimToken.objects.filter(
        tenant=tenant, name=SCIM_TOKEN_NAME, revoked_at__isnull=True
    ):
        revoke_token(old)
    _, token = create_token(tenant, SCIM_TOKEN_NAME)

    scim_ids = {email: _provision(tenant, email, name) for email, name, _ in PEOPLE}
    author = ScimUser.objects.get(pk=scim_ids[POST_AUTHOR]).membership.user
    with use_tenant(tenant):
        Post.objects.get_or_create(
            author=author, body=POST_BODY, defaults={"visibility": Visibility.TENANT}
        )

    passwords = _seed_demo_provider() if settings.SANDBOX_DEMO_IDP else {}
    _print_instructions(stdout, token, scim_ids, passwords)
    return token


def _sites() -> list[str]:
    """The sandbox's origins, where the demo provider may send people back."""
    issuer = getattr(settings, "SANDBOX_DEMO_IDP_ISSUER", "") or DEFAULT_ISSUER
    return origins(issuer)


def _provision(tenant: Tenant, email: str, name: str) -> str:
    """The person's SCIM id, provisioning them first when they are not."""
    existing = ScimUser.objects.filter(tenant=tenant, user_name=email).first()
    if existing is not None:
        return str(existing.pk)
    given, _, family = name.partition(" ")
    created = create_user(
        tenant,
        Attributes(
            user_name=email,
            external_id="",
            given_name=given,
            family_name=family,
            email=email,
            active=True,
        ),
    )
    return str(created.pk)


def _seed_demo_provider() -> dict[str, str]:
    """Register the sandbox at the demo provider; return fresh passwords."""
    from oauth2_provider.models import Application

    app = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]
    callbacks = [site + CALLBACK_PATH for site in _sites()]
    Application.objects.filter(client_id=app["client_id"]).delete()
    Application.objects.create(
        name="Django-hardened sandbox",
        client_id=app["client_id"],
        client_secret=app["secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(callbacks),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )

    user_model = get_user_model()
    passwords: dict[str, str] = {}
    for email, name, groups in PEOPLE:
        account, _ = user_model.objects.get_or_create(
            username=USERNAME_PREFIX + email, defaults={"email": ""}
        )
        passwords[email] = secrets.token_urlsafe(12)
        account.set_password(passwords[email])
        account.save()
        IdpPerson.objects.update_or_create(
            user=account, defaults={"email": email, "name": name, "groups": groups}
        )
    return passwords


def _print_instructions(
    stdout: Any, token: str, scim_ids: dict[str, str], passwords: dict[str, str]
) -> None:
    site = _sites()[0]
    scim = f"{site}/scim/v2"
    lines = ["", f"Enterprise SSO (tenant '{TENANT_SLUG}'):"]
    if passwords:
        lines += [
            "  Initech's demo identity provider runs in the sandbox at",
            f"  {settings.SANDBOX_DEMO_IDP_ISSUER}/ (client '{CLIENT_ID}', PKCE S256).",
            "  On the sign-in page choose 'Initech SSO', then sign in at the",
            "  provider with one of these (new on every run; demo use only):",
        ]
        for email, _, groups in PEOPLE:
            role = ", ".join(GROUP_ROLES[group] for group in groups)
            lines.append(f"    {email:<24} {passwords[email]}   {role}")
    else:
        issuer, client_id, secret = ENVIRONMENT_VARIABLES
        lines += [
            f"  Initech signs in through the provider at ${issuer} (client",
            f"  ${client_id}, secret ${secret}); it must allow exactly the",
            f"  redirect URI {site}{CALLBACK_PATH}",
            "  and send a 'groups' claim with: " + ", ".join(GROUP_ROLES) + ".",
        ]
    lines += [
        "  Provider groups map to roles in initech: "
        + ", ".join(f"{group} -> {role}" for group, role in GROUP_ROLES.items())
        + ".",
        f"  In {site}/t/{TENANT_SLUG}/social/",
        "  a Manager may delete anyone's post, an Engineer only their own.",
        "  SCIM token for initech (new on every run; demo use only):",
        f"    {token}",
        "  SCIM ids of Initech's people:",
        *(f"    {email:<24} {scim_id}" for email, scim_id in scim_ids.items()),
        "  Deprovision someone; their open sessions end at once:",
        f"    curl -s -X DELETE {scim}/Users/{scim_ids[PEOPLE[0][0]]} \\",
        f"      -H 'Authorization: Bearer {token}'",
        "  Provision someone new before their first sign-in:",
        f"    curl -s -X POST {scim}/Users -H 'Authorization: Bearer {token}' \\",
        "      -H 'Content-Type: application/scim+json' \\",
        '      -d \'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],'
        ' "userName": "samir@initech.example", "emails": [{"value":'
        ' "samir@initech.example", "primary": true}], "active": true}\'',
        "  Admin changes are audit-logged; check the chains in the admin under",
        "  Hardened privacy > Audit records > Verify chains.",
    ]
    for line in lines:
        stdout.write(line)
