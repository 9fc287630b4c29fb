"""What every provider's I/O class does the same way: send with a key of its pool and report the
upstream's verdict on it, map an error status, read a JSON body, and read an event stream (`SSEBody`,
the one loop every stream of every provider goes through)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec
import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamAuthFailed, UpstreamProtocolError, UpstreamRateLimited
from babelgate.http import Timeouts, UpstreamClient, UpstreamResponse, drain, let_go, read_body
from babelgate.providers.base import CallNotes
from babelgate.providers.key_pool import KeyPool, MergedHeaders
from babelgate.providers.tokens import BearerTokens
from babelgate.schema.chunks import ChatChunk
from babelgate.schema.embeddings import EmbeddingResponse
from babelgate.streaming import SSEDecoder, SSEEvent, parse_frame

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
    client: UpstreamClient,
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


class SSEBody:
    """An upstream's event stream, read by the gateway's one SSE loop (`reads`): the native roads'
    relays and `translate_sse` alike go through it, each reading the frames its own way. A frame is the
    upstream's exact bytes (LF line ends, ending in a blank line), so a relay may pass it on untouched.

    What the body held after its last frame stays in the decoder, for the reader to judge at the end:
    `tail_events` (a last event without its blank line, or bare JSON) or `json_instead` (one JSON
    object where events were expected: an upstream's error answered with HTTP 200)."""

    __slots__ = ("decoder", "response")

    def __init__(self, response: UpstreamResponse, provider: str) -> None:
        self.response = response
        self.decoder = SSEDecoder(provider=provider)

    async def reads(self) -> AsyncGenerator[list[bytes], None]:
        """The complete frames of each read of the body, as they arrive (a read that completes none
        is not yielded). The wait between two reads is bounded by the connection's chunk timeout
        (http/connection.py): a stream that goes quiet ends here with UpstreamTimeout. A reader that
        stops early closes this (`contextlib.aclosing`), which lets the connection go: back to the
        pool when the body was read to its end (`end` reads the rest), dropped otherwise, so that the
        upstream stops generating when the client has gone."""
        response, decoder = self.response, self.decoder
        try:
            while chunk := await response.readany():
                frames = decoder.feed_frames(chunk)
                if frames:
                    yield frames
        finally:
            let_go(response)

    async def end(self) -> None:
        """The reader saw the stream's end marker: the little that follows is read and dropped, so
        the connection can be reused."""
        await drain(self.response)

    def tail_events(self) -> list[SSEEvent]:
        """At the body's end: a last event without the blank line after it, or a JSON body where
        events were expected, as one event (the translator raises the error it holds)."""
        decoder = self.decoder
        leftover = decoder.pending
        return decoder.close() or [event for event in (_bare_json(leftover),) if event is not None]

    def json_instead(self) -> dict[str, Any] | None:
        """At the body's end: the JSON object it held instead of events, if it is one (an upstream's
        error answered with HTTP 200 and `application/json`), else None."""
        rest = self.decoder.pending.strip()
        if not rest.startswith(b"{"):
            return None
        try:
            parsed = orjson.loads(rest)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None


class StreamTranslator(Protocol):
    """Every provider's stream translator (providers/*/stream.py): upstream events in, canonical
    chunks out. `done` turns true at the provider's end marker (Gemini has none: the connection's
    end is its end); `finish` is called when the body ended, for what the translator still holds
    (Gemini's usage), and raises when the stream ended before it was whole."""

    @property
    def done(self) -> bool: ...

    @property
    def finish_reason(self) -> str | None: ...

    def feed(self, event: SSEEvent) -> list[ChatChunk]: ...

    def finish(self) -> list[ChatChunk]: ...


async def translate_sse(
    response: UpstreamResponse,
    translator: StreamTranslator,
    notes: CallNotes,
    *,
    provider: str,
    end_marker_required: bool = False,
) -> AsyncIterator[ChatChunk]:
    """The translated road's stream: an upstream SSE body through `translator`, filling `notes`
    (usage, finish, completed). After the end marker the rest of the body is drained so the
    connection is reused. A body that ends without the marker is complete only if a finish reason
    came (and the marker is optional). A body that is one JSON object instead of events (an error
    answered with 200, no stream at all) goes to the translator as one event: it raises the
    provider's error, in the upstream's words."""
    sse = SSEBody(response, provider)
    async with contextlib.aclosing(sse.reads()) as reads:
        async for frames in reads:
            for frame in frames:
                event = parse_frame(frame) or _bare_json(frame)
                if event is None:
                    continue  # a keep-alive comment
                for canonical in translator.feed(event):
                    if canonical.usage is not None:
                        notes.usage = canonical.usage
                    yield canonical
                if translator.done:
                    notes.finish_reason, notes.completed = translator.finish_reason, True
                    await sse.end()
                    return
    for event in sse.tail_events():
        for canonical in translator.feed(event):
            if canonical.usage is not None:
                notes.usage = canonical.usage
            yield canonical
    for canonical in translator.finish():
        if canonical.usage is not None:
            notes.usage = canonical.usage
        yield canonical
    notes.finish_reason = translator.finish_reason
    if end_marker_required or translator.finish_reason is None:
        raise UpstreamProtocolError("stream_interrupted", provider=provider)
    notes.completed = True


def _bare_json(frame: bytes) -> SSEEvent | None:
    """A frame that is JSON without `data:`: how some upstreams send an error after the stream
    began (Gemini: "errors after the stream began may come as raw JSON", GEM _api_client.py)."""
    text = frame.strip()
    if text.startswith((b"{", b"[")):
        return SSEEvent(data=text.decode("utf-8", "replace"))
    return None


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

    client: UpstreamClient
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
        headers.append(("Authorization", f"Bearer {await tokens.token()}"))
    return headers
