"""Bring the sandbox up from nothing: migrate, seed the scenarios, print logins.

After the core tenants and users, each dotted path in ``SANDBOX_SEEDERS`` is
called with the tenants, the users and the command's output, so a scenario app
seeds its own data and prints what a visitor needs to try it.
"""

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.module_loading import import_string

from demo.models import Post
from hardened_rbac.models import Membership, Tenant
from hardened_rbac.tenancy import use_tenant

TENANTS = {
    "acme": "Acme Cooperative",
    "globex": "Globex Guild",
}

USERS: dict[str, dict[str, Any]] = {
    "admin": {"tenants": ["acme", "globex"], "superuser": True},
    "alice": {"tenants": ["acme"], "superuser": False},
    "bob": {"tenants": ["globex"], "superuser": False},
    "carol": {"tenants": ["acme", "globex"], "superuser": False},
}

POSTS = {
    "alice": ["Welcome to Acme's feed.", "Quarterly meeting on Friday."],
    "bob": ["Globex Guild opens its doors."],
    "carol": ["Glad to be in both communities."],
}


class Command(BaseCommand):
    help = "Migrate the database, seed the demo tenants and print how to sign in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-migrate",
            action="store_true",
            help="Seed an already migrated database.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["skip_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write("Database migrated.")

        passwords = self._seed()

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            "Sign in at http://127.0.0.1:8000/accounts/login/ with a password below,"
        )
        self.stdout.write("then give that user's second factor printed above:")
        for username, password in passwords.items():
            tenants = ", ".join(USERS[username]["tenants"])
            email = f"{username}@example.com"
            self.stdout.write(
                f"  {username:<6} {email:<20} {password}   tenants: {tenants}"
            )
        self.stdout.write("These passwords are new on every run; demo use only.")

    @transaction.atomic
    def _seed(self) -> dict[str, str]:
        user_model = get_user_model()
        tenants = {
            slug: Tenant.objects.update_or_create(slug=slug, defaults={"name": name})[0]
            for slug, name in TENANTS.items()
        }

        passwords: dict[str, str] = {}
        for username, spec in USERS.items():
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = spec["superuser"]
            passwords[username] = secrets.token_urlsafe(12)
            user.set_password(passwords[username])
            user.save()
            EmailAddress.objects.update_or_create(
                user=user,
                email=user.email,
                defaults={"verified": True, "primary": True},
            )
            for slug in spec["tenants"]:
                Membership.objects.get_or_create(tenant=tenants[slug], user=user)

        for username, bodies in POSTS.items():
            author = user_model.objects.get(username=username)
            tenant = tenants[USERS[username]["tenants"][0]]
            with use_tenant(tenant):
                for body in bodies:
                    Post.objects.get_or_create(author=author, body=body)

        users = {name: user_model.objects.get(username=name) for name in USERS}
        for path in getattr(settings, "SANDBOX_SEEDERS", []):
            import_string(path)(tenants=tenants, users=users, stdout=self.stdout)
        return passwords
