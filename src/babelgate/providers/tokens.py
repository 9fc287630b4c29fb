"""A bearer token kept fresh in the background, for the clouds whose credentials are short-lived tokens
(Google's OAuth2 access tokens, Entra ID's): the request path reads the current token without waiting.

The clouds' own libraries (google-auth, azure-identity) are synchronous and may block for seconds (a
metadata server, a token endpoint), so a token is fetched in a worker thread, never on the event loop.
A token is renewed ahead of its expiry, at two thirds of its life or five minutes before it ends,
whichever comes first: by a timer, and by the first request that finds it due (it goes on with the
current token). A request waits only when there is no valid token at all (the first one, or after every
renewal failed until the token expired), and then no longer than the provider's connect timeout; a
failure is a clear 502 (`UpstreamCredentialsFailed`) naming the provider, where the credentials were
to come from, and what went wrong, never the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from babelgate.errors import UpstreamCredentialsFailed

log = logging.getLogger("babelgate.tokens")

# Renew at two thirds of a token's life, and at the latest this long before it ends, but never before a
# third of its life: a token living less than RENEW_BEFORE was renewed as soon as it came, one fetch after
# another for as long as the gateway ran (a 2-second test token: thousands).
RENEW_FRACTION: Final = 2 / 3
RENEW_BEFORE: Final = 300.0
KEEP_AT_LEAST: Final = 1 / 3
# A token this close to its end (at most; a tenth of a short life) is not sent: it could expire on its way
# (clock skew, a slow upload).
SAFETY_MARGIN: Final = 5.0
# After a failed fetch, requests without a token fail at once for this long instead of each starting a
# fetch of its own (a missing key file fails the same way every time; a down metadata server would make
# every request wait its connect timeout).
FAILURE_HOLD: Final = 2.0
# How long a request without a token waits for one when the provider sets no connect timeout.
DEFAULT_WAIT: Final = 10.0
# A renewal that failed while the token is still valid is tried again this often.
RETRY_RENEWAL: Final = 10.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_at: float  # wall-clock seconds (time.time())


class CredentialsError(Exception):
    """What a token fetcher raises for a failure it can describe without a secret (its message is
    shown to clients)."""


# Fetches a new token; blocking, run in a worker thread. Its argument says the upstream refused the last
# token (revoked before its time): a fetcher whose library caches tokens must then get a fresh one.
Fetch = Callable[[bool], Token]


class BearerTokens:
    """One provider's current token and its renewal. `token()` is what requests call."""

    __slots__ = (
        "__weakref__",
        "_cause",
        "_closed",
        "_failed_at",
        "_fetch",
        "_inflight",
        "_refused",
        "_renew_at",
        "_scrub",
        "_timer",
        "_token",
        "_valid_until",
        "provider",
        "source",
        "wait",
    )

    def __init__(
        self, provider: str, fetch: Fetch, *, source: str, wait: float | None, scrub: Callable[[str], str] = str
    ) -> None:
        self.provider = provider
        self.source = source  # where the credentials come from, as the 502 names it
        self.wait = wait or DEFAULT_WAIT  # the provider's connect timeout
        self._fetch = fetch
        self._scrub = scrub
        self._token: Token | None = None
        self._renew_at = 0.0
        self._valid_until = 0.0
        self._inflight: asyncio.Future[Token] | None = None
        self._refused = False
        self._timer: asyncio.TimerHandle | None = None
        self._failed_at = 0.0
        self._cause = ""
        self._closed = False

    async def token(self) -> str:
        """The current token's value, at once while it is valid (a due renewal starts behind it);
        else the renewal's, awaited no longer than `wait`."""
        token, now = self._token, time.time()
        if token is not None and now < self._valid_until:
            if now >= self._renew_at:
                self._renew()
            return token.value
        return await self._wait_for_token()

    def invalidate(self, value: str) -> None:
        """The upstream refused this token (401): it is not sent again, and a new one is fetched."""
        token = self._token
        if token is not None and token.value == value:
            self._token, self._refused = None, True
            self._renew()

    def close(self) -> None:
        """No renewal from now on: the timer is cancelled, and a fetch under way when the gateway stopped
        arms none when it ends (it used to, and the stopped gateway's token source was asked again and
        again: a failing one every RETRY_RENEWAL seconds)."""
        self._closed = True
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _wait_for_token(self) -> str:
        if self._inflight is None and time.time() - self._failed_at < FAILURE_HOLD:
            raise self._error(self._cause)
        future = self._renew()
        try:
            token = await asyncio.wait_for(asyncio.shield(future), self.wait)
        except TimeoutError:
            raise self._error(f"no token within {self.wait:g} s") from None
        except Exception:  # the fetch's failure, already logged and described in `_cause`
            raise self._error(self._cause) from None
        return token.value

    def _renew(self) -> asyncio.Future[Token]:
        """The renewal under way, or a new one in a worker thread."""
        inflight = self._inflight
        if inflight is not None:
            return inflight
        loop = asyncio.get_running_loop()
        inflight = self._inflight = loop.run_in_executor(None, self._fetch, self._refused)
        inflight.add_done_callback(self._fetched)
        return inflight

    def _fetched(self, future: asyncio.Future[Token]) -> None:
        self._inflight = None
        now = time.time()
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._failed_at, self._cause = now, self._describe(error)
            log.warning("provider %s: no token from %s: %s", self.provider, self.source, self._cause)
            if self._token is not None:  # still valid for a while: try again before it ends
                self._renew_at = now + RETRY_RENEWAL
                self._schedule(RETRY_RENEWAL)
            return
        token = future.result()
        self._token, self._failed_at, self._refused = token, 0.0, False
        life = max(0.0, token.expires_at - now)
        # Sent until shortly before its end (a tenth of a short life), renewed well before that.
        usable = life - min(SAFETY_MARGIN, life / 10)
        self._valid_until = now + usable
        self._renew_at = now + max(min(usable * RENEW_FRACTION, usable - RENEW_BEFORE), usable * KEEP_AT_LEAST)
        self._schedule(self._renew_at - now)

    def _schedule(self, delay: float) -> None:
        """A timer renews the token even when no request comes (an idle gateway's first request then
        finds a fresh one). It holds the holder weakly: a provider a config reload replaced is let go,
        and its timer then renews nothing."""
        self._cancel_timer()
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._timer = asyncio.get_running_loop().call_later(max(delay, 0.0), _on_timer, weakref.ref(self))

    def _describe(self, error: BaseException) -> str:
        """A failure in words a client may read: a CredentialsError's own, else the library's
        exception, by its class and its (scrubbed, shortened) message."""
        if isinstance(error, CredentialsError):
            return self._scrub(str(error))
        # google-auth's RefreshError carries (message, the token endpoint's answer): the message is enough.
        first = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
        text = first.strip().splitlines()[0][:300] if first.strip() else ""
        name = type(error).__name__
        return self._scrub(f"{name}: {text}" if text else name)

    def _error(self, cause: str) -> UpstreamCredentialsFailed:
        return UpstreamCredentialsFailed(provider=self.provider, source=self.source, cause=cause)


def _on_timer(holder: weakref.ref[BearerTokens]) -> None:
    tokens = holder()
    if tokens is not None:
        tokens._timer = None
        tokens._renew()


def closer(tokens: BearerTokens) -> Callable[[], Awaitable[None]]:
    """What the shared HTTP client runs when it closes (`UpstreamClient.on_close`): stop the renewals.
    Weak, like the timer: the client outlives the providers a reload replaces."""
    holder = weakref.ref(tokens)

    async def close() -> None:
        alive = holder()
        if alive is not None:
            alive.close()

    return close
