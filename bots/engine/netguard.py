"""Whether an address a bot definition may make botportal connect to is a public one.

An IPv6 address can carry an IPv4 address inside it, and a host or router on the way may deliver a
packet for it to that IPv4 address: `::ffff:a.b.c.d` (IPv4-mapped), `::a.b.c.d` (IPv4-compatible),
`64:ff9b::a.b.c.d` (NAT64, RFC 6052), `2002:AABB:CCDD::` (6to4) and Teredo's `2001:0::/32`. Python's
`is_global` judges such an address by its IPv6 prefix alone (`64:ff9b::a9fe:a9fe` is "global"), so
the embedded IPv4 address is unwrapped and judged as well: every address found must be public.
"""

import ipaddress

# RFC 6052's well-known prefix embeds the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use prefix: for a network's own translators, never a public destination.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
# IPv4-compatible (RFC 4291, deprecated): `::a.b.c.d`; `::` and `::1` are not IPv4 addresses.
_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if ip in _NAT64 or (ip in _COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # (server, client)
    return []


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast)


def is_public_address(address: str) -> bool:
    """True when `address` (an IP address as text, as getaddrinfo answers it) and every IPv4 address
    embedded in it are public. Anything that does not parse is not public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a link-local answer may carry a zone (%eth0)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        if ip.ipv4_mapped is not None:
            # Only ever a way of writing the IPv4 address: it alone decides.
            return _is_public_ip(ip.ipv4_mapped)
        if not all(_is_public_ip(inner) for inner in _embedded_ipv4(ip)):
            return False
    return _is_public_ip(ip)
