"""An LTI 1.3 platform the tests run: its own RSA key and JWKS endpoint, a token endpoint
that checks the tool's signed client assertion, an AGS line item that records the scores
it receives, and an NRPS membership service. It serves on a :mod:`receivers` thread; the
test plays the browser between the platform and the tool."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.receivers import Received, Receiver

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def _b64(n: int) -> str:
    return (
        base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    )


def rsa_key() -> tuple[str, dict[str, Any]]:
    """A private PEM and its public JWK (with a fresh kid)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": secrets.token_hex(6),
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }
    return pem, jwk


@dataclass
class Platform:
    receiver: Receiver
    client_id: str = "waa-tool"
    deployment_id: str = "deployment-1"
    tool_jwks: dict[str, Any] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pem, self.jwk = rsa_key()
        r = self.receiver
        r.handle(
            "/jwks", lambda _: (200, json.dumps({"keys": [self.jwk]}).encode(), "application/json")
        )
        r.handle("/token", self._token)
        r.handle("/lineitems/", self._score)
        r.handle("/memberships", self._members)

    @property
    def issuer(self) -> str:
        return self.receiver.base_url

    def registration(self) -> dict[str, Any]:
        return {
            "name": "Test LMS",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.issuer + "/authorize",
            "auth_token_url": self.issuer + "/token",
            "jwks_url": self.issuer + "/jwks",
            "deployment_ids": [self.deployment_id],
        }

    def id_token(
        self,
        nonce: str,
        *,
        sub: str = "learner-1",
        roles: list[str] | None = None,
        message_type: str = "LtiResourceLinkRequest",
        resource_link_id: str = "link-1",
        custom: dict[str, Any] | None = None,
        deployment_id: str | None = None,
        aud: str | None = None,
        exp_in: int = 300,
        iat_offset: int = 0,
        key: tuple[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": aud or self.client_id,
            "sub": sub,
            "iat": now + iat_offset,
            "exp": now + exp_in,
            "nonce": nonce,
            "name": f"Learner {sub}",
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": deployment_id or self.deployment_id,
            LTI + "target_link_uri": "https://tool.example/lti/launch",
            LTI + "roles": roles if roles is not None else [LEARNER],
            LTI + "resource_link": {"id": resource_link_id, "title": "Unit test"},
            LTI + "context": {"id": "course-1", "title": "Course"},
            LTI + "custom": custom or {},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitem": self.issuer + "/lineitems/1?course=1",
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.issuer + "/memberships",
                "service_versions": ["2.0"],
            },
        }
        if message_type == "LtiDeepLinkingRequest":
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.issuer + "/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "data": "opaque-platform-data",
            }
        claims.update(extra or {})
        pem, kid = key or (self.pem, self.jwk["kid"])
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})

    # --- services --------------------------------------------------------------------

    def _tool_key(self, kid: str) -> Any:
        jwk = next(k for k in self.tool_jwks["keys"] if k["kid"] == kid)
        return jwt.PyJWK.from_dict(jwk).key

    def _token(self, request: Received) -> tuple[int, bytes, str]:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion)["kid"]
            claims = jwt.decode(
                assertion,
                self._tool_key(kid),
                algorithms=["RS256"],
                audience=self.issuer + "/token",
                issuer=self.client_id,
            )
        except (jwt.InvalidTokenError, KeyError, StopIteration) as exc:
            return (
                401,
                json.dumps({"error": "invalid_client", "why": str(exc)}).encode(),
                "application/json",
            )
        if form.get("grant_type") != "client_credentials" or claims["sub"] != self.client_id:
            return 400, b'{"error":"unsupported_grant_type"}', "application/json"
        token = {
            "access_token": secrets.token_hex(8),
            "expires_in": 3600,
            "scope": form.get("scope", ""),
        }
        self.tokens_issued.append(token)
        return 200, json.dumps(token).encode(), "application/json"

    def _authorized(self, request: Received) -> bool:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        return any(t["access_token"] == sent for t in self.tokens_issued)

    def _score(self, request: Received) -> tuple[int, bytes, str]:
        if not self._authorized(request):
            return 401, b"{}", "application/json"
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            return 415, b"{}", "application/json"
        return 200, b"{}", "application/json"

    def scores(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.receiver.at("/lineitems/1/scores")]

    def _members(self, request: Received) -> tuple[int, bytes, str]:
        if not self._authorized(request):
            return 401, b"{}", "application/json"
        body = {
            "id": self.issuer + "/memberships",
            "context": {"id": "course-1"},
            "members": self.members,
        }
        return (
            200,
            json.dumps(body).encode(),
            "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
        )
