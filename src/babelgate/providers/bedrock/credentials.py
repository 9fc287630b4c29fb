"""The provider's AWS credentials: found the way AWS tools find them, kept fresh off the request path.

botocore does the finding (`botocore.session` and `botocore.credentials`: explicit keys, a named
profile, or the default chain of environment, shared files, web identity, container and instance
metadata; temporary ones come as `RefreshableCredentials`). Finding them can block (a metadata
endpoint, STS), so it always runs in a thread. The request path only reads the frozen credentials of
the last refresh (`current`); a refresh is started in the background ahead of their expiry, by a
timer and by the first request that sees them due. A request waits only when there are no valid
credentials at all, and then at most the connect timeout, before a clear 502 naming what is missing.

The same schedule as providers/tokens.py's BearerTokens (the other clouds' tokens), not that class:
what AWS hands out is a key triple that signs each request, which botocore's own objects refresh and
whose expiry they keep, not a bearer token to send as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from babelgate.errors import UpstreamCredentialsFailed

log = logging.getLogger(__name__)

# Refresh when this share of the credentials' lifetime is left (at most _REFRESH_AHEAD seconds before
# expiry: botocore's own mandatory-refresh window, so a refresh then really fetches new ones); stop
# using them when less than _EXPIRED_SHARE of it is left (at most _EXPIRY_MARGIN seconds).
_REFRESH_AHEAD: Final = 600.0
_REFRESH_SHARE: Final = 0.5
_EXPIRY_MARGIN: Final = 60.0
_EXPIRED_SHARE: Final = 0.1
_RETRY_AFTER_FAILURE: Final = 5.0
# After a lookup that failed or found nothing, requests fail at once for this long instead of each
# starting a lookup of its own (a chain with nothing to find fails the same way every time).
_FAILURE_HOLD: Final = 2.0

MISSING: Final = (
    "no AWS credentials for Bedrock were found (set aws_access_key_id and aws_secret_access_key, aws_profile, or "
    "api_key, or run where the AWS credential chain finds some: environment, shared files, web "
    "identity, container or instance metadata)"
)


@dataclass(frozen=True, slots=True)
class Frozen:
    """One consistent set of credentials (botocore's ReadOnlyCredentials fields) and when it expires."""

    access_key: str
    secret_key: str
    token: str | None
    expires: float | None  # wall-clock seconds; None: never
    refresh_at: float | None
    stale_at: float | None


def credentials_missing(provider: str, source: str, cause: str) -> UpstreamCredentialsFailed:
    """The 502 of a provider without usable credentials, as every cloud's (retryable: another
    deployment may have some)."""
    return UpstreamCredentialsFailed(provider=provider, source=source, cause=cause)


def botocore_credentials(
    *,
    access_key: str | None,
    secret_key: str | None,
    token: str | None,
    profile: str | None,
) -> Callable[[], Any]:
    """The blocking lookup, for a thread: explicit keys, else the profile's or the default chain's."""

    def lookup() -> Any:
        if access_key and secret_key:
            return _Static(access_key, secret_key, token)
        import botocore.session

        return botocore.session.Session(profile=profile).get_credentials()

    return lookup


def keys_problem(*, access_key: bool, secret_key: bool, profile: str | None) -> str | None:
    """What is wrong with the named AWS credentials (whether each half of a key pair is set, the profile),
    found without the network: half a key pair (the lookup would pass over it to the default chain), or
    a profile no shared config or credentials file holds. None: nothing found."""
    if access_key and not secret_key:
        return "aws_access_key_id is set without aws_secret_access_key"
    if secret_key and not access_key:
        return "aws_secret_access_key is set without aws_access_key_id"
    if access_key or not profile:
        return None
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        profiles = botocore.session.Session().available_profiles
    except BotoCoreError as error:  # a shared file botocore cannot parse
        return f"the AWS configuration could not be read: {type(error).__name__}"
    if profile not in profiles:
        return f"the AWS profile {profile!r} is in no shared config or credentials file"
    return None


@dataclass(frozen=True, slots=True)
class _Static:
    """Keys given in the configuration: what botocore's Credentials would hold, without importing the
    credential machinery (3 MB of resident memory) for them."""

    access_key: str
    secret_key: str
    token: str | None

    def get_frozen_credentials(self) -> _Static:
        return self


class CredentialSource:
    """One provider's credentials, refreshed in a thread; `current()` is all a request reads."""

    def __init__(
        self,
        provider: str,
        lookup: Callable[[], Any],
        *,
        wait: float,
        source: str = "AWS",
        scrub: Callable[[str], str] = str,
    ) -> None:
        self.provider = provider
        self._scrub = scrub
        self._failed_at = 0.0
        self.source = source  # where the credentials were to come from, as the 502 names it
        self._lookup = lookup
        self._wait = wait
        self._found: Any = None  # botocore's credentials object, once the chain found one
        self._frozen: Frozen | None = None
        self._refresh: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._problem = MISSING
        self._used = False  # a request read the credentials since the last refresh
        self._closed = False

    def current(self) -> Frozen | None:
        """The credentials to sign with now, or None (none yet, or expired); starts a background
        refresh when they are due."""
        frozen = self._frozen
        if frozen is None or frozen.refresh_at is None:
            return frozen
        self._used = True
        now = time.time()
        if now >= frozen.refresh_at:
            self._start_refresh()
            if frozen.stale_at is not None and now >= frozen.stale_at:
                return None
        return frozen

    async def get(self) -> Frozen:
        """Valid credentials: at once when there are some, else after one bounded refresh."""
        frozen = self.current()
        if frozen is not None:
            return frozen
        in_flight = self._refresh is not None and not self._refresh.done()
        if not in_flight and time.time() - self._failed_at < _FAILURE_HOLD:
            raise credentials_missing(self.provider, self.source, self._problem)
        refresh = self._start_refresh()
        try:
            await asyncio.wait_for(asyncio.shield(refresh), self._wait)
        except TimeoutError:
            raise credentials_missing(self.provider, self.source, f"no answer within {self._wait:g} s") from None
        frozen = self.current()
        if frozen is None:
            raise credentials_missing(self.provider, self.source, self._problem)
        return frozen

    def rejected(self) -> None:
        """AWS refused the credentials (expired or revoked token): forget them and look them up again
        through the chain, in the background (botocore would hand back the same temporary ones until
        their own expiry); the requests meanwhile wait for them (bounded) instead of failing again."""
        self._frozen = None
        self._found = None
        self._start_refresh()

    async def close(self) -> None:
        """No more refreshes (the gateway's HTTP client closes: providers.bedrock registers this)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()

    def _on_timer(self) -> None:
        """The timer's refresh, only while requests use the credentials: a provider no request has
        used for a whole lifetime of its credentials (an idle gateway, or one replaced by a reload)
        stops refreshing, and its next request refreshes them as any first request does."""
        if self._closed or not self._used:
            return
        self._used = False
        self._start_refresh()

    def _start_refresh(self) -> asyncio.Future[None]:
        refresh = self._refresh
        if refresh is None or refresh.done():
            refresh = self._refresh = asyncio.ensure_future(self._refreshed())
        return refresh

    async def _refreshed(self) -> None:
        try:
            frozen = await asyncio.to_thread(self._fetch)
        except Exception as error:
            # botocore's messages name files, profiles, roles and endpoints (scrubbed all the same).
            first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
            name = type(error).__name__
            self._problem = self._scrub(f"{name}: {first}" if first else name)
            self._failed_at = time.time()
            log.warning("%s: looking up AWS credentials failed: %s", self.provider, self._problem)
            self._schedule(_RETRY_AFTER_FAILURE)
            return
        if frozen is None:
            self._problem, self._failed_at = MISSING, time.time()
            return
        self._frozen, self._failed_at = frozen, 0.0
        if frozen.refresh_at is not None:
            self._schedule(max(1.0, frozen.refresh_at - time.time()))

    def _schedule(self, delay: float) -> None:
        """The next background refresh: a timer, so an idle gateway has fresh credentials too."""
        if self._timer is not None:
            self._timer.cancel()
        if not self._closed:
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _fetch(self) -> Frozen | None:
        """In a thread: find the credentials (once), and freeze a consistent set (botocore refreshes
        temporary ones inside `get_frozen_credentials` when they are close to expiry)."""
        if self._found is None:
            self._found = self._lookup()
            if self._found is None:
                return None
        found = self._found
        frozen = found.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            return None
        # RefreshableCredentials keeps its expiry in `_expiry_time` (a datetime) and has no public
        # accessor for it; static credentials have none.
        expiry = getattr(found, "_expiry_time", None)
        expires = expiry.timestamp() if expiry is not None else None
        refresh_at = stale_at = None
        if expires is not None:
            lifetime = max(0.0, expires - time.time())
            refresh_at = expires - min(_REFRESH_AHEAD, lifetime * _REFRESH_SHARE)
            stale_at = expires - min(_EXPIRY_MARGIN, lifetime * _EXPIRED_SHARE)
        return Frozen(frozen.access_key, frozen.secret_key, frozen.token or None, expires, refresh_at, stale_at)
