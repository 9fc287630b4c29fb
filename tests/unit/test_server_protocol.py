"""`babelgate serve`'s HTTP/1.1 protocol (server_protocol.py) on a recording transport: what it writes, and
when. Over real sockets: tests/reliability/test_pipelining.py, test_hostile_input.py, test_graceful_shutdown.py."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from babelgate.exchange import BODY_FOLLOWS, PIECES
from babelgate.headers import LINES, LINES_EXTENSION, CheckedLines, lines_are_safe, pairs
from babelgate.server_protocol import GatewayHttpProtocol, Limits, set_limits

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
GET = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"


class RecordingTransport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False
        self.reading = True

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, chunks: Any) -> None:
        self.calls.append(("writelines", [bytes(chunk) for chunk in chunks]))

    def close(self) -> None:
        if not self.closing:
            self.calls.append(("close", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name)

    def written(self) -> bytes:
        out = b""
        for kind, data in self.calls:
            if kind == "write":
                out += data
            elif kind == "writelines":
                out += b"".join(data)
        return out


def connect(app: App, **options: Any) -> tuple[GatewayHttpProtocol, RecordingTransport]:
    config = uvicorn.Config(app, lifespan="off", log_config=None, date_header=False, proxy_headers=False, **options)
    state = ServerState()
    protocol = GatewayHttpProtocol(config, state, {})
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def answering(*messages: dict[str, Any], pause: float = 0) -> App:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        for number, message in enumerate(messages):
            if number and pause:
                await asyncio.sleep(pause)
            await send(message)

    return app


START: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]}
BODY = {"type": "http.response.body", "body": b'{"ok":true}'}


async def test_the_head_and_body_of_one_answer_go_out_in_one_call() -> None:
    protocol, transport = connect(answering(START, BODY))
    protocol.data_received(GET)
    await settle()
    assert transport.calls == [("writelines", [b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n", b'{"ok":true}'])]


async def test_answers_leave_at_the_end_of_the_turn_and_an_apps_reused_buffer_is_copied_first() -> None:
    """The server writes at the end of the loop's turn (http/turn_writer.py): a body the app hands over in a
    buffer it goes on to reuse leaves as it was when it was sent."""

    async def reusing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        buffer = bytearray(b'{"ok":true}')
        await send(START)
        await send({"type": "http.response.body", "body": buffer})
        buffer[:] = b"overwritten"

    protocol, transport = connect(reusing)
    protocol.data_received(GET)
    await asyncio.sleep(0)
    assert transport.calls == []  # the task's first step sent the answer: it waits for the end of the turn
    await settle()
    assert transport.written() == b'HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}'


async def test_a_head_without_a_body_in_its_turn_leaves_alone_at_the_end_of_it() -> None:
    protocol, transport = connect(answering(START, BODY, pause=0.05))
    protocol.data_received(GET)
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n"
    await asyncio.sleep(0.1)
    assert len(transport.calls) == 2 and transport.written().endswith(b'\r\n\r\n{"ok":true}')


async def test_a_head_whose_body_follows_waits_for_it_with_nothing_scheduled() -> None:
    """`exchange.BODY_FOLLOWS` on the head: the app promises its body before any other await, so no flush is
    scheduled (here the app breaks the promise, and the head waits for the body all the same)."""
    start = {**START, BODY_FOLLOWS: True}
    protocol, transport = connect(answering(start, BODY, pause=0.05))
    protocol.data_received(GET)
    await settle()
    assert transport.calls == []
    await asyncio.sleep(0.1)
    assert transport.calls == [("writelines", [b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n", b'{"ok":true}'])]


async def test_an_answer_without_a_length_is_chunked_and_a_head_request_gets_no_body() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"Content-Type", b"text/event-stream")]}
    more = {"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True}
    end = {"type": "http.response.body", "body": b""}
    protocol, transport = connect(answering(start, more, end))
    protocol.data_received(GET)
    await settle()
    assert transport.written() == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        b"9\r\ndata: 1\n\n\r\n0\r\n\r\n"
    )
    protocol, transport = connect(answering(START, BODY))
    protocol.data_received(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n")
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n"


def piecing(start: dict[str, Any], *pieces: bytes, paused: bool = False) -> App:
    """Sends `start` and a first piece through `send`, then `pieces` through the cycle's piece writer (as the
    gateway's streams do: exchange.PIECES), then the end."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        cycle = send.__self__
        await send(start)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        if paused:
            cycle.connection.flow.pause_writing()
            asyncio.get_running_loop().call_later(0.02, cycle.connection.flow.resume_writing)
        for piece in pieces:
            await getattr(cycle, PIECES)(piece)
        await send({"type": "http.response.body", "body": b""})

    return app


