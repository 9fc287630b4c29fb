"""How a Bedrock request is authorised: SigV4 with the provider's AWS credentials, or a Bedrock API
key as a bearer token.

The day's signing key (the HMAC chain from the secret key) is derived once a day (aws_signing.py). The rest
is built here too, by SigV4's rules as botocore applies them: the string to sign (timestamp, credential scope,
the canonical request's hash) and the canonical request, in a few string operations, because it signs the same
few headers of requests it made itself (content-type, host, x-amz-date, x-amz-security-token; a POST with no
query string):
botocore's general canonicaliser, written for any request, runs hundreds of Python calls through its header
and URL classes per request, where this takes a few string operations, and what a URL's requests share in one
second (`_Second`) and the signing key's HMAC pads (`_Keyed`) are made once (figures: docs/performance.md).
tests/unit/test_bedrock_translate.py holds the two to the same signature, across seconds, midnight,
URLs and rotated credentials, and the fake Bedrock recomputes every signature with SigV4Auth whole. The
request goes out on the gateway's own HTTP client.
"""

from __future__ import annotations

import hashlib
import time
from typing import Final, Protocol
from urllib.parse import quote, urlsplit

from babelgate.aws_signing import signing_key
from babelgate.http.client import refuse_line_breaks
from babelgate.providers.bedrock.credentials import CredentialSource, Frozen
from babelgate.providers.bedrock.wire import JSON_TYPE, SIGNING_NAME

ALGORITHM: Final = "AWS4-HMAC-SHA256"
_BLOCK: Final = 64  # SHA-256's block size, HMAC's pad length
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# The signed headers, in SigV4's sorted order: the ones every request has, and with a session token.
_NAMES: Final = "content-type;host;x-amz-date"
_NAMES_WITH_TOKEN: Final = "content-type;host;x-amz-date;x-amz-security-token"


# The header lines a signature adds to a request (`lines`): a provider's configured headers leave them out.
SIGNED_NAMES: Final = frozenset(("authorization", "x-amz-date", "x-amz-security-token"))


class Authorizer(Protocol):
    """The header lines that authorise one request, written out (`name: value\r\n` each, free of line breaks):
    the HTTP client adds them after the key pool's headers (the content type among those), which it renders
    once per key. A request's own headers as a dict would be rendered and checked again on every request."""

    def lines_now(self, url: str, body: bytes) -> str | None:
        """A POST's lines when they need no wait (the credentials at hand); else None: `lines` waits."""
        ...

    async def lines(self, method: str, url: str, body: bytes) -> str: ...


class BearerAuthorizer:
    """A Bedrock API key: the key pool holds `Authorization: Bearer …`; nothing is signed."""

    def lines_now(self, url: str, body: bytes) -> str | None:
        return ""

    async def lines(self, method: str, url: str, body: bytes) -> str:
        return ""


class _Keyed:
    """HMAC-SHA256 under one key (RFC 2104), with the key's inner and outer pads hashed once: a signature is
    then two copies and three updates of SHA-256 states, where `hmac.digest` works the pads out again on every
    call (less than half the time)."""

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self.inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self.outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class _Second:
    """What every request to one URL signed in one second with one set of credentials shares: the canonical
    request up to the body's hash, the string to sign up to the canonical request's hash, the day's key, and
    the lines around the signature. A request then adds two hashes and an HMAC (`SigV4Authorizer.sign`)."""

    __slots__ = ("after", "before", "canonical", "frozen", "key", "second", "to_sign")

    def __init__(
        self, frozen: Frozen, second: int, canonical: str, to_sign: bytes, key: _Keyed, before: str, after: str
    ) -> None:
        self.frozen, self.second, self.key = frozen, second, key
        self.canonical, self.to_sign, self.before, self.after = canonical, to_sign, before, after


