"""A token issuer for the JWT-caller tests: the identity provider's side of auth.jwt, served on 127.0.0.1
(its discovery document and its JWKS, over real HTTP), with RSA, EC P-256 and Ed25519 signing keys it can
rotate, and tokens it mints as a provider would, or broken the ways the tests need (expired, signed by a
key it never published, for another audience)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

AUDIENCE = "babelgate"
Private = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def new_key(algorithm: str) -> Private:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: Private, kid: str, algorithm: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        entry = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        entry = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        entry = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**entry, "kid": kid, "use": "sig", "alg": algorithm}


class Issuer:
    """An ASGI app: `/.well-known/openid-configuration` and `/jwks`. `issuer` is set once it is served."""

    def __init__(self) -> None:
        self.issuer = ""
        self.keys: dict[str, tuple[Private, str]] = {}  # kid → (private key, algorithm): published
        self.jwks_reads = 0
        for algorithm in ("RS256", "ES256", "EdDSA"):
            self.add(algorithm)

    def add(self, algorithm: str = "RS256") -> str:
        kid = f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (new_key(algorithm), algorithm)
        return kid

    def rotate(self) -> str:
        """A new RSA key published in place of every RSA key before it."""
        for kid in [kid for kid, (_, algorithm) in self.keys.items() if algorithm == "RS256"]:
            del self.keys[kid]
        return self.add("RS256")

    def kid(self, algorithm: str = "RS256") -> str:
        return next(kid for kid, (_, name) in reversed(self.keys.items()) if name == algorithm)

    def token(
        self,
        user: str = "alice",
        *,
        algorithm: str = "RS256",
        kid: str | None = None,
        audience: str | list[str] = AUDIENCE,
        lifetime: float = 600,
        key: Private | None = None,
        **claims: Any,
    ) -> str:
        """A token as the provider issues it; `key` signs with a key of the caller's (never published)."""
        kid = kid or self.kid(algorithm)
        if key is None:
            key = self.keys[kid][0]
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": user, "aud": audience, "iat": now, "exp": now + int(lifetime), **claims}
        payload = {name: value for name, value in payload.items() if value is not None}  # None: left out
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key, kid, algorithm) for kid, (key, algorithm) in self.keys.items()]}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/.well-known/openid-configuration":
            body: dict[str, Any] | None = {
                "issuer": self.issuer,
                "jwks_uri": self.issuer + "/jwks",
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
            }
        elif path == "/jwks":
            self.jwks_reads += 1
            body = self.jwks()
        else:
            body = None
        status = 200 if body is not None else 404
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": orjson.dumps(body or {"error": "not_found"})})
