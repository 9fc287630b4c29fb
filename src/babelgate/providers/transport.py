"""What every provider's I/O class does the same way: send with a key of its pool and report the
upstream's verdict on it, map an error status, read a JSON body. An event stream is `sse.py`'s.

Compiled (buildtools/babelgate_build.py's HOT): every request to every provider goes through `send_checked`. The
client and its responses are typed by their protocols (http/seam.py), which a test's stubs satisfy too."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec
import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamAuthFailed, UpstreamProtocolError, UpstreamRateLimited
from babelgate.http import Sender, Timeouts, UpstreamResponse, read_body
from babelgate.providers.key_pool import KeyPool, MergedHeaders
from babelgate.providers.tokens import BearerTokens
from babelgate.schema.embeddings import EmbeddingResponse

if TYPE_CHECKING:  # aiohttp (~14 MiB) loads with the first form sent, not with the gateway
    import aiohttp


class ErrorMapper(Protocol):
    def __call__(
        self,
        status: int,
        body: bytes,
        headers: CIMultiDictProxy[str] | None,
        *,
        provider: str,
        scrub: Callable[[str], str],
    ) -> GatewayError: ...


Headers = TypeVar("Headers", bound=Mapping[str, str])
Read = TypeVar("Read")


async def send_checked(
    client: Sender,
    method: str,
    url: str,
    *,
    provider: str,
    keys: KeyPool[Headers],
    body: bytes | None,
    timeouts: Timeouts,
    map_error: ErrorMapper,
    scrub: Callable[[str], str],
    headers: Mapping[str, str] | None = None,
    keyed: bool = True,
    lines: str = "",
) -> UpstreamResponse:
    """The response once the upstream accepted the request, sent with the headers of the pool's next
    key (`keys`, one header set per key), `headers` on top and `lines` (header lines written by the caller,
    free of line breaks: a signature's) after them. An error status is raised, mapped, and
    the key hears the verdict: it rests after a 429, is out after our credentials were rejected, and the
    error says whether another key of the pool is free (`other_key_free`), for the router. Not `keyed`:
    the credentials are a token in `headers` (Upstream's tokens), whose refusal says nothing of the pool."""
    index = keys.pick()
    headers = keys.items[index] if headers is None else merged_headers(keys.items[index], headers, keys.merged)
    response = await client.send(
        method, url, provider=provider, headers=headers, body=body, timeouts=timeouts, lines=lines
    )
    if response.status >= 400:
        raw = await read_body(response)
        error = map_error(response.status, raw, response.headers, provider=provider, scrub=scrub)
        if isinstance(error, UpstreamRateLimited):
            keys.rest(index, error.retry_after)
        elif isinstance(error, UpstreamAuthFailed) and keyed:
            keys.reject(index)
        else:
            raise error
        error.other_key_free = len(keys) > 1 and keys.has_free()
        raise error
    return response


def merged_headers(own: Mapping[str, str], extra: Mapping[str, str], kept: MergedHeaders) -> Mapping[str, str]:
    """`own` with `extra` on top. Where both are read-only mappings kept by their provider (a key's headers, a
    model's `anthropic-beta`), the same read-only result every time, kept in `kept` (the key pool's: what one
    gateway's keys merged is never another's): the client renders its lines once."""
    if type(extra) is not MappingProxyType or type(own) is not MappingProxyType:
        return {**own, **extra}
    slot = (id(own), id(extra))
    known = kept.get(slot)
    if known is not None and known[0] is own and known[1] is extra:
        return known[2]
    if len(kept) >= 1024:
        kept.clear()
    merged = MappingProxyType({**own, **extra})
    kept[slot] = (own, extra, merged)
    return merged


def checked_data(data: bytes, provider: str) -> bytes:
    """An event's data that a relay passes on without parsing it: it must at least have the shape
    of a JSON object, so that a client never gets an event its SDK cannot read (a cut-off event)."""
    if data[:1] == b"{" and data[-1:] == b"}":  # the usual event: no copy
        return data
    body = data.strip()
    if body and not (body.startswith(b"{") and body.endswith(b"}")):
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not JSON")
    return data


def event_object(data: str | bytes, provider: str) -> dict[str, Any]:
    """One stream event's JSON object; anything else is the upstream's protocol error."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not an object")
    return parsed


@dataclass(frozen=True, slots=True)
class Upstream:
    """One provider's way to its upstream: the shared client, its key pool, timeouts, error table and the
    scrubber of its secrets, so that a provider's I/O names only the URL and the body. With `tokens`
    (a cloud's short-lived bearer tokens, tokens.py) each request also carries the current token."""

    client: Sender
    provider: str
    keys: KeyPool[Any]  # each key's header set (a TypeVar in send_checked)
    timeouts: Timeouts
    map_error: ErrorMapper
    scrub: Callable[[str], str]
    tokens: BearerTokens | None = None

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *, lines: str = ""
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        """send_checked's POST (a plain call that hands back its coroutine: no frame of its own per request)."""
        if self.tokens is not None:
            return self._with_token("POST", url, body, headers)
        return self._send("POST", url, body, headers, lines=lines)

    def get(self, url: str, *, lines: str = "") -> Coroutine[Any, Any, UpstreamResponse]:
        """send_checked's GET, its body left for the caller to read (a file's content, line by line); `lines` are a
        signature's header lines, as a POST's."""
        if self.tokens is not None:
            return self._with_token("GET", url, None, None)
        return self._send("GET", url, None, None, lines=lines)

    def delete(self, url: str) -> Coroutine[Any, Any, UpstreamResponse]:
        """send_checked's DELETE (a file the gateway uploaded and no longer needs)."""
        if self.tokens is not None:
            return self._with_token("DELETE", url, None, None)
        return self._send("DELETE", url, None, None)

    async def get_json(self, url: str) -> dict[str, Any]:
        """A GET whose answer is a JSON object (an upstream's model listing, a batch's state)."""
        return (await read_json_object(await self.get(url), self.provider))[1]

    async def post_form(self, url: str, form: aiohttp.FormData) -> UpstreamResponse:
        """A multipart upload (image edits, audio, a batch's input file): the form rendered once (what it holds is
        already in memory) and posted with its boundary as the content type, under the name the key's headers give
        the content type (`Content-Type` or `content-type`: one header, never both)."""
        writer = form()
        body = await writer.as_bytes()
        named = next((name for name in self.keys.items[0] if name.lower() == "content-type"), "Content-Type")
        return await self.post(url, body, {named: writer.content_type})

    def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        *,
        keyed: bool = True,
        lines: str = "",
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        return send_checked(
            self.client,
            method,
            url,
            provider=self.provider,
            keys=self.keys,
            body=body,
            timeouts=self.timeouts,
            map_error=self.map_error,
            scrub=self.scrub,
            headers=headers,
            keyed=keyed,
            lines=lines,
        )

    async def _with_token(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> UpstreamResponse:
        """The request with the current bearer token. A token the upstream refuses with 401 (expired
        early, revoked) is dropped and the request sent once more with a new one; a second refusal is
        the answer. A refusal says nothing against the pool's entry (the token was at fault), which stays in."""
        tokens = self.tokens
        assert tokens is not None
        for attempt in (1, 2):
            token = await tokens.token()
            try:
                return await self._send(
                    method, url, body, {**(headers or {}), "authorization": f"Bearer {token}"}, keyed=False
                )
            except UpstreamAuthFailed as error:
                if error.status != 401 or attempt == 2:
                    raise
                tokens.invalidate(token)
        raise AssertionError("unreachable")  # the loop returns or raises


async def read_json_object(response: UpstreamResponse, provider: str) -> tuple[bytes, dict[str, Any]]:
    """The body as bytes and as a parsed object; anything else is the upstream's protocol error."""
    raw = response.read_now()
    if raw is None:
        raw = await read_body(response)
    return raw, json_object(raw, provider)


def skim(raw: bytes, decoder: msgspec.json.Decoder[Read]) -> Read | None:
    """`raw` read into the few fields a relay keeps (`decoder`'s struct), the rest checked as JSON but not made
    into objects; None when it does not have the struct's shape (not JSON, not an object, an error object), for
    the caller to parse it whole (`json_object`) and say what it is.

    Where orjson makes an object of every value for the two or three a relay reads (the answer's text, ids,
    every candidate or choice), msgspec skips them: ~60 % of the parse of the bench's answers. What it skips it
    does not check to be UTF-8: an answer that is not all ASCII is decoded once to check it."""
    try:
        read = decoder.decode(raw)
        if not raw.isascii():
            raw.decode()
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    return read


def json_object(raw: bytes, provider: str) -> dict[str, Any]:
    """`raw` parsed as a JSON object; anything else is the upstream's protocol error."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(provider=provider, detail="the body is not a JSON object")
    return parsed


def checked_embeddings(
    parsed: dict[str, Any], inputs: int, provider: str, from_wire: Callable[[dict[str, Any]], EmbeddingResponse]
) -> EmbeddingResponse:
    """An embeddings answer read by `from_wire`, with one vector per input, or a protocol error:
    a vector too few would shift every later one onto the wrong input."""
    try:
        answer = from_wire(parsed)
    except (AttributeError, TypeError, ValueError, KeyError):
        raise UpstreamProtocolError(provider=provider, detail="the body has the wrong shape") from None
    if len(answer.vectors) != inputs:
        raise UpstreamProtocolError(provider=provider, detail=f"{len(answer.vectors)} embeddings for {inputs} inputs")
    return answer


def websocket_url(url: str) -> str:
    """`url` (http:// or https://) as the WebSocket URL of the same place."""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


async def socket_headers(pool: KeyPool[Any], tokens: BearerTokens | None) -> list[tuple[str, str]]:
    """The headers of a WebSocket handshake: a key of the pool's (its body's content type left out), or the
    cloud's current token."""
    headers = [(name, value) for name, value in pool.items[pool.pick()].items() if name.lower() != "content-type"]
    if tokens is not None:
        token = await tokens.token()  # awaited apart: mypyc cannot compile an await inside an f-string
        headers.append(("Authorization", f"Bearer {token}"))
    return headers
