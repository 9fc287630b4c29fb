"""The JWKS throttle counts only the reads an unknown `kid` causes: a key the provider starts using right
after the gateway's startup read is accepted at once, and a flood of made-up kids still reads the set at
most once per `min_refresh`. The real issuer over HTTP, the real key set and verifier, a clock the test
moves (no waiting)."""

from __future__ import annotations

import asyncio

import pytest

from babelgate.config.identity import JwtConfig
from babelgate.errors import AuthenticationFailed
from babelgate.identity.jwks import Jwks
from babelgate.identity.jwt_callers import JwtCallers
from tests.identity.issuer import AUDIENCE, Issuer, new_key

MIN_REFRESH = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _until(condition: object, seconds: float = 10) -> None:
    for _ in range(int(seconds * 100)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within the time")


def test_a_key_rotated_in_right_after_the_startup_read_is_accepted_at_once(issuer: Issuer) -> None:
    clock = Clock()
    jwks = Jwks(issuer.issuer, None, refresh=300, min_refresh=MIN_REFRESH, clock=clock)
    callers = JwtCallers(JwtConfig(issuer=issuer.issuer, audience=(AUDIENCE,)), jwks)
    stranger = new_key("RS256")

    async def refused(kid: str) -> None:
        with pytest.raises(AuthenticationFailed) as refusal:
            await callers.caller(issuer.token("eve", kid=kid, key=stranger).encode())
        assert "does not publish" in refusal.value.params["reason"]

    async def scenario() -> None:
        jwks.start()  # the startup read, then one every `refresh` seconds
        try:
            await _until(lambda: jwks.reads == 1)
            assert issuer.jwks_reads == 1
            issuer.rotate()  # the provider signs with a new key from now on; the clock has not moved
            accepted = await callers.caller(issuer.token("bob").encode())
            assert accepted.key.user == "bob"
            assert issuer.jwks_reads == 2  # one read, on the unknown kid, at once
            for number in range(20):  # made-up kids within min_refresh of that read: no read at all
                await refused(f"made-up-{number}")
            assert issuer.jwks_reads == 2
            clock.now += MIN_REFRESH
            for number in range(20):  # min_refresh later: one read for the whole flood
                await refused(f"later-{number}")
            assert issuer.jwks_reads == 3
        finally:
            await jwks.close()

    asyncio.run(scenario())


def test_a_key_rotated_in_after_the_first_lazy_read_is_accepted_at_once(issuer: Issuer) -> None:
    """A key set never started (read on the first token, as sign-in's is) counts that first read as the
    startup read too."""
    clock = Clock()
    jwks = Jwks(issuer.issuer, None, min_refresh=MIN_REFRESH, clock=clock)
    callers = JwtCallers(JwtConfig(issuer=issuer.issuer, audience=(AUDIENCE,)), jwks)

    async def scenario() -> None:
        assert (await callers.caller(issuer.token("ann").encode())).key.user == "ann"
        issuer.rotate()
        assert (await callers.caller(issuer.token("bob").encode())).key.user == "bob"
        assert issuer.jwks_reads == 2

    asyncio.run(scenario())
