"""Webhook signatures and outgoing URL checks, without I/O (but for name resolution of
literal addresses, which needs none)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time

import pytest

from waa_ads.integrations import events, netguard, signing
from waa_ads.integrations.errors import UnsafeUrl


def verify(secret: str, header: str, body: bytes, tolerance_s: int = 300) -> bool:
    """The verification snippet of docs/integrations.md, word for word (stdlib only)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs(time.time() - t) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


def test_a_signature_verifies_with_its_secret_and_the_documented_snippet() -> None:
    secret = signing.new_secret()
    body = b'{"type":"attempt.submitted"}'
    header = signing.signature_header(secret, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert signing.verify(secret, header, body, now=1_700_000_100) == 1_700_000_000
    now = int(time.time())
    fresh = signing.signature_header(secret, now, body)
    assert verify(secret, fresh, body)
    assert not verify(secret, fresh, body + b" ")
    assert not verify("whsec_other", fresh, body)
    assert not verify(secret, header, body)  # outside the window
    assert not verify(secret, f"t={now},t={now}," + fresh.split(",")[1], body)


@pytest.mark.parametrize(
    ("header_of", "body", "now", "reason"),
    [
        (lambda s, b: signing.signature_header(s, 1000, b), b"{}x", 1000, "matches"),
        (lambda s, b: signing.signature_header("whsec_other", 1000, b), b"{}", 1000, "matches"),
        (lambda s, b: signing.signature_header(s, 1000, b), b"{}", 1301, "window"),
        (lambda s, b: signing.signature_header(s, 1000, b), b"{}", 699, "window"),
        (lambda s, b: "v1=abc", b"{}", 1000, "no t="),
        (lambda s, b: "t=1000", b"{}", 1000, "no t="),
        (lambda s, b: "t=\uff11\uff10\uff10\uff10,v1=ab", b"{}", 1000, "no t="),
    ],
)
def test_tampered_stale_or_malformed_signatures_are_refused(
    header_of: object, body: bytes, now: int, reason: str
) -> None:
    secret = "whsec_fixed"
    header = header_of(secret, b"{}")  # type: ignore[operator]
    with pytest.raises(signing.SignatureError, match=reason):
        signing.verify(secret, header, body, now=now)


def test_any_of_several_v1_values_may_match_during_a_rotation() -> None:
    body = b"{}"
    old = signing.digest("whsec_old", 5, body)
    new = signing.digest("whsec_new", 5, body)
    assert signing.verify("whsec_new", f"t=5,v1={old},v1={new}", body, now=5) == 5


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",
    ],
)
def test_private_loopback_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not netguard.address_is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public() -> None:
    assert netguard.address_is_public(ipaddress.ip_address("93.184.215.14"))
    assert netguard.address_is_public(ipaddress.ip_address("2606:4700::1111"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("https://user:pw@example.org/", "user name"),
        ("https:///nohost", "no host"),
        ("http://[::1", "not a valid URL"),
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=reason):
        netguard.parse_url(url)


@pytest.mark.asyncio
async def test_literal_private_addresses_are_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeUrl, match="private, loopback"):
        await netguard.check_url("http://127.0.0.1:9/hook", allow_private=False)
    with pytest.raises(UnsafeUrl, match="private, loopback"):
        await netguard.check_url("http://[::ffff:10.0.0.1]/hook", allow_private=False)
    await netguard.check_url("http://127.0.0.1:9/hook", allow_private=True)
    await netguard.check_url("https://93.184.215.14/hook", allow_private=False)


def test_every_public_event_type_comes_from_a_published_action() -> None:
    assert set(events.EVENT_TYPES) == set(events.PUBLIC_EVENTS.values())
    assert events.public_type("attempt.submit") == "attempt.submitted"
    assert events.public_type("user.created") is None
    assert events.decision_kind("integrity.warn") == "warn"
    assert events.decision_kind("attempt.submit") is None
