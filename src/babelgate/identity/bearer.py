"""What a presented bearer is, told apart without loading the JWT library: every request asks, and PyJWT
with `cryptography` is ~10 MiB a gateway without JWT callers need not hold."""

from __future__ import annotations

from typing import Final

__all__ = ["USER_PREFIX", "looks_like_jwt"]

# A JWT caller is governed as the synthetic virtual key `user:<sub>` (jwt_callers.py).
USER_PREFIX: Final = "user:"


def looks_like_jwt(presented: bytes) -> bool:
    """A compact JWS (`header.payload.signature`, the header a base64url JSON object): what no gateway
    key looks like (static keys are operators' strings, virtual keys start `bg-`)."""
    return presented[:3] == b"eyJ" and presented.count(b".") == 2
