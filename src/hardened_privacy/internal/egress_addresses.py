"""Decide whether an outbound connection may reach a resolved address.

Only globally routable unicast addresses pass. Every address that reaches
inside a network is refused: loopback, private, shared (carrier-grade NAT),
link-local, multicast, reserved, unspecified and documentation ranges, the
cloud metadata endpoints, and IPv6 forms that carry an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo) unless the carried
address would pass on its own.
"""

import functools
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


@functools.lru_cache(maxsize=1024)
def parse_address(text: str) -> IPAddress | None:
    """Return the address ``text`` spells, without a zone id, or ``None``.

    Answers are remembered (addresses are immutable values): a name is
    parsed once rather than on every check of every request.
    """
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _ipv4_reason(address: ipaddress.IPv4Address) -> str | None:
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address in _SHARED, "shared address space"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    return next((reason for refused, reason in checks if refused), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ipv6_reason(address: ipaddress.IPv6Address) -> str | None:
    if address.ipv4_mapped is not None:
        return "IPv4-mapped IPv6"
    if address.teredo is not None:
        return "Teredo"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = _ipv4_reason(embedded)
        if reason is not None:
            return f"{reason} (embedded in IPv6)"
        if address in _IPV4_COMPATIBLE:
            return "IPv4-compatible IPv6"
        return None
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_site_local, "site-local"),
        (address.is_multicast, "multicast"),
        (address in _LOCAL_NAT64, "local-use NAT64"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    return next((reason for refused, reason in checks if refused), None)


def refusal_reason(
    address: IPAddress, permitted: tuple[Network, ...] = ()
) -> str | None:
    """Why ``address`` must not be contacted, or ``None`` when it may be.

    ``permitted`` networks are let through even when internal, except the
    cloud metadata endpoints, which are never reachable.
    """
    if address in METADATA_ADDRESSES:
        return "cloud metadata endpoint"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and embedded in METADATA_ADDRESSES:
            return "cloud metadata endpoint (embedded in IPv6)"
    if any(address.version == n.version and address in n for n in permitted):
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_reason(address)
    return _ipv6_reason(address)