STREAM_START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}


@pytest.mark.parametrize("paused", [False, True], ids=["writing", "paused-then-drained"])
async def test_a_streams_pieces_written_by_the_cycle_are_what_send_writes(paused: bool) -> None:
    pieces = (b"data: 1\n\n", b"", b"data: " + b"x" * 300 + b"\n\n")
    protocol, by_piece = connect(piecing(STREAM_START, *pieces, paused=paused))
    protocol.data_received(GET)
    messages = [{"type": "http.response.body", "body": body, "more_body": True} for body in (b"first", *pieces)]
    protocol, by_send = connect(answering(STREAM_START, *messages, {"type": "http.response.body", "body": b""}))
    protocol.data_received(GET)
    await asyncio.sleep(0.05)
    assert (
        by_piece.written()
        == by_send.written()
        == (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nfirst\r\n9\r\ndata: 1\n\n\r\n134\r\ndata: " + b"x" * 300 + b"\n\n\r\n0\r\n\r\n"
        )
    )


async def test_pieces_of_an_answer_with_a_length_or_to_a_head_request_go_through_send() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]}
    protocol, transport = connect(piecing(start, b"abcd"))
    protocol.data_received(GET)
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nfirstabcd"
    protocol, transport = connect(piecing(STREAM_START, b"abcd"))
    protocol.data_received(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n")
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"


@pytest.mark.parametrize(
    "header",
    [(b"x-note", b"one\r\nset-cookie: two"), (b"x note", b"v"), (b"x-note", b"bell\x07")],
    ids=["value-with-crlf", "name-with-space", "value-with-control"],
)
async def test_a_header_that_would_split_the_head_is_never_written(header: tuple[bytes, bytes]) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2"), header]}
    protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"{}"}))
    protocol.data_received(GET)
    await settle()
    assert transport.calls == [("close", None)]


async def test_a_tab_in_a_header_value_is_allowed() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2"), (b"x-a", b"1\t2")]}
    protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"{}"}))
    protocol.data_received(GET)
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: 1\t2\r\n\r\n{}"


@pytest.mark.parametrize(
    "header",
    [
        (b"x-a", b"1\r\nx-injected: 2"),
        (b"x-a", b"nul\x00"),
        (b"x-a", b"del\x7f"),
        (b"x a", b"1"),
        (b"x-a:", b"1"),
        (b"x-\xff", b"\x80 high bytes pass, as in uvicorn"),
    ],
)
async def test_a_header_the_head_may_not_carry_fails_the_answer(header: tuple[bytes, bytes]) -> None:
    """A name or value with a byte the head may not carry (a line break above all) fails the answer, among headers
    that may: as in uvicorn, the answer has begun, so nothing of it is written and the connection closes. Bytes past
    ASCII pass, as uvicorn lets them."""
    start = {**START, "headers": [(b"content-type", b"application/json"), header, *START["headers"]]}
    protocol, transport = connect(answering(start, BODY))
    protocol.data_received(GET)
    await settle()
    written = transport.written()
    if header[0] == b"x-\xff":
        assert written.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nx-\xff: \x80 high" in written
    else:
        assert written == b""
        assert transport.calls[-1] == ("close", None)


async def test_an_app_that_fails_before_answering_gets_a_500_and_a_closed_connection() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise ValueError("boom")

    protocol, transport = connect(failing)
    protocol.data_received(GET)
    await settle()
    assert transport.written().startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert transport.calls[-1] == ("close", None)


