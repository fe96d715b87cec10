"""Which IP addresses a reference fetch may connect to: the SSRF address policy.

Pure functions used by :mod:`app.generation.references`, which vets every address a host
resolves to before connecting. Only globally routable unicast addresses pass, and an IPv6
address that tunnels to an IPv4 one (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4) is judged by
that IPv4 address too. Carrier-grade NAT (``100.64.0.0/10``) and the cloud metadata addresses
are refused even where the standard library calls them global. An operator may allow further
networks explicitly (``FetchPolicy.allow_networks``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, NAT64 or 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses that reach no internal network."""
    if ip in _METADATA or ip in _CGNAT:
        return False
    if ip in _NAT64:  # reserved as IPv6, but DNS64 maps every IPv4-only host here
        return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public_address(inner):
            return False
    special = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    return ip.is_global and not special


def is_allowed_address(ip: IPAddress, allow_networks: Sequence[IPNetwork] = ()) -> bool:
    """Public, or inside an operator-allowed network (an IPv4-mapped address counts as its IPv4)."""
    if is_public_address(ip):
        return True
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c in net for c in candidates for net in allow_networks)
