"""Outgoing URLs: only http(s), and (unless the deployment allows it) never a private,
loopback, link-local or otherwise non-public address, so a webhook or LTI endpoint
cannot be pointed at the deployment's own network (server-side request forgery).

Names are resolved and every address they resolve to is checked, once when the URL is
saved and again before each request (a name may be re-pointed after it was saved), and
once more where it matters, at the connection itself: :func:`client` connects only to an
address it has just resolved and checked, so a name whose answer changes between the check
and the connection (DNS rebinding) cannot reach the deployment's own network. TLS still
names and verifies the URL's host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from waa_ads.integrations.errors import UnsafeUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return False
        # An IPv4 address carried inside (mapped, 6to4) is judged as that address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
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
    await _public_addresses(host, port)


async def _public_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, all of them public; UnsafeUrl otherwise."""
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
    return addresses


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, and connects to the checked address itself (never the name)."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await _public_addresses(host, port)
        except UnsafeUrl as exc:
            raise httpcore.ConnectError(exc.detail or str(exc)) from None
        return await self._inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("outgoing calls never use a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection goes through
    :class:`_PublicOnlyBackend`; no proxy from the environment (it would connect instead)."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PublicOnlyBackend(),
        )


def client(
    *,
    allow_private: bool,
    timeout: float,
    limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
) -> httpx.AsyncClient:
    """An HTTP client for outgoing calls: redirects never followed and, unless
    ``allow_private``, connections only to public addresses checked at connect time (a
    refused address is an :class:`httpx.ConnectError` naming it)."""
    if allow_private:
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False, limits=limits)
    return httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=_PublicOnlyTransport(limits)
    )
