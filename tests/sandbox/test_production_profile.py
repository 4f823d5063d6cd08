"""The sandbox's production profile passes Django's deployment checks.

Each test starts ``manage.py check --deploy`` in a fresh process, because
the profile reads its secrets from the environment when it is imported.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox_project"
REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
)


def _environment(**overrides: str | None) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "STRIPE_", "HARDENED_"))
    }
    wanted: dict[str, str | None] = {
        "DJANGO_SETTINGS_MODULE": "sandbox.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "sandbox.example.com",
        "STRIPE_SECRET_KEY": "sk_test_production_profile",
        "STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        **overrides,
    }
    return inherited | {name: value for name, value in wanted.items() if value}


def _check_deploy(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=SANDBOX,
        env=_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_check_reports_no_issues():
    result = _check_deploy()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_secret_stops_the_process_and_names_it(name):
    result = _check_deploy(**{name: None})
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        "django.core.exceptions.ImproperlyConfigured: "
        f"The environment variable {name} must be set."
    )


def test_a_publishable_key_in_place_of_the_secret_key_fails_the_check():
    result = _check_deploy(STRIPE_SECRET_KEY="pk_test_production_profile")
    assert result.returncode == 1
    assert "(hardened_payments.E008)" in result.stderr
