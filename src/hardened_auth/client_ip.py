"""The one place that decides which address a request came from.

Rate limits, allowlists and audit records all call :func:`get_client_ip`. A
forwarding header is believed only when the connection itself comes from a
trusted proxy, and then only up to the first hop that is not trusted, so a
client cannot choose its own address by sending the header.
"""

import ipaddress
from functools import lru_cache

from django.http import HttpRequest

from hardened_auth.conf import app_settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_CACHED_INPUT = 256


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def get_client_ip(request: HttpRequest) -> str:
    """Return the client's address, trusting forwarding only from proxies."""
    proxies = tuple(str(e) for e in app_settings.TRUSTED_PROXIES)
    remote = str(request.META.get("REMOTE_ADDR", ""))
    header = (
        str(request.META.get(_meta_key(app_settings.CLIENT_IP_HEADER), ""))
        if proxies
        else ""
    )
    if len(remote) + len(header) > MAX_CACHED_INPUT:
        return _resolve.__wrapped__(remote, header, proxies)
    return _resolve(remote, header, proxies)


@lru_cache(maxsize=4096)
def _resolve(remote_value: str, header: str, proxies: tuple[str, ...]) -> str:
    """The client address for these inputs; every request asks several times.

    Rate limits, audit events and the tenant middleware each want the
    address, so answers are remembered for recent inputs; a long forwarding
    header is resolved without being remembered.
    """
    remote = _parse(remote_value)
    if remote is None:
        return ""
    networks = _networks(proxies)
    if not _is_trusted(remote, networks):
        return str(remote)

    nearest = remote
    for hop in reversed(header.split(",")):
        address = _parse(hop)
        if address is None:
            return str(nearest)
        if not _is_trusted(address, networks):
            return str(address)
        nearest = address
    return str(nearest)