class SigV4Authorizer:
    def __init__(self, credentials: CredentialSource, region: str) -> None:
        self._credentials = credentials
        self._region = region
        # The frozen credentials, the day, the signing key derived for that day and the credential scope
        # (`day/region/service/aws4_request`): all the same for a day's requests.
        self._auth: tuple[Frozen, str, _Keyed, str] | None = None
        self._seconds: dict[str, _Second] = {}  # URL -> what its POSTs share in the current second

    def lines_now(self, url: str, body: bytes) -> str | None:
        frozen = self._credentials.current()
        return self.sign(frozen, "POST", url, body) if frozen is not None else None

    async def lines(self, method: str, url: str, body: bytes) -> str:
        frozen = self._credentials.current() or await self._credentials.get()
        return self.sign(frozen, method, url, body)

    def sign(self, frozen: Frozen, method: str, url: str, body: bytes, *, now: float | None = None) -> str:
        """The request's x-amz-date, authorization and (with a session token) x-amz-security-token lines."""
        second = int(time.time() if now is None else now)
        shared = self._seconds.get(url) if method == "POST" else None
        if shared is None or shared.second != second or shared.frozen is not frozen:
            shared = self._second(frozen, method, url, second)
        # SigV4 (botocore's SigV4Auth.add_auth, written out: tests/unit/test_bedrock_translate.py holds the two to
        # the same lines): the canonical request ends with the body's hash, the string to sign with the canonical
        # request's, and the signature is the day key's HMAC of the string to sign.
        canonical = shared.canonical + hashlib.sha256(body).hexdigest()
        signature = shared.key.hexdigest(shared.to_sign + hashlib.sha256(canonical.encode()).hexdigest().encode())
        return shared.before + signature + shared.after

    def _second(self, frozen: Frozen, method: str, url: str, second: int) -> _Second:
        """What the requests to `url` share in `second` (kept for a POST)."""
        auth = self._auth
        if auth is None or auth[0] is not frozen:
            # The lines are written here, not checked by the HTTP client: the credentials and region, once.
            refuse_line_breaks("authorization", frozen.access_key, frozen.token or "", self._region)
            auth = self._auth = (frozen, "", _Keyed(b""), "")  # the key comes with the day
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        # botocore's `signature` derives the day's signing key (four HMACs) on every call; the key is the same
        # all day, so it is derived once and kept, and so is the credential scope (the day's).
        day = timestamp[:8]
        if auth[1] != day:
            key = signing_key(frozen.secret_key, day, self._region, SIGNING_NAME)
            auth = self._auth = (frozen, day, _Keyed(key), f"{day}/{self._region}/{SIGNING_NAME}/aws4_request")
        scope = auth[3]
        head = _head(url, method)  # once a second per URL: not kept apart
        # The canonical request: the method, URI, empty query and the host's and content type's header lines are
        # the URL's (`head`); the date and the session token are the second's and the credentials'. Header values
        # are ours, with no runs of spaces to fold.
        if frozen.token:
            names = _NAMES_WITH_TOKEN
            lines = f"x-amz-date:{timestamp}\nx-amz-security-token:{' '.join(frozen.token.split())}\n"
        else:
            names, lines = _NAMES, f"x-amz-date:{timestamp}\n"
        # No host header: the HTTP client writes it, from the same URL; the content type is the key pool's. Every
        # value is ours or the credentials' (checked when they came: `refuse_line_breaks`).
        before = (
            f"x-amz-date: {timestamp}\r\nauthorization: {ALGORITHM} Credential={frozen.access_key}/{scope}, "
            f"SignedHeaders={names}, Signature="
        )
        shared = _Second(
            frozen,
            second,
            f"{head}{lines}\n{names}\n",
            f"{ALGORITHM}\n{timestamp}\n{scope}\n".encode(),
            auth[2],
            before,
            f"\r\nx-amz-security-token: {frozen.token}\r\n" if frozen.token else "\r\n",
        )
        if method == "POST" and (url in self._seconds or len(self._seconds) < 4096):
            self._seconds[url] = shared
        return shared


def _head(url: str, method: str) -> str:
    """The head of a URL's canonical requests: the method, the canonical URI (botocore's rules: the
    default port left out, the path's own escapes escaped again, as for every service but S3), the
    empty query string, and the content-type and host header lines."""
    parts = urlsplit(url)
    if parts.query:
        raise ValueError("Bedrock requests carry no query string")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    uri = quote(parts.path or "/", safe="/~")
    return f"{method}\n{uri}\n\ncontent-type:{JSON_TYPE}\nhost:{host}\n"