async def test_a_body_longer_or_shorter_than_its_length_closes_the_connection() -> None:
    for body in (b"far too long for it", b"short"):
        protocol, transport = connect(answering(START, {"type": "http.response.body", "body": body}))
        protocol.data_received(GET)
        await settle()
        assert transport.calls[-1] == ("close", None)


async def test_the_body_is_given_to_the_app_as_it_arrives_and_then_the_clients_leaving() -> None:
    got: list[dict[str, Any]] = []

    async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while len(got) < 3:  # the third waits for the client to leave: the body has ended
            got.append(await receive())

    protocol, _ = connect(echo)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
    await settle()
    assert got == [{"type": "http.request", "body": b"ab", "more_body": True}]
    protocol.data_received(b"cd")
    await settle()
    assert got[1:] == [{"type": "http.request", "body": b"cd", "more_body": False}]
    protocol.connection_lost(None)
    await settle()
    assert got[2:] == [{"type": "http.disconnect"}]


async def test_expect_100_continue_is_answered_when_the_app_reads_the_body() -> None:
    async def reading(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send(START)
        await send(BODY)

    protocol, transport = connect(reading)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    await settle()
    assert transport.written() == b"HTTP/1.1 100 Continue\r\n\r\n"
    protocol.data_received(b"{}")
    await settle()
    assert transport.written().endswith(b'\r\n\r\n{"ok":true}')


async def test_http_1_0_and_connection_close_close_after_the_answer() -> None:
    for request in (b"GET /x HTTP/1.0\r\n\r\n", b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"):
        protocol, transport = connect(answering(START, BODY))
        protocol.data_received(request)
        await settle()
        assert b"connection: close\r\n" in transport.written()
        assert transport.calls[-1] == ("close", None)


async def test_an_idle_keep_alive_connection_is_closed_after_its_timeout_and_a_busy_one_is_not() -> None:
    protocol, transport = connect(answering(START, BODY), timeout_keep_alive=0.2)
    protocol.data_received(GET)
    await asyncio.sleep(0.15)
    protocol.data_received(GET)  # a second request before the timeout: its answer starts a new idle period
    await asyncio.sleep(0.15)
    assert not transport.closing
    await asyncio.sleep(0.15)
    assert transport.closing


async def test_pipelined_requests_are_answered_in_order() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await asyncio.sleep(0.01)
        await send(START)
        await send(BODY)

    protocol, transport = connect(app)
    protocol.data_received(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
    await asyncio.sleep(0.1)
    assert seen == ["/a", "/b"]
    assert transport.written().count(b"HTTP/1.1 200 OK") == 2
    assert transport.reading


async def test_the_scope_has_what_asgi_promises() -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send(START)
        await send(BODY)

    protocol, _ = connect(app, root_path="/gw")
    protocol.data_received(b"GET /v1/a%20b?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing: Y\r\n\r\n")
    await settle()
    (scope,) = scopes
    assert scope["method"] == "GET" and scope["http_version"] == "1.1" and scope["scheme"] == "http"
    assert scope["path"] == "/gw/v1/a b" and scope["raw_path"] == b"/gw/v1/a%20b" and scope["query_string"] == b"x=1"
    assert scope["headers"] == [(b"host", b"a"), (b"x-thing", b"Y")]
    assert scope["client"] == ("127.0.0.1", 5000) and scope["server"] == ("127.0.0.1", 8000)


def test_the_bytes_a_header_may_hold_are_uvicorns() -> None:
    """The head is checked with `translate` (server_cycle._NAME_REFUSED, headers.VALUE_REFUSED), uvicorn with a regular
    expression per header: the same bytes pass both."""
    from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE

    from babelgate.headers import VALUE_REFUSED as _VALUE_REFUSED
    from babelgate.server_cycle import _NAME_REFUSED

    for byte in range(256):
        one = bytes([byte])
        assert (HEADER_RE.search(one) is None) == (one not in _NAME_REFUSED), byte
        assert (HEADER_VALUE_RE.search(one) is None) == (one not in _VALUE_REFUSED), byte


async def test_past_limit_concurrency_a_request_gets_uvicorns_503() -> None:
    protocol, transport = connect(answering(START, BODY), limit_concurrency=1)  # this connection is the one
    protocol.data_received(GET)
    await settle()
    assert transport.written().startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert transport.written().endswith(b"Service Unavailable")


@pytest.mark.parametrize("in_pieces", [False, True], ids=["one-read", "a-read-at-a-time"])
async def test_a_head_past_its_bound_is_refused_with_431_whether_it_ends_or_not(in_pieces: bool) -> None:
    """The bound counts the target and each header's name, value, colon, blank and line end: added up once the
    head ends, or after each read that leaves it unfinished (server_protocol.py `_head_size`)."""
    set_limits(Limits(max_header_bytes=1000))
    try:
        line = b"X-Pad: " + b"a" * 91 + b"\r\n"  # 100 bytes as the bound counts them (name 5, value 91, 4)
        just = b"GET /x HTTP/1.1\r\n" + line * 9 + b"Host: " + b"h" * 88 + b"\r\n\r\n"  # 2 + 900 + 96 = 998
        protocol, transport = connect(answering(START, BODY))
        protocol.data_received(just)
        await settle()
        assert transport.written().startswith(b"HTTP/1.1 200 OK")
        endless = b"GET /x HTTP/1.1\r\n" + line * 11  # no end yet: past the bound after the read
        over = b"GET /x HTTP/1.1\r\n" + line * 10 + b"\r\n"  # 1,002: refused when it ends
        for head in (endless, over):
            protocol, transport = connect(answering(START, BODY))
            pieces = [head[i : i + 64] for i in range(0, len(head), 64)] if in_pieces else [head]
            for piece in pieces:
                if not transport.closing:
                    protocol.data_received(piece)
            await settle()
            assert transport.written().startswith(b"HTTP/1.1 431 ")
    finally:
        set_limits(Limits())


async def test_pieces_after_the_client_left_write_nothing() -> None:
    left = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(STREAM_START)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await left.wait()
        await getattr(send.__self__, PIECES)(b"data: after\n\n")
        await send({"type": "http.response.body", "body": b""})

    protocol, transport = connect(app)
    protocol.data_received(GET)
    await settle()
    written = transport.written()
    assert written.endswith(b"5\r\nfirst\r\n")
    protocol.connection_lost(ConnectionResetError())  # the transport is not closed by us: only the cycle knows
    left.set()
    await settle()
    assert transport.written() == written


@pytest.mark.parametrize(
    ("headers", "head", "closes"),
    [
        # The gateway's own: lower-case names, a length: written whole.
        (
            [(b"content-type", b"application/json"), (b"x-request-id", b"r1"), (b"content-length", b"2")],
            b"content-type: application/json\r\nx-request-id: r1\r\ncontent-length: 2\r\n\r\n",
            False,
        ),
        # Another app's: names lowered one by one, its own close honoured, tuples of lists taken.
        (
            ([b"Content-Type", b"text/plain"], [b"Content-Length", b"2"], [b"Connection", b"Keep-Alive, Close"]),
            b"content-type: text/plain\r\ncontent-length: 2\r\nconnection: Keep-Alive, Close\r\n\r\n",
            True,
        ),
        # Two lengths: the first frames the body, as uvicorn's.
        (
            [(b"content-length", b"2"), (b"content-length", b"9")],
            b"content-length: 2\r\ncontent-length: 9\r\n\r\n",
            False,
        ),
    ],
)
async def test_the_answer_head_is_written_as_uvicorn_writes_it(headers: Any, head: bytes, closes: bool) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"ok"}))
    protocol.data_received(GET)
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\n" + head + b"ok"
    assert (transport.calls[-1] == ("close", None)) == closes


