"""Outgoing calls connect only to public addresses, checked at the connection itself.

The check when a URL is saved and before each request resolves the name; a name whose
answer changes in between (DNS rebinding) would still reach whatever it names at connect
time, so the client's own connections resolve, check and connect to the checked address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from waa_ads.integrations import netguard


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (self.headers.get("Host") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_name_for_a_loopback_address_is_refused_at_the_connection(local_server: int) -> None:
    async def call() -> None:
        async with netguard.client(allow_private=False, timeout=5) as client:
            # No check_url before: the connection itself refuses.
            with pytest.raises(httpx.ConnectError, match="private, loopback"):
                await client.get(f"http://localhost:{local_server}/")
            with pytest.raises(httpx.ConnectError, match="private, loopback"):
                await client.get(f"http://127.0.0.1:{local_server}/")

    asyncio.run(call())


def test_the_guarded_client_connects_to_the_address_it_checked_and_keeps_the_host(
    local_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With loopback counted as public for this test, a request by name goes through the
    guarded connection (resolved and checked there) and the server still sees the name."""
    checked: list[str] = []

    def only_loopback(address: netguard.IPAddress) -> bool:
        checked.append(str(address))
        return address == ipaddress.ip_address("127.0.0.1")

    monkeypatch.setattr(netguard, "address_is_public", only_loopback)

    async def call() -> httpx.Response:
        async with netguard.client(allow_private=False, timeout=5) as client:
            return await client.get(f"http://127.0.0.1:{local_server}/")

    response = asyncio.run(call())
    assert response.status_code == 200
    assert response.text == f"127.0.0.1:{local_server}"
    assert checked == ["127.0.0.1"]


def test_with_private_addresses_allowed_the_client_connects_anywhere(local_server: int) -> None:
    async def call() -> httpx.Response:
        async with netguard.client(allow_private=True, timeout=5) as client:
            return await client.get(f"http://localhost:{local_server}/")

    assert asyncio.run(call()).status_code == 200


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("10.1.2.3", False),
        ("::ffff:169.254.169.254", False),
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:5db8:d70e::1", True),  # 6to4 of a public address
        ("fec0::1", False),  # site-local
        ("fd00::1", False),
    ],
)
def test_which_addresses_count_as_public(address: str, public: bool) -> None:
    assert netguard.address_is_public(ipaddress.ip_address(address)) is public
