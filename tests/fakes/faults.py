"""Faulty upstreams: an HTTP/1.1 proxy in front of a fake upstream that breaks the answer on request.

`FaultProxy(flavour, target)` listens on 127.0.0.1 and forwards each request to the fake at `target`
(the real fakes: FakeOpenAI, FakeAnthropic, FakeGemini, FakeMistral, which still check what the gateway
sends), then hands the gateway the fake's answer — broken the way the request asks. The fault is chosen
per request by the *upstream model name*: a gateway deployment of model `gpt-4o-mini~stall_head` reaches
the fake as `gpt-4o-mini` with its first byte never sent. Clients' headers never reach an upstream, but
the model name does, so one gateway config can hold every fault side by side (`fault_model`). The
marker's grammar: `<model>~<fault>[~<times>][~<tag>]`: `times` faults only the first so many requests
carrying this exact marker (then the proxy passes them through: a retry recovers), `tag` only makes the
marker unique (each test's own counter). `FaultProxy.fault` applies to requests without a marker.

What each `Fault` does, for an answer that is JSON (non-streaming) or an SSE stream, in each provider's
own wire format (`flavour`: openai — Chat Completions and the Responses API —, anthropic, gemini,
mistral). A fault that breaks the fake's answer sends a 200 head (chunked) at once and, while the
fake takes its time, a keep-alive byte every `drip_interval` (JSON's leading whitespace, an SSE
comment); then the answer as the fault has it:

- `hangup`: the connection is reset (RST) once the request is read, before any byte of the answer.
- `reset`: half the body (a stream: its first two events), then an RST (SO_LINGER 0).
- `stall_head`: nothing at all, until the gateway hangs up.
- `stall_body`: half the body (a stream: its first two events), then nothing.
- `malformed`: JSON: a body that is not JSON (the real one cut in half, ended properly). A stream:
  after the first two events, one cut off inside its JSON (with the provider's event name), then the
  rest of the stream as if nothing happened.
- `truncated`: JSON: half the body, then a clean close (FIN) before the last chunk. A stream: the
  first two events, then a clean end without the terminal event (`[DONE]`, `message_stop`,
  `response.completed`, Gemini's last chunk with its finish reason).
- `error_event`: a stream: the provider's own error event after the first two: OpenAI and Mistral
  `data: {"error": …}`, Anthropic `event: error`, Gemini a `data:` JSON error object, the Responses
  API its `error` event. JSON: as `error_200`.
- `error_200`: HTTP 200 and the provider's error body (`application/json`, for a stream request too).
- `oversized`: JSON: HTTP 200, a chunked body of `oversize` bytes (200 MB) made as it is sent. A
  stream: one event that never ends (`oversize` bytes without a blank line).
- `endless`: a stream: the first events, then a content event of 16 KiB of text again and again, as
  fast as the gateway reads, until it hangs up (or `stall_limit` passes). JSON: as `oversized`.
- `drip`: the head at once, then the body one byte every `drip_interval` (0.2 s).
- `gzip_bomb`: `Content-Encoding: gzip`, and `oversize` bytes of text (an answer, or one event) that
  compress a thousandfold: 200 MB in ~200 KB, sent 64 MiB of text (~64 KiB) at a time.

`Fault.REFUSED` is not the proxy's: nothing listens at `refusing_url()`, so connections are refused.
The proxy keeps a healthy answer's connection alive (the gateway pools it) and closes a faulty one.
It runs on whatever event loop `start()` is awaited on; `gave_up` says, by marker, how long after its
request the gateway closed a stalled, dripping, endless or oversized answer (it gave up, as it should),
`open_connections` counts the connections the proxy holds now. OpenAI's own Responses API (`/v1/responses`,
which FakeOpenAI answers only when scripted) is answered by the proxy itself, after the same spec check.

`FaultServers` runs the four fakes, each behind its proxy, in a process of their own: their CPU (the
fakes check every request against the real APIs' types; the proxies make 200 MB answers) never competes
for a test process's GIL with the gateway whose timeouts it measures, and their memory and descriptors
are not the test process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import re
import socket
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final
from urllib.parse import quote, unquote

import aiohttp
import orjson

from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes import openai_upstream as oai
from tests.fakes.openai_spec import spec_violations

MiB: Final = 1024 * 1024
# What the injected error events and bodies say: tests look for it in what the client got.
INJECTED: Final = "fault injected by the test proxy"
MARK: Final = "~"
_SSE_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_HOP_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server", "content-encoding"}
)
_REQUEST_HEAD_LIMIT: Final = 64 * 1024


class Fault(StrEnum):
    REFUSED = "refused"
    HANGUP = "hangup"
    RESET = "reset"
    STALL_HEAD = "stall_head"
    STALL_BODY = "stall_body"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    ERROR_EVENT = "error_event"
    ERROR_200 = "error_200"
    OVERSIZED = "oversized"
    ENDLESS = "endless"
    DRIP = "drip"
    GZIP_BOMB = "gzip_bomb"


def fault_model(model: str, fault: Fault | str, *, times: int | None = None, tag: str = "") -> str:
    """The upstream model name that asks the proxy for `fault` (see the module's docstring)."""
    name = f"{model}{MARK}{fault}"
    if times is not None:
        name += f"{MARK}{times}"
    return name + (f"{MARK}{tag}" if tag else "")


def refusing_url(path: str = "") -> str:
    """An http URL on 127.0.0.1 where nothing listens: a port the kernel just gave us, closed again
    without listening, so connecting to it is refused at once (ECONNREFUSED)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def error_payload(flavour: str) -> dict[str, Any]:
    """The provider's error body, as its API sends it with an HTTP error (here: with a 200)."""
    if flavour == "anthropic":
        return ant.error_body("api_error", INJECTED)
    if flavour == "gemini":
        return gem.error_body(500, "INTERNAL", INJECTED)
    if flavour == "mistral":
        return mis.error_body(INJECTED, type="internal_server_error", code="3000")
    return {"error": {"message": INJECTED, "type": "server_error", "param": None, "code": None}}


def error_event(flavour: str) -> bytes:
    """The provider's own error event inside a stream that already began."""
    if flavour == "anthropic":
        return ant.sse_frame(ant.error_event("api_error", INJECTED))
    if flavour == "gemini":
        return gem.sse_frame(gem.error_chunk(500, "INTERNAL", INJECTED))
    # OpenAI (Chat Completions; the Responses API has its `error` event, below) and Mistral alike.
    return (
        b"data: "
        + orjson.dumps({"error": {"message": INJECTED, "type": "server_error", "param": None, "code": None}})
        + b"\n\n"
    )


def content_event(flavour: str, text: str, *, responses: bool = False) -> bytes:
    """One event of an answer's text, in the provider's stream format (the Responses API's with
    `responses`): what an endless stream repeats."""
    if responses:
        event = {
            "type": "response.output_text.delta",
            "item_id": "msg_fault_proxy",
            "output_index": 0,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
            "sequence_number": 2,
        }
        return b"event: response.output_text.delta\ndata: " + orjson.dumps(event) + b"\n\n"
    if flavour == "anthropic":
        return ant.sse_frame({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
    if flavour == "gemini":
        return gem.sse_frame(gem.chunk([gem.text_part(text)]))
    return b"data: " + orjson.dumps(oai.chunk({"content": text})) + b"\n\n"  # OpenAI's and Mistral's chunks


def malformed_event(flavour: str, *, responses: bool = False) -> bytes:
    """A content event cut off inside its JSON, in the provider's framing (event names included)."""
    if responses:
        return b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", "delta\n\n'
    if flavour == "anthropic":
        return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta\n\n'
    if flavour == "gemini":
        return b'data: {"candidates": [{"content": {"parts": [{"text\r\n\r\n'
    return b'data: {"id": "broken", "choices": [{"delta\n\n'


def _responses_error_event() -> bytes:
    event = {"type": "error", "sequence_number": 3, "code": "server_error", "message": INJECTED, "param": None}
    return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"


@dataclass
class Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Answer:
    """The fake's answer, read whole: status, headers, and the body (or the stream's events)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    events: list[bytes] | None  # an SSE answer, split into its events (each with its blank line)


@dataclass
class FaultProxy:
    flavour: str
    target: str  # the fake's root URL, http://127.0.0.1:port
    fault: Fault | None = None  # for requests whose model carries no marker
    oversize: int = 200 * 1000 * 1000
    drip_interval: float = 0.2
    stall_limit: float = 30.0  # a stalled answer gives up after this long if the gateway never does
    port: int = 0
    # marker → seconds from its request to the gateway's hang-up, for the answers that never end on
    # their own (stalled, dripping, endless, oversized): how long the gateway let them run.
    gave_up: dict[str, float] = field(default_factory=dict)
    faulted: Counter[str] = field(default_factory=Counter)  # fault → answers broken so
    violations: list[str] = field(default_factory=list)  # what the Responses API's spec refuses (answered here)
    _counts: Counter[str] = field(default_factory=Counter)  # marker → requests seen
    _server: asyncio.Server | None = None
    _session: aiohttp.ClientSession | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    def reset(self) -> None:
        """Forget the markers' counts (a `~times` marker faults again) and the tallies."""
        self._counts.clear()
        self.faulted.clear()
        self.gave_up.clear()

    async def start(self) -> None:
        # Our own connections to the fake: closed after each answer, so the fake's count stays exact.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True), auto_decompress=False)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_REQUEST_HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._session is not None:
            await self._session.close()

    # --- one connection: requests in turn, while the answers are healthy -----------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None or not await self._answer(request, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _select(self, request: Request) -> tuple[Fault | None, bool, str]:
        """The fault the request's model asks for (the marker is taken off before the fake sees it),
        whether the request asks for a stream, and the marker."""
        if self.flavour == "gemini":
            match = re.search(r"/models/([^/:?]+)", request.path)
            model = unquote(match.group(1)) if match else ""
            base, marker = _split(model)
            if match and marker:
                start, end = match.span(1)
                request.path = request.path[:start] + quote(base, safe="-._~") + request.path[end:]
            stream = ":streamGenerateContent" in request.path
        else:
            try:
                body = orjson.loads(request.body) if request.body else None
            except orjson.JSONDecodeError:
                body = None
            model = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else ""
            base, marker = _split(model)
            if marker and isinstance(body, dict):
                body["model"] = base
                request.body = orjson.dumps(body)
            stream = isinstance(body, dict) and body.get("stream") is True
        if not marker:
            return self.fault, stream, ""
        parts = marker.split(MARK)
        fault = Fault(parts[0])
        self._counts[marker] += 1
        if len(parts) > 1 and parts[1].isdigit() and self._counts[marker] > int(parts[1]):
            return None, stream, marker
        return fault, stream, marker

    async def _answer(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; True if the connection may carry another."""
        fault, stream, marker = self._select(request)
        if fault is not None:
            self.faulted[fault] += 1
        started = asyncio.get_running_loop().time()

        def gave_up() -> None:
            self.gave_up[marker] = asyncio.get_running_loop().time() - started

        if fault is Fault.HANGUP:
            _reset(writer)
            return False
        if fault is Fault.STALL_HEAD:
            await self._stall(reader, gave_up)
            return False
        if fault is Fault.ERROR_200 or (fault is Fault.ERROR_EVENT and not stream):
            _write_head(
                writer,
                200,
                [("Content-Type", "application/json")],
                length=len(body := orjson.dumps(error_payload(self.flavour))),
            )
            writer.write(body)
            await writer.drain()
            return True
        if fault is Fault.OVERSIZED or (fault is Fault.ENDLESS and not stream):
            await self._oversized(writer, reader, stream, gave_up)
            return False
        if fault is Fault.GZIP_BOMB:
            await self._oversized(writer, reader, stream, gave_up, compressed=True)
            return False
        if fault is not None:
            # The head at once, before the fake is asked (however busy it is, the gateway's first-byte
            # limit is not what these faults are about); the body follows in chunks.
            _write_head(
                writer, 200, [("Content-Type", "text/event-stream" if stream else "application/json")], chunked=True
            )
        if _is_responses(self.flavour, request):
            answer = self._responses(request)
        elif fault is None:
            answer = await self._fetch(request)
        else:
            answer = await self._fetch_keeping_alive(request, writer, stream)
        if fault is None:
            await _write_whole(writer, answer)
            return True
        if answer.status != 200:  # the fake refused the request (its violations say why): pass it on
            _write_chunk(writer, answer.body)
            writer.write(b"0\r\n\r\n")
            return False
        if answer.events is None:
            return await self._break_json(fault, answer, reader, writer, gave_up)
        return await self._break_stream(fault, answer, reader, writer, gave_up)

    async def _fetch(self, request: Request) -> Answer:
        assert self._session is not None
        headers = [
            (name, value)
            for name, value in request.headers
            if name.lower() not in _HOP_HEADERS and name.lower() not in ("host", "accept-encoding")
        ]
        async with self._session.request(
            request.method, self.target + request.path, headers=headers, data=request.body or None
        ) as response:
            body = await response.read()
            kept = [(name, value) for name, value in response.headers.items() if name.lower() not in _HOP_HEADERS]
            sse = response.headers.get("Content-Type", "").startswith("text/event-stream")
            return Answer(response.status, kept, body, _events(body) if sse else None)

    async def _fetch_keeping_alive(self, request: Request, writer: asyncio.StreamWriter, stream: bool) -> Answer:
        """The fake's answer, with the head already sent: while the fake takes its time (a busy test
        machine), a byte of keep-alive every `drip_interval` — JSON's leading whitespace, an SSE comment —
        so that the gateway's limits see the fault, not the fake's delay."""
        fetch = asyncio.ensure_future(self._fetch(request))
        try:
            while not fetch.done():
                await asyncio.wait([fetch], timeout=self.drip_interval)
                if not fetch.done():
                    _write_chunk(writer, b":\n\n" if stream else b" ")
                    await writer.drain()
        finally:
            if not fetch.done():
                fetch.cancel()
        return fetch.result()

    def _responses(self, request: Request) -> Answer:
        """OpenAI's own Responses API (the gateway's native road), which FakeOpenAI answers only when
        scripted: answered here, after the same check against the spec."""
        body = orjson.loads(request.body)
        self.violations += spec_violations(body, "CreateResponse")
        resource = responses_resource(str(body.get("model", "")))
        if not body.get("stream"):
            return Answer(200, [("Content-Type", "application/json")], orjson.dumps(resource), None)
        pending = {**resource, "status": "in_progress", "output": [], "usage": None}
        item = resource["output"][0]
        events = [
            {"type": "response.created", "response": pending},
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": "Hel",
                "logprobs": [],
            },
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": "lo!",
                "logprobs": [],
            },
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": resource},
        ]
        frames = [
            b"event: "
            + event["type"].encode()
            + b"\ndata: "
            + orjson.dumps({**event, "sequence_number": number})
            + b"\n\n"
            for number, event in enumerate(events)
        ]
        return Answer(200, [("Content-Type", "text/event-stream")], b"".join(frames), frames)

    # --- breaking a JSON answer ------------------------------------------------------------------------

    async def _break_json(
        self,
        fault: Fault,
        answer: Answer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        gave_up: Callable[[], None],
    ) -> bool:
        """A JSON answer, its head already sent (chunked)."""
        body, half = answer.body, answer.body[: len(answer.body) // 2]
        if fault is Fault.DRIP:
            return await self._drip(writer, reader, body, gave_up)
        _write_chunk(writer, half)
        if fault is Fault.MALFORMED:  # the half, as if it were the whole
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        await writer.drain()
        if fault is Fault.STALL_BODY:
            await self._stall(reader, gave_up)
        elif fault is Fault.RESET:
            await _reset_after_delivery(writer)
        else:  # TRUNCATED: a clean close (FIN), without the rest nor the last chunk
            writer.close()
        return False

    # --- breaking a stream -----------------------------------------------------------------------------

    async def _break_stream(
        self,
        fault: Fault,
        answer: Answer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        gave_up: Callable[[], None],
    ) -> bool:
        events = answer.events or []
        first, rest = events[:2], events[2:]
        if fault is Fault.DRIP:
            return await self._drip(writer, reader, b"".join(events), gave_up)
        _write_chunk(writer, b"".join(first))
        await writer.drain()
        if fault is Fault.RESET:
            await _reset_after_delivery(writer)
            return False
        if fault is Fault.STALL_BODY:
            await self._stall(reader, gave_up)
            return False
        if fault is Fault.ENDLESS:
            responses = any(b"response.created" in event for event in first)
            await self._repeat(writer, reader, content_event(self.flavour, "a" * 16384, responses=responses), gave_up)
            return False
        responses = any(b"response.created" in event for event in first)
        if fault is Fault.MALFORMED:
            _write_chunk(writer, malformed_event(self.flavour, responses=responses) + b"".join(rest))
        elif fault is Fault.ERROR_EVENT:
            _write_chunk(writer, _responses_error_event() if responses else error_event(self.flavour))
        # TRUNCATED (and ERROR_EVENT's end): a clean end of the HTTP message, without the terminal event.
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _oversized(
        self,
        writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader,
        stream: bool,
        gave_up: Callable[[], None],
        *,
        compressed: bool = False,
    ) -> None:
        """`oversize` bytes made as they are sent (never held): a JSON answer whose text goes on and
        on, or a stream's event that never ends; gzip-compressed if `compressed`. The gateway should
        give up long before the end; if the sockets took it all, the proxy waits for it to hang up."""
        kind = "text/event-stream" if stream else "application/json"
        headers = [("Content-Type", kind), *([("Content-Encoding", "gzip")] if compressed else [])]
        _write_head(writer, 200, headers, chunked=True)
        if stream:
            opening = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"'
        else:
            opening = b'{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"content":"'
        if compressed:
            head, block = _gzip_bomb(opening)
        else:
            head, block = opening, b"a" * MiB
        _write_chunk(writer, head)
        try:
            for _ in range(self.oversize // (_BOMB_BATCH if compressed else MiB)):
                _write_chunk(writer, block)
                await writer.drain()
        except (ConnectionError, OSError):
            gave_up()
            return
        await self._stall(reader, gave_up)

    async def _repeat(
        self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader, event: bytes, gave_up: Callable[[], None]
    ) -> None:
        """`event` again and again, as fast as the gateway takes it, until it hangs up (or
        `stall_limit` seconds pass: a gateway that never does fails its test, without this going on)."""
        block = event * max(1, 64 * 1024 // len(event))
        gone = asyncio.ensure_future(reader.read(1))
        deadline = asyncio.get_running_loop().time() + self.stall_limit
        try:
            while not gone.done() and asyncio.get_running_loop().time() < deadline:
                _write_chunk(writer, block)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            gone.cancel()
        gave_up()

    async def _drip(
        self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader, body: bytes, gave_up: Callable[[], None]
    ) -> bool:
        """One byte every `drip_interval` (a chunk each); stops when the gateway hangs up."""
        gone = asyncio.ensure_future(reader.read(1))
        try:
            for index in range(len(body)):
                _write_chunk(writer, body[index : index + 1])
                await writer.drain()
                await asyncio.wait([gone], timeout=self.drip_interval)
                if gone.done():
                    gave_up()
                    return False
        except (ConnectionError, OSError):
            gave_up()
            return False
        finally:
            gone.cancel()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return False

    async def _stall(self, reader: asyncio.StreamReader, gave_up: Callable[[], None]) -> None:
        """Send nothing until the gateway closes the connection (or `stall_limit` passes)."""
        try:
            await asyncio.wait_for(reader.read(1), self.stall_limit)
        except (ConnectionError, OSError):
            pass
        except TimeoutError:
            return
        gave_up()


def responses_resource(model: str, text: str = "Hello!") -> dict[str, Any]:
    """A completed Responses API resource with one message saying `text`."""
    return {
        "id": "resp_fault_proxy",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "model": model,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "output": [
            {
                "type": "message",
                "id": "msg_fault_proxy",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        ],
        "usage": {
            "input_tokens": 5,
            "output_tokens": 2,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _is_responses(flavour: str, request: Request) -> bool:
    return flavour == "openai" and request.path.split("?")[0].endswith("/responses")


_BOMB_BATCH: Final = 64 * MiB  # of text, in one write of ~64 KiB: one read of the gateway's holds it


@functools.cache
def _gzip_bomb(opening: bytes) -> tuple[bytes, bytes]:
    """`opening` and a MiB of text, gzipped; then 64 MiB of text as deflate blocks that may be sent again
    and again (after a sync flush a block refers only to the last 32 KiB, which are all `a`)."""
    gzip = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"a" * MiB
    head = gzip.compress(opening) + gzip.compress(block) + gzip.flush(zlib.Z_SYNC_FLUSH)
    batch = b"".join(gzip.compress(block) + gzip.flush(zlib.Z_SYNC_FLUSH) for _ in range(_BOMB_BATCH // MiB))
    return head, batch


def _split(model: str) -> tuple[str, str]:
    base, _, marker = model.partition(MARK)
    return base, marker


def _events(body: bytes) -> list[bytes]:
    """An SSE body as its events, each with the blank line that ends it (a last one without it kept)."""
    events, start = [], 0
    for match in _SSE_END.finditer(body):
        events.append(body[start : match.end()])
        start = match.end()
    if body[start:].strip():
        events.append(body[start:])
    return events


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:] if line)]
    length = next((int(value) for name, value in headers if name.lower() == "content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return Request(method, path, headers, body)


def _write_head(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[str, str]],
    *,
    length: int | None = None,
    chunked: bool = False,
) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {length}" if not chunked else "Transfer-Encoding: chunked")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(b"%x\r\n%b\r\n" % (len(data), data))


async def _write_whole(writer: asyncio.StreamWriter, answer: Answer) -> None:
    _write_head(writer, answer.status, answer.headers, length=len(answer.body))
    writer.write(answer.body)
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN: SO_LINGER on, with a zero timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _reset_after_delivery(writer: asyncio.StreamWriter) -> None:
    """An RST once what was written has reached the gateway (an RST discards unsent bytes)."""
    await writer.drain()
    await asyncio.sleep(0.05)
    _reset(writer)


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


# --- the fakes and their proxies in a process of their own ----------------------------------------


class FaultServers:
    """The four fakes (FakeOpenAI, FakeAnthropic, FakeGemini, FakeMistral), each behind a FaultProxy of
    its flavour, in a process of their own: their CPU (the fakes check every request against the real
    APIs' types; the proxies make 200 MB answers) never competes for the test process's GIL with the
    gateway whose timeouts a test measures, and their memory and descriptors are not the test
    process's. `fakes[flavour]` and `proxies[flavour]` are root URLs; the rest goes by message."""

    def __init__(self, *, oversize: int = 200 * 1000 * 1000) -> None:
        self.oversize = oversize
        self.fakes: dict[str, str] = {}
        self.proxies: dict[str, str] = {}
        self._process: Any = None
        self._pipe: Any = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve_faults, args=(child, self.oversize), daemon=True, name="fault-servers"
        )
        self._process.start()
        child.close()
        if not self._pipe.poll(60):
            raise RuntimeError("the fault servers did not start")
        self.fakes, self.proxies = self._pipe.recv()

    def call(self, command: str, *args: Any) -> Any:
        """`reset` (markers' counts, `gave_up`), `gave_up` ({flavour: {marker: seconds}}), `open`
        (connections the proxies hold), `violations` ({flavour: what the fake refused}), `forget`
        (the fakes' records of requests), `oversize` (bytes, for every proxy)."""
        self._pipe.send((command, args))
        if not self._pipe.poll(60):
            raise RuntimeError(f"the fault servers did not answer {command!r}")
        ok, value = self._pipe.recv()
        if not ok:
            raise RuntimeError(f"the fault servers failed {command!r}: {value}")
        return value

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.pid is None:  # it never started
            self._process = None
            return
        with contextlib.suppress(Exception):
            self.call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        self._pipe.close()
        self._process = None


def _serve_faults(pipe: Any, oversize: int) -> None:
    asyncio.run(_faults_main(pipe, oversize))


async def _faults_main(pipe: Any, oversize: int) -> None:
    fakes: dict[str, Any] = {
        "openai": oai.FakeOpenAI(),
        "anthropic": ant.FakeAnthropic(),
        "gemini": gem.FakeGemini(),
        "mistral": mis.FakeMistral(),
    }
    proxies: dict[str, FaultProxy] = {}
    for flavour, fake in fakes.items():
        await fake.start()
        proxies[flavour] = FaultProxy(flavour, f"http://127.0.0.1:{fake.port}", oversize=oversize)
        await proxies[flavour].start()
    pipe.send(
        (
            {flavour: f"http://127.0.0.1:{fake.port}" for flavour, fake in fakes.items()},
            {flavour: proxy.url for flavour, proxy in proxies.items()},
        )
    )
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, args = await loop.run_in_executor(None, pipe.recv)
            if command == "stop":
                pipe.send((True, None))
                return
            try:
                pipe.send((True, _command(command, args, fakes, proxies)))
            except Exception as error:  # the test process raises it
                pipe.send((False, repr(error)))
    finally:
        for proxy in proxies.values():
            await proxy.stop()
        for fake in fakes.values():
            await fake.stop()


def _command(command: str, args: tuple[Any, ...], fakes: dict[str, Any], proxies: dict[str, FaultProxy]) -> Any:
    if command == "reset":
        for proxy in proxies.values():
            proxy.reset()
        return None
    if command == "gave_up":
        return {flavour: dict(proxy.gave_up) for flavour, proxy in proxies.items()}
    if command == "open":
        return sum(proxy.open_connections for proxy in proxies.values())
    if command == "violations":
        found = {flavour: list(fake.spec_violations) for flavour, fake in fakes.items()}
        found["openai"] += proxies["openai"].violations  # the Responses API, answered by the proxy
        return found
    if command == "forget":
        for fake in fakes.values():
            fake.received.clear()
        return None
    if command == "oversize":
        for proxy in proxies.values():
            proxy.oversize = args[0]
        return None
    raise ValueError(f"unknown command {command!r}")
