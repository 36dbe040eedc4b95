"""Which address a request comes from, for throttling.

The gateway (nginx) sets `X-Real-IP` to the address it saw and appends that address to
`X-Forwarded-For`. Those headers are believed only when the connection itself comes
from a trusted proxy; anyone else is counted by its own address, whatever it sends.
Behind the proxy, `X-Real-IP` wins (nginx overwrites it); without it, `X-Forwarded-For`
is read from the right, skipping trusted proxies: the entries on the left are whatever
the client wrote and prove nothing.
"""

import ipaddress
from collections.abc import Sequence

from auth_service.config import IpNetwork

UNKNOWN = "unknown"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(value: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: IpAddress, networks: Sequence[IpNetwork]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


def trusted_peer(peer: str | None, trusted: Sequence[IpNetwork]) -> bool:
    """Whether the connection comes from a trusted proxy (whose X-Forwarded-* count)."""
    peer_address = _parse(peer) if peer else None
    return peer_address is not None and _trusted(peer_address, trusted)


def client_address(
    peer: str | None,
    real_ip: str | None,
    forwarded_for: Sequence[str],
    trusted: Sequence[IpNetwork],
) -> str:
    """The client's address as text (`peer` is the connection's own remote address)."""
    peer_address = _parse(peer) if peer else None
    if peer_address is None:
        return peer or UNKNOWN
    if not _trusted(peer_address, trusted):
        return str(peer_address)
    if real_ip and (address := _parse(real_ip)) is not None:
        return str(address)
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    nearest = peer_address
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)
