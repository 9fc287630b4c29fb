"""The identity provider of the bench's `jwt` caller (`instructions.py --caller jwt`): one RSA key, its
JWKS served on 127.0.0.1 from a thread of the bench's own process (the gateway reads it once, in the
background), and a token for a user of team `bench` that the gateway caches once verified, as a JWT
caller's repeated requests are. The target: a JWT caller costs at most 10 % more gateway CPU per
request than a virtual key (`--caller governed`)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "babelgate-bench"
KID = "bench-key"


class Issuer:
    def __init__(self, host: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks = {"keys": [{**RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True), "kid": KID, "use": "sig"}]}
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/jwks" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def config(self) -> str:
        """The `auth.jwt` section that accepts this issuer's tokens."""
        return (
            f"auth:\n  jwt: {{issuer: '{self.url}', audience: {AUDIENCE}, jwks_url: '{self.url}/jwks',"
            " claims: {user: sub, teams: groups}}\n"
        )

    def token(self) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": AUDIENCE, "sub": "bench-user", "groups": ["bench"], "iat": now}
        return jwt.encode({**claims, "exp": now + 24 * 3600}, self.key, "RS256", headers={"kid": KID})

    def close(self) -> None:
        self.server.shutdown()
