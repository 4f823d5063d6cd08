import pytest
from django.test import RequestFactory, override_settings

from hardened_auth.client_ip import get_client_ip

PROXIES = ["10.0.0.0/8", "2001:db8::/32"]


def _request(remote: str, forwarded: str | None = None, **extra: str):
    request = RequestFactory().get("/")
    request.META.update({"REMOTE_ADDR": remote, **extra})
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_direct_client_is_its_remote_address():
    assert get_client_ip(_request("203.0.113.9")) == "203.0.113.9"


def test_forwarded_header_from_untrusted_peer_is_ignored():
    request = _request("203.0.113.9", forwarded="198.51.100.1")
    assert get_client_ip(request) == "203.0.113.9"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_trusted_proxy_reports_the_client():
    request = _request("10.0.0.2", forwarded="198.51.100.1")
    assert get_client_ip(request) == "198.51.100.1"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_client_supplied_hops_left_of_the_proxy_are_ignored():
    """A client that sends its own X-Forwarded-For cannot pick its address."""
    request = _request("10.0.0.2", forwarded="1.2.3.4, 198.51.100.1")
    assert get_client_ip(request) == "198.51.100.1"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_chain_of_trusted_proxies_is_walked():
    request = _request("10.0.0.2", forwarded="198.51.100.1, 10.1.1.1, 10.2.2.2")
    assert get_client_ip(request) == "198.51.100.1"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_garbage_hop_stops_at_the_nearest_known_address():
    request = _request("10.0.0.2", forwarded="198.51.100.1, not-an-ip")
    assert get_client_ip(request) == "10.0.0.2"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_trusted_proxy_without_header_is_the_client():
    assert get_client_ip(_request("10.0.0.2")) == "10.0.0.2"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_all_hops_trusted_gives_the_leftmost():
    request = _request("10.0.0.2", forwarded="10.9.9.9")
    assert get_client_ip(request) == "10.9.9.9"


@override_settings(
    HARDENED_AUTH_TRUSTED_PROXIES=PROXIES, HARDENED_AUTH_CLIENT_IP_HEADER="X-Real-IP"
)
def test_configured_header_is_read_and_others_ignored():
    request = _request("10.0.0.2", forwarded="192.0.2.1", HTTP_X_REAL_IP="198.51.100.7")
    assert get_client_ip(request) == "198.51.100.7"


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_ipv6_proxy_and_client():
    request = _request("2001:db8::1", forwarded="2001:db9::5")
    assert get_client_ip(request) == "2001:db9::5"


@pytest.mark.parametrize("remote", ["", "unix-socket", "999.1.1.1"])
def test_unparseable_remote_address_gives_empty_string(remote):
    assert get_client_ip(_request(remote, forwarded="198.51.100.1")) == ""


@override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES)
def test_a_long_chain_of_trusted_proxies_is_walked():
    hops = ", ".join(f"10.0.{n // 250}.{n % 250 + 1}" for n in range(60))
    request = _request("10.0.0.2", forwarded="198.51.100.7, " + hops)
    assert len(request.META["HTTP_X_FORWARDED_FOR"]) > 256
    assert get_client_ip(request) == "198.51.100.7"


def test_the_answer_follows_a_change_of_trusted_proxies():
    request = _request("10.0.0.2", forwarded="198.51.100.1")
    assert get_client_ip(request) == "10.0.0.2"
    with override_settings(HARDENED_AUTH_TRUSTED_PROXIES=PROXIES):
        assert get_client_ip(request) == "198.51.100.1"
    assert get_client_ip(request) == "10.0.0.2"
