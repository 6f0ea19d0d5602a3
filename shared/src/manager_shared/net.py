"""Client address resolution behind reverse proxies."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(i.strip(), strict=False) for i in items if i.strip())


def _is_trusted(addr: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The address of the client as far as we can trust it.

    X-Forwarded-For is honoured only when the direct peer is a trusted proxy;
    then the chain is read right to left and the first address that is not
    itself a trusted proxy is the client (a client can prepend anything, but
    cannot forge what our own proxies appended).
    """
    peer = peer or "0.0.0.0"
    if not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the header: fall back to what we saw
    return hops[0] if hops else peer