async def test_header_names_are_lowered_once_remembered_and_bounded() -> None:
    """Checked names are looked up where they were lowered (the gateway's own and its upstreams' come again and
    again); a long name and names past the bound are lowered and checked each time, a refused name is never
    remembered, and a remembered name's value is still checked. (The module's own table, not a patched one: the
    compiled build reads its globals directly.)"""
    from babelgate import server_cycle

    table = server_cycle._LOWERED
    fresh = f"X-Fresh-{uuid.uuid4().hex}".encode()
    long_name = b"X-" + b"L" * 70

    async def answered(headers: list[tuple[bytes, bytes]]) -> RecordingTransport:
        start = {"type": "http.response.start", "status": 200, "headers": headers}
        protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"ok"}))
        protocol.data_received(GET)
        await settle()
        return transport

    head = [(fresh, b"1"), (long_name, b"2"), (b"content-length", b"2")]
    expected = fresh.lower() + b": 1\r\n" + long_name.lower() + b": 2\r\ncontent-length: 2\r\n\r\n"
    for _ in range(2):
        assert (await answered(head)).written() == b"HTTP/1.1 200 OK\r\n" + expected + b"ok"
    assert table[fresh] == fresh.lower()
    assert long_name not in table
    bad = f"X Bad {uuid.uuid4().hex}".encode()
    for _ in range(2):
        assert (await answered([(fresh, b"1"), (bad, b"v")])).calls == [("close", None)]
    assert bad not in table
    assert (await answered([(fresh, b"a\nb")])).calls == [("close", None)]
    # Full: a new name is lowered and checked, and not remembered.
    filler = [f"x-filler-{number}".encode() for number in range(server_cycle._LOWERED_AT_MOST - len(table))]
    table.update((name, name) for name in filler)
    try:
        late = f"X-Late-{uuid.uuid4().hex}".encode()
        assert late.lower() + b": 1\r\n" in (await answered([(late, b"1"), (b"content-length", b"2")])).written()
        assert late not in table
    finally:
        for name in filler:
            del table[name]


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-ok", b"fine"), (b"x-evil", b"a\r\nset-cookie: b")],  # a value that would split the head
        [(b"x bad", b"v")],  # a name with a space
        [(b"X-Bad", b"a\nb")],  # and on the road that lowers names one by one
    ],
)
async def test_a_header_that_would_break_the_head_is_never_written(headers: list[tuple[bytes, bytes]]) -> None:
    """As uvicorn: the app's start raises, and the connection closes with nothing of the answer written."""
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"ok"}))
    protocol.data_received(GET)
    await settle()
    assert transport.calls == [("close", None)]


