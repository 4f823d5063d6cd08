import pytest
from django.test import override_settings

from hardened_privacy import checks


def ids(messages):
    return [m.id for m in messages]


def test_default_egress_settings_pass():
    assert checks.check_egress() == []
    assert checks.check_egress_schemes() == []


def test_valid_egress_settings_pass():
    with override_settings(
        HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS=[
            "api.example.com",
            "*.example.org:8443",
            "[2606:4700::1111]",
            "93.184.216.34:443",
        ],
        HARDENED_PRIVACY_EGRESS_PROXY="http://user:secret@proxy.internal:3128",
        HARDENED_PRIVACY_EGRESS_TIMEOUT=2.5,
        HARDENED_PRIVACY_EGRESS_MAX_RESPONSE_BYTES=1024,
        HARDENED_PRIVACY_EGRESS_MAX_REDIRECTS=0,
    ):
        assert checks.check_egress() == []


@pytest.mark.parametrize(
    "hosts",
    ["api.example.com", ["bad host"], ["api.example.com:99999"], ["x:y"], [""], [3]],
)
def test_malformed_allowed_hosts_fail(hosts):
    with override_settings(HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS=hosts):
        messages = checks.check_egress()
    assert ids(messages) == ["hardened_privacy.E050"]
    assert messages[0].msg == checks.E050_MSG


@pytest.mark.parametrize("schemes", [[], ["ftp"], "https", ["https", "file"]])
def test_malformed_schemes_fail(schemes):
    with override_settings(HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES=schemes):
        messages = checks.check_egress()
    assert ids(messages) == ["hardened_privacy.E051"]
    assert messages[0].msg == checks.E051_MSG


def test_plain_http_warns_at_deploy():
    with override_settings(HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES=["https", "http"]):
        messages = checks.check_egress_schemes()
    assert ids(messages) == ["hardened_privacy.W052"]
    assert messages[0].msg == checks.W052_MSG


@pytest.mark.parametrize("proxy", ["https://p:1", "http://u@p:1", "p", 5])
def test_malformed_proxy_fails(proxy):
    with override_settings(HARDENED_PRIVACY_EGRESS_PROXY=proxy):
        messages = checks.check_egress()
    assert ids(messages) == ["hardened_privacy.E053"]
    assert messages[0].msg == checks.E053_MSG


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TIMEOUT", 0),
        ("TIMEOUT", "10"),
        ("MAX_RESPONSE_BYTES", -1),
        ("MAX_RESPONSE_BYTES", 1.5),
        ("MAX_REDIRECTS", -1),
        ("MAX_REDIRECTS", True),
        ("MAX_REDIRECTS", False),
    ],
)
def test_invalid_caps_fail(name, value):
    with override_settings(**{f"HARDENED_PRIVACY_EGRESS_{name}": value}):
        messages = checks.check_egress()
    assert ids(messages) == ["hardened_privacy.E054"]
    assert messages[0].msg == checks.E054_MSG


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.5:8080", "[::1]", "169.254.169.254", "[fd00::1]"]
)
def test_internal_address_literal_warns(host):
    with override_settings(HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS=["ok.test", host]):
        messages = checks.check_egress()
    assert ids(messages) == ["hardened_privacy.W055"]
    assert messages[0].msg == checks.W055_MSG
