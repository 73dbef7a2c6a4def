"""The client's address: forwarded-for headers are believed only from configured proxies."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

from bot.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]+)', re.IGNORECASE)


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """[web] trusted_proxies as networks; a bad entry is named in a ConfigError."""
    networks = []
    for i, entry in enumerate(entries):
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"[web] trusted_proxies[{i}]: {entry!r} is not an IP address or CIDR range "
                '(e.g. "127.0.0.1" or "10.0.0.0/24")'
            ) from None
    return tuple(networks)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip().strip('"')
    if value.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # an IPv4 address with a port
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket: compare it as the IPv4 address it is.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _chain(headers: Mapping[str, str]) -> list[str]:
    """The hops the proxies recorded, nearest the client first (Forwarded wins over XFF)."""
    forwarded = headers.get("forwarded")
    if forwarded:
        return _FORWARDED_FOR.findall(forwarded)
    xff = headers.get("x-forwarded-for")
    return [hop for hop in xff.split(",")] if xff else []


def client_address(
    peer: str | None, headers: Mapping[str, str], trusted: tuple[Network, ...]
) -> str:
    """Who is asking: the peer, unless it is a trusted proxy; then the hop it was told about.

    Walk the recorded hops from the nearest proxy outwards and stop at the first address that
    is not a trusted proxy: anything further out was written by the client and can be forged.
    """
    if peer is None:
        return "-"
    current = _ip(peer)
    if current is None or not any(current in net for net in trusted):
        return str(current or peer)
    for hop in reversed(_chain(headers)):
        address = _ip(hop)
        if address is None:
            break  # "unknown" or garbage: the last trusted hop is all we know
        current = address
        if not any(address in net for net in trusted):
            break
    return str(current)