async def test_a_body_that_arrived_whole_is_handed_over_without_receive_and_only_once() -> None:
    from babelgate.exchange import WHOLE_BODY

    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        whole = getattr(receive.__self__, WHOLE_BODY)
        seen.append(whole())
        seen.append(whole())  # given once: the app has it
        await send(START)
        await send(BODY)

    protocol, transport = connect(app)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd")
    await settle()
    assert seen == [b"abcd", None]
    assert transport.written().endswith(b'{"ok":true}')


async def test_a_body_still_arriving_is_read_through_receive() -> None:
    from babelgate.exchange import WHOLE_BODY

    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(getattr(receive.__self__, WHOLE_BODY)())
        message = await receive()
        while message.get("more_body"):
            more = await receive()
            message = {**more, "body": message["body"] + more["body"]}
        seen.append(message["body"])
        await send(START)
        await send(BODY)

    protocol, _transport = connect(app)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
    await settle()
    protocol.data_received(b"cd")
    await settle()
    assert seen == [None, b"abcd"]


RATE_LINES = (
    b"x-ratelimit-limit-requests: 3\r\nx-ratelimit-remaining-requests: 2\r\nx-ratelimit-reset-requests: 20s\r\n"
)


async def test_header_lines_written_whole_go_into_the_head_after_the_other_headers() -> None:
    """A `headers.LINES` pair (the rate limits' headers, written by the gateway as lines) is one piece of the head;
    the server says it takes them in the scope's extensions, where the exchange looks."""
    scopes: list[dict[str, Any]] = []
    headers = [(LINES, RATE_LINES), (b"content-length", b"2"), (LINES, b"x-ratelimit-limit-tokens: 9\r\n")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    protocol, transport = connect(app)
    protocol.data_received(GET)
    await settle()
    assert transport.written() == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n" + RATE_LINES + b"x-ratelimit-limit-tokens: 9\r\n\r\n{}"
    )
    assert LINES_EXTENSION in scopes[0]["extensions"]


