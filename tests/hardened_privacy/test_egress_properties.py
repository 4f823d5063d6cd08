"""Properties of the address check, on generated addresses."""

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from hardened_privacy.internal.egress_addresses import refusal_reason


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "10.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "100.64.0.0/10",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "0.0.0.0/8",
            "224.0.0.0/4",
        ]
    ),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_every_internal_ipv4_address_is_refused_directly_and_mapped(network, number):
    net = ipaddress.ip_network(network)
    address = net.network_address + (number % net.num_addresses)
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))

    assert refusal_reason(address) is not None
    assert refusal_reason(mapped) is not None
    assert refusal_reason(sixtofour) is not None


ipv4 = st.integers(min_value=0, max_value=2**32 - 1)
ipv6_carrying_ipv4 = st.one_of(
    ipv4.map(lambda n: (0xFFFF << 32) | n),
    ipv4.map(lambda n: (0x2002 << 112) | (n << 80)),
    ipv4.map(lambda n: (0x0064FF9B << 96) | n),
    st.integers(min_value=0, max_value=2**96 - 1).map(lambda n: (0x20010000 << 96) | n),
    st.integers(min_value=0, max_value=2**128 - 1),
).map(ipaddress.IPv6Address)


@settings(max_examples=500, deadline=None)
@given(ipv6_carrying_ipv4)
def test_ipv6_addresses_carrying_an_ipv4_address_pass_only_if_it_would(address):
    embedded = address.ipv4_mapped or address.sixtofour
    if address in ipaddress.ip_network("64:ff9b::/96"):
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)

    if embedded is not None and refusal_reason(embedded) is not None:
        assert refusal_reason(address) is not None
    if address.ipv4_mapped is not None or address.teredo is not None:
        assert refusal_reason(address) is not None
