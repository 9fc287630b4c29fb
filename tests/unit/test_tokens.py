"""The bearer token kept fresh in the background (providers/tokens.py): requests read it without waiting
while it is valid, it is renewed ahead of expiry in a worker thread, a request waits (bounded) only when
there is none, and a failure is a clear 502 naming the provider and where the credentials were to come
from, never the secret."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from babelgate.errors import UpstreamCredentialsFailed
from babelgate.providers.tokens import BearerTokens, CredentialsError, Token


class Issuer:
    """A token source: numbered tokens living `life` seconds, fetched in whatever thread calls it."""

    def __init__(self, life: float, delay: float = 0.0) -> None:
        self.life, self.delay = life, delay
        self.count = 0
        self.threads: set[str] = set()
        self.fail: Exception | None = None
        self.refused: list[bool] = []

    def __call__(self, refused: bool) -> Token:
        self.refused.append(refused)
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        self.count += 1
        return Token(f"token-{self.count}", time.time() + self.life)


def test_the_first_request_waits_for_a_token_fetched_off_the_event_loop() -> None:
    issuer = Issuer(life=3600)

    async def run() -> list[str]:
        holder = BearerTokens("vx", issuer, source="test source", wait=5)
        values = [await holder.token() for _ in range(3)]
        holder.close()
        return values

    assert asyncio.run(run()) == ["token-1"] * 3
    assert issuer.count == 1
    assert threading.main_thread().name not in issuer.threads


def test_a_token_is_renewed_in_the_background_before_it_expires_and_no_request_waits() -> None:
    issuer = Issuer(life=0.6, delay=0.05)

    async def run() -> tuple[list[str], float]:
        holder = BearerTokens("vx", issuer, source="test source", wait=5)
        await holder.token()  # the first one is waited for
        seen, slowest = [], 0.0
        for _ in range(12):
            started = time.perf_counter()
            seen.append(await holder.token())
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0.1)
        holder.close()
        return seen, slowest

    seen, slowest = asyncio.run(run())
    assert len(set(seen)) >= 2, "the token was renewed"
    assert slowest < 0.02, "no request waited for the renewal (a fetch takes 50 ms)"


def test_a_failure_with_no_token_is_a_clear_502_naming_the_source() -> None:
    issuer = Issuer(life=3600)
    issuer.fail = CredentialsError("the key file /etc/key.json cannot be read: No such file or directory")

    async def run() -> UpstreamCredentialsFailed:
        holder = BearerTokens("vx", issuer, source="service-account key file /etc/key.json", wait=5)
        with pytest.raises(UpstreamCredentialsFailed) as caught:
            await holder.token()
        return caught.value

    error = asyncio.run(run())
    assert error.status == 502 and error.code == "upstream_credentials_error"
    assert error.params == {
        "provider": "vx",
        "source": "service-account key file /etc/key.json",
        "cause": "the key file /etc/key.json cannot be read: No such file or directory",
    }


def test_a_source_that_does_not_answer_fails_within_the_wait_and_secrets_are_scrubbed() -> None:
    issuer = Issuer(life=3600, delay=0.5)

    async def run() -> float:
        holder = BearerTokens("vx", issuer, source="metadata server", wait=0.2)
        started = time.perf_counter()
        with pytest.raises(UpstreamCredentialsFailed) as caught:
            await holder.token()
        assert caught.value.params["cause"] == "no token within 0.2 s"
        return time.perf_counter() - started

    assert asyncio.run(run()) < 0.6

    leaky = Issuer(life=3600)
    leaky.fail = RuntimeError("refused secret-value-123 for client")

    async def scrubbed() -> str:
        holder = BearerTokens("vx", leaky, source="entra", wait=1, scrub=lambda t: t.replace("secret-value-123", "***"))
        with pytest.raises(UpstreamCredentialsFailed) as caught:
            await holder.token()
        return str(caught.value.params["cause"])

    assert asyncio.run(scrubbed()) == "RuntimeError: refused *** for client"


def test_a_failed_renewal_keeps_the_valid_token_and_a_refused_token_is_replaced() -> None:
    issuer = Issuer(life=3600)

    async def run() -> list[str]:
        holder = BearerTokens("vx", issuer, source="test", wait=5)
        first = await holder.token()
        issuer.fail = RuntimeError("endpoint down")
        holder._renew_at = 0.0  # due: the next request starts a renewal, which fails
        kept = await holder.token()
        await asyncio.sleep(0.05)
        again = await holder.token()
        issuer.fail = None
        holder.invalidate(again)  # the upstream answered 401 to it
        replaced = await holder.token()
        holder.close()
        return [first, kept, again, replaced]

    assert asyncio.run(run()) == ["token-1", "token-1", "token-1", "token-2"]
    assert issuer.refused[-1] is True  # the fetch that replaced the refused token was told so


def test_the_clouds_tokens_are_scrubbed_though_no_config_holds_them() -> None:
    from babelgate.observability.logging import Scrubber

    scrub = Scrubber()
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL2NvZ24.sig-nature_x"
    text = scrub(f"token ya29.a0AfB_byC-1234567890abcdef was refused; jwt {jwt} ok")
    assert text == "token [redacted] was refused; jwt [redacted] ok"


def test_a_holder_nothing_else_keeps_is_let_go_with_its_timer_pending() -> None:
    """A config reload replaces the providers; the shared client and the loop must not keep their token
    holders (and renew their tokens) for ever."""
    import gc
    import weakref

    from babelgate.providers.tokens import closer

    issuer = Issuer(life=3600)

    async def run() -> bool:
        holder = BearerTokens("vx", issuer, source="test", wait=5)
        await holder.token()  # a renewal timer is now pending
        close = closer(holder)
        gone = weakref.ref(holder)
        del holder
        gc.collect()
        await close()  # the client's close after the provider is gone: nothing to do
        return gone() is None

    assert asyncio.run(run())


def test_a_fetch_under_way_when_the_holder_closes_arms_no_renewal() -> None:
    """A gateway that stops (or a provider a reload replaced) while a renewal runs in its worker thread asks
    its token source nothing more once that fetch ends: before, the fetch's end armed the next renewal,
    and a stopped gateway kept asking (a failing source every RETRY_RENEWAL seconds)."""
    issuer = Issuer(life=0.3, delay=0.2)

    async def run() -> None:
        holder = BearerTokens("vx", issuer, source="test source", wait=5)
        holder.invalidate(await holder.token())  # a fetch of a new token starts, in the worker thread
        holder.close()
        await asyncio.sleep(0.8)  # the fetch ends (0.2 s); its token would be renewed after ~0.18 s

    asyncio.run(run())
    assert issuer.count == 2, "only the fetch under way when the holder closed"


def test_a_short_lived_token_is_used_for_a_third_of_its_life_before_it_is_renewed() -> None:
    """A token living less than RENEW_BEFORE (300 s) used to be renewed as soon as it came, and its
    successor too: a fetch after another for as long as the gateway ran."""
    issuer = Issuer(life=3.0)

    async def run() -> None:
        holder = BearerTokens("vx", issuer, source="test source", wait=5)
        await holder.token()
        await asyncio.sleep(1.5)  # renewed once, at a third of its life or later (~0.9 s)
        holder.close()

    asyncio.run(run())
    assert issuer.count == 2
