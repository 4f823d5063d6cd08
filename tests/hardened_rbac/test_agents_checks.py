"""System checks for the agent gateway and route inventory settings."""

import pytest
from django.core.management import call_command

from hardened_rbac import agents, checks
from hardened_rbac.exceptions import HardenedRbacConfigurationError


def _ids(messages):
    return [(m.id, m.msg) for m in messages]


def test_agent_gateway_defaults_pass():
    assert checks.check_agent_gateway() == []


@pytest.mark.parametrize(
    ("overrides", "expected_id", "expected_msg"),
    [
        ({"HARDENED_RBAC_AGENT_MAX_ARGUMENT_BYTES": 0}, "E050", checks.E050_MSG),
        ({"HARDENED_RBAC_AGENT_MAX_ARGUMENT_BYTES": "8k"}, "E050", checks.E050_MSG),
        ({"HARDENED_RBAC_AGENT_MAX_ARGUMENT_BYTES": True}, "E050", checks.E050_MSG),
        ({"HARDENED_RBAC_AGENT_RATE_LIMIT_CACHE": "missing"}, "E051", checks.E051_MSG),
        ({"HARDENED_RBAC_AGENT_APPROVAL_TTL": -1}, "E052", checks.E052_MSG),
    ],
)
def test_agent_gateway_settings_fail(settings, overrides, expected_id, expected_msg):
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert _ids(checks.check_agent_gateway()) == [
        (f"hardened_rbac.{expected_id}", expected_msg)
    ]


def test_registered_tools_need_hardened_privacy(settings):
    agents.register_tool(
        "needs_privacy",
        lambda ctx: None,
        description="x",
        arguments={},
        side_effect="read",
        user_rate="1/m",
        tenant_rate="1/m",
    )
    try:
        assert checks.check_agent_gateway() == []
        settings.INSTALLED_APPS = [
            a for a in settings.INSTALLED_APPS if a != "hardened_privacy"
        ]
        assert _ids(checks.check_agent_gateway()) == [
            ("hardened_rbac.E054", checks.E054_MSG)
        ]
    finally:
        agents.unregister_tool("needs_privacy")


def test_public_routes_default_and_list_pass(settings):
    assert checks.check_public_routes() == []
    settings.HARDENED_RBAC_PUBLIC_ROUTES = ["account_login", "/healthz/"]
    assert checks.check_public_routes() == []


@pytest.mark.parametrize("value", ["account_login", [1], None])
def test_public_routes_must_be_a_list_of_strings(settings, value):
    settings.HARDENED_RBAC_PUBLIC_ROUTES = value
    assert _ids(checks.check_public_routes()) == [
        ("hardened_rbac.E053", checks.E053_MSG)
    ]
    with pytest.raises(HardenedRbacConfigurationError):
        call_command("hardened_rbac_routes")
