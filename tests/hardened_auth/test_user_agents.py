"""Coarse device labels: a browser family and a system, nothing else."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from hardened_auth.internal.user_agents import device_label, is_device_label
from hardened_auth.models import UserSession
from tests.factories import UserFactory

AGENTS = [
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Firefox on Linux",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "Chrome on Windows",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
        "Edge on Windows",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Safari on macOS",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        "Chrome on iOS",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
        "Firefox on iOS",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like "
        "Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "Samsung Internet on Android",
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
        "Opera on ChromeOS",
    ),
    ("curl/8.5.0", "Unknown browser on unknown system"),
    ("", "Unknown browser on unknown system"),
]


@pytest.mark.parametrize(("user_agent", "label"), AGENTS)
def test_label_names_the_browser_family_and_system(user_agent, label):
    assert device_label(user_agent) == label
    assert is_device_label(label)


def test_platform_hint_names_the_system():
    frozen = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36"
    assert device_label(frozen, '"Windows"') == "Chrome on Windows"
    assert device_label(frozen, '"Plan 9"') == "Chrome on Linux"


@pytest.mark.parametrize(
    "user_agent",
    [
        "Firefox/128.0 <script>alert(1)</script> me@example.com",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/1 " + "A" * 10_000,
        "Chrome/126 \u202eevil\u202c\x00",
    ],
)
def test_label_keeps_nothing_the_client_wrote(user_agent):
    label = device_label(user_agent)
    assert is_device_label(label)
    assert len(label) <= 40
    for fragment in ("<script>", "example.com", "126", "A" * 20, "\u202e", "\x00"):
        assert fragment not in label


@pytest.mark.parametrize(
    "value",
    ["Firefox/128.0", "Firefox on", "Netscape on Linux", "Firefox on Linux 6.1", ""],
)
def test_other_text_is_not_a_label(value):
    assert not is_device_label(value)


@pytest.mark.django_db
def test_migration_relabels_stored_user_agents():
    relabel = importlib.import_module(
        "hardened_auth.migrations.0004_relabel_session_devices"
    ).relabel
    user = UserFactory()
    raw, already, empty = (
        UserSession.objects.create(user=user, sid_hash=str(n) * 64, device_label=label)
        for n, label in enumerate([AGENTS[1][0][:120], "Firefox on Linux", ""])
    )
    relabel(apps, SimpleNamespace(connection=connection))
    for row, label in [
        (raw, "Chrome on Windows"),
        (already, "Firefox on Linux"),
        (empty, ""),
    ]:
        row.refresh_from_db()
        assert row.device_label == label