@pytest.mark.parametrize(
    "lines",
    [
        b"x-a: 1\r\n\r\nHTTP/1.1 200 OK\r\n",  # an empty line: the head would end there
        b"x-a: 1\r\nx-b: 2",  # no line end: the next header would join it
        b"x-a: 1\nset-cookie: b\r\n",  # a bare line feed
        b"x-a: 1\rx-b: 2\r\n",  # a bare carriage return
        b"\r\nx-a: 1\r\n",  # an empty first line
        b"x-a: bell\x07\r\n",  # a control character
        b"",
    ],
)
async def test_header_lines_that_would_break_the_head_are_never_written(lines: bytes) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2"), (LINES, lines)]}
    protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"{}"}))
    protocol.data_received(GET)
    await settle()
    assert transport.calls == [("close", None)]


async def test_a_piece_not_checked_where_it_was_made_has_the_whole_lines_checked() -> None:
    """A checked piece (the rate limiter's) vouches for itself only: any other piece beside it is looked at,
    the joined lines whole (the seam between pieces too)."""
    headers = [(b"content-length", b"2"), (LINES, CheckedLines(RATE_LINES)), (LINES, b"\r\nHTTP/1.1 200 OK\r\n")]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    protocol, transport = connect(answering(start, {"type": "http.response.body", "body": b"{}"}))
    protocol.data_received(GET)
    await settle()
    assert transport.calls == [("close", None)]


async def test_checked_pieces_are_written_as_they_are() -> None:
    """What `CheckedLines` means to the server: made of pieces checked where they were made, they go into the head
    without another pass over their bytes (the limiter checks its templates once and fills in numbers and reset
    texts it checked when first written: tests/unit/test_rate_limit_lines.py)."""
    lines = CheckedLines(RATE_LINES) + b""  # a plain copy is not a checked piece
    assert lines.__class__ is bytes
    headers = [(b"content-length", b"2"), (LINES, CheckedLines(RATE_LINES))]
    protocol, transport = connect(
        answering(
            {"type": "http.response.start", "status": 200, "headers": headers},
            {"type": "http.response.body", "body": b"{}"},
        )
    )
    protocol.data_received(GET)
    await settle()
    assert transport.written() == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n" + RATE_LINES + b"\r\n{}"


async def _checks_made(piece: bytes) -> int:
    """How often the server looked over the lines of an answer carrying `piece` (calls of `lines_are_safe`, a
    Python function in every build: the profile sees it called from compiled code too)."""
    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code is lines_are_safe.__code__:
            calls += 1

    headers = [(b"content-length", b"2"), (LINES, piece)]
    app = answering(
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": b"{}"},
    )
    protocol, transport = connect(app)
    sys.setprofile(count)
    try:
        protocol.data_received(GET)
        await settle()
    finally:
        sys.setprofile(None)
    assert transport.written().endswith(RATE_LINES + b"\r\n{}")
    return calls


async def test_the_server_looks_over_lines_only_when_a_piece_was_not_checked_where_it_was_made() -> None:
    assert await _checks_made(RATE_LINES) == 1
    assert await _checks_made(CheckedLines(RATE_LINES)) == 0


@pytest.mark.parametrize(
    ("lines", "safe"),
    [
        (RATE_LINES, True),
        (RATE_LINES + b"x-a: tab\there\r\n", True),
        (b"x-a: 1\r\n\r\n", False),
        (b"x-a: 1\r\r\n\n", False),
        (b"x-a: \x00\r\n", False),
        (b"x-a: \x7f\r\n", False),
        (b"\r\n", False),
    ],
)
def test_lines_are_safe(lines: bytes, safe: bool) -> None:
    assert lines_are_safe(lines) is safe


def test_header_lines_become_pairs_for_any_other_server() -> None:
    assert pairs([(b"content-type", b"application/json"), (LINES, RATE_LINES)]) == [
        (b"content-type", b"application/json"),
        (b"x-ratelimit-limit-requests", b"3"),
        (b"x-ratelimit-remaining-requests", b"2"),
        (b"x-ratelimit-reset-requests", b"20s"),
    ]
