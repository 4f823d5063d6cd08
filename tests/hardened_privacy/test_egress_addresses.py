import ipaddress

import pytest

from hardened_privacy.exceptions import EgressHostNotAllowed
from hardened_privacy.internal.egress_addresses import parse_address, refusal_reason
from hardened_privacy.internal.egress_policy import (
    Target,
    host_allowed,
    normalise_host,
    parse_target,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "shared address space"),
        ("100.127.255.254", "shared address space"),
        ("169.254.0.1", "link-local"),
        ("169.254.169.254", "cloud metadata endpoint"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "private"),
        ("192.0.2.1", "private"),
        ("198.18.0.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "IPv4-mapped IPv6"),
        ("::ffff:8.8.8.8", "IPv4-mapped IPv6"),
        ("::ffff:169.254.169.254", "cloud metadata endpoint (embedded in IPv6)"),
        ("::127.0.0.1", "loopback (embedded in IPv6)"),
        ("::8.8.8.8", "IPv4-compatible IPv6"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "cloud metadata endpoint"),
        ("ff02::1", "multicast"),
        ("2002:7f00:1::", "loopback (embedded in IPv6)"),
        ("2002:c0a8:101::", "private (embedded in IPv6)"),
        ("2002:a9fe:a9fe::", "cloud metadata endpoint (embedded in IPv6)"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("64:ff9b::7f00:1", "loopback (embedded in IPv6)"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2001:db8::1", "private"),
    ],
)
def test_internal_addresses_are_refused_with_their_reason(address, reason):
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "2606:4700::1111",
        "2002:5db8:d822::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_pass(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_permitted_network_lets_an_internal_address_through():
    permitted = (ipaddress.ip_network("10.1.0.0/16"),)

    assert refusal_reason(ipaddress.ip_address("10.1.2.3"), permitted) is None
    assert refusal_reason(ipaddress.ip_address("10.2.0.1"), permitted) == "private"


def test_permitted_network_never_covers_metadata():
    permitted = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))

    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        assert "metadata" in str(
            refusal_reason(ipaddress.ip_address(address), permitted)
        )


def test_parse_address_drops_zone_and_rejects_names():
    assert parse_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_address("example.com") is None


@pytest.mark.parametrize(
    ("host", "normal"),
    [("API.Example.COM.", "api.example.com"), ("bücher.de", "xn--bcher-kva.de")],
)
def test_host_names_are_normalised(host, normal):
    assert normalise_host(host) == normal


@pytest.mark.parametrize(
    "host", ["exa mple.com", "-bad.com", "a..b", "x" * 64 + ".com"]
)
def test_invalid_host_names_are_refused(host):
    with pytest.raises(EgressHostNotAllowed):
        normalise_host(host)
    with pytest.raises(EgressHostNotAllowed):
        normalise_host(host)


def test_remembered_answers_stay_the_same():
    for _ in range(2):
        assert normalise_host("API.Example.COM.") == "api.example.com"
        assert parse_address("10.0.0.1") == ipaddress.ip_address("10.0.0.1")
        assert parse_address("api.example.com") is None
    assert normalise_host.cache_info().hits
    assert parse_address.cache_info().hits


def test_parse_target_keeps_path_and_query():
    target = parse_target("https://API.example.com/v1/x?a=1#frag", ["https"])

    assert target == Target("https", "api.example.com", 443, "/v1/x?a=1")
    assert target.url() == "https://api.example.com/v1/x?a=1"


def test_ipv6_target_url_is_bracketed():
    target = parse_target("https://[2606:4700::1111]:8443/", ["https"])

    assert target.url() == "https://[2606:4700::1111]:8443/"


@pytest.mark.parametrize(
    ("entries", "url", "allowed"),
    [
        (["api.example.com"], "https://api.example.com/", True),
        (["api.example.com"], "https://api.example.com:8443/", False),
        (["api.example.com:8443"], "https://api.example.com:8443/", True),
        (["*.example.com"], "https://a.b.example.com/", True),
        (["*.example.com"], "https://example.com/", False),
        (["*.example.com"], "https://evilexample.com/", False),
        (["example.com"], "https://example.com.evil.test/", False),
        (["[2606:4700::1111]"], "https://[2606:4700::1111]/", True),
        (["[2606:4700::1111]:8443"], "https://[2606:4700::1111]:8443/", True),
        (["Bücher.de"], "https://xn--bcher-kva.de/", True),
        ([], "https://api.example.com/", False),
    ],
)
def test_allowlist_matching(entries, url, allowed):
    assert host_allowed(parse_target(url, ["https"]), entries) is allowed
