"""Outgoing URLs: only http(s), and (unless the deployment allows it) never a private,
loopback, link-local or otherwise non-public address, so a webhook or LTI endpoint
cannot be pointed at the deployment's own network (server-side request forgery).

Names are resolved and every address they resolve to is checked, once when the URL is
saved and again before each request (a name may be re-pointed after it was saved).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from waa_ads.integrations.errors import UnsafeUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved)


def parse_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an absolute http(s) URL; UnsafeUrl otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL must not carry a user name or password")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse ``url`` (UnsafeUrl) unless it is http(s) and, when ``allow_private`` is
    false, every address its host resolves to is public."""
    _, host, port = parse_url(url)
    if allow_private:
        return
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise UnsafeUrl(f"the host {host!r} does not resolve") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address_is_public(address):
            raise UnsafeUrl(
                f"the host {host!r} is a private, loopback or reserved address ({address}); "
                "this deployment only calls public addresses"
            )
