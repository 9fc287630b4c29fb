"""The upstream HTTP client (babelgate.http) against a raw socket server on 127.0.0.1 that says exactly
what each test needs: keep-alive reuse, every body framing, compression, timeouts in each phase, stale
pooled connections, broken and hostile answers, a slow reader, the connection limit, cancellation."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import (
    InvalidRequest,
    UpstreamConnectionFailed,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from babelgate.http import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    Timeouts,
    UpstreamClient,
    drain,
    iter_body,
    read_body,
)
from babelgate.http import connection as connection_module
from babelgate.providers.base import provider_timeouts

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
QUICK = Timeouts(connect=2, read=2, total=None)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request: the head, then as many body bytes as Content-Length says."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (await reader.readexactly(length) if length else b"")


def answer(body: bytes, *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def chunked(*pieces: bytes) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


class Server:
    """Each accepted connection runs the next handler in `handlers` (the last one repeats)."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed_by_client = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = self.handlers[min(self.connections, len(self.handlers) - 1)]
        self.connections += 1
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed_by_client.set()
        finally:
            if reader.at_eof():
                self.closed_by_client.set()
            writer.close()


def serving(*answers: bytes, then_close: bool = False) -> Handler:
    """Answers requests on one connection in turn, keeping it open (or closing after the last)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for raw in answers:
            await read_request(reader)
            writer.write(raw)
            await writer.drain()
        if not then_close:
            await reader.read()  # until the client closes

    return handler


def recording(server: Server, raw: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            server.requests.append(await read_request(reader))
            writer.write(raw)
            await writer.drain()

    return handler


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    client = UpstreamClient()
    yield client
    await client.close()


async def post(
    client: UpstreamClient,
    url: str,
    body: bytes | None = b"{}",
    *,
    timeouts: Timeouts = QUICK,
    headers: Mapping[str, str] | None = None,
) -> Any:
    return await client.send(
        "POST", url + "/v1/chat", provider="p", headers=headers or {}, body=body, timeouts=timeouts
    )


# --- bodies and reuse --------------------------------------------------------------------------------


async def test_a_keep_alive_connection_serves_the_next_request(client: UpstreamClient) -> None:
    server = Server()
    server.handlers = [recording(server, answer(b'{"ok":1}'))]
    async with server:
        for _ in range(3):
            response = await post(client, server.url)
            assert response.status == 200 and await read_body(response) == b'{"ok":1}'
        assert server.connections == 1 and len(server.requests) == 3


async def arrived(response: Any) -> None:
    """Head and body come in one write: the body has arrived within a few turns of the loop."""
    for _ in range(100):
        if response._connection.complete:
            return
        await asyncio.sleep(0)
    raise AssertionError("the body did not arrive")


async def test_a_body_that_came_with_its_head_is_read_at_once_and_the_connection_reused(client: UpstreamClient) -> None:
    """`read_now` (what `read_json_object` asks first): the whole body when it has arrived, the connection back
    in its pool; None while it is still coming, or when it is larger than the client takes (`read` judges)."""
    server = Server()
    server.handlers = [recording(server, answer(b'{"ok":1}'))]
    async with server:
        for _ in range(2):
            response = await post(client, server.url)
            await arrived(response)
            assert response.read_now() == b'{"ok":1}'
        assert server.connections == 1 and len(server.requests) == 2
        client.max_answer_bytes = 4
        response = await post(client, server.url)
        await arrived(response)
        assert response.read_now() is None  # too large: `read` refuses it
        with pytest.raises(UpstreamProtocolError):
            await read_body(response)


async def test_the_request_head_carries_host_length_and_headers_once(client: UpstreamClient) -> None:
    server = Server()
    server.handlers = [recording(server, answer(b"{}"))]
    async with server:
        headers = {"Authorization": "Bearer k", "Content-Length": "999", "host": "evil", "X-Extra": "1"}
        response = await client.send(
            "POST",
            server.url + "/v1beta/models/a b:go?alt=sse",
            provider="p",
            headers=headers,
            body=b'{"a":1}',
            timeouts=QUICK,
        )
        await read_body(response)
        port = server.url.rsplit(":", 1)[1]
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1beta/models/a%20b:go?alt=sse HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}".encode() in lines
    assert b"Authorization: Bearer k" in lines and b"X-Extra: 1" in lines
    assert [line for line in lines if line.lower().startswith((b"content-length", b"host"))] == [
        f"Host: 127.0.0.1:{port}".encode(),
        b"Content-Length: 7",
    ]
    assert body == b'{"a":1}'


async def test_each_prepared_header_set_sends_its_own_headers(client: UpstreamClient) -> None:
    """Providers prepare read-only header sets (one per key) whose lines the client renders once."""
    server = Server()
    server.handlers = [recording(server, answer(b"{}"))]
    first, second = MappingProxyType({"Authorization": "Bearer a"}), MappingProxyType({"Authorization": "Bearer b"})
    async with server:
        for headers in (first, second, first):
            await read_body(await post(client, server.url, headers=headers))
    keys = [line for request in server.requests for line in request.split(b"\r\n") if line.startswith(b"Auth")]
    assert keys == [b"Authorization: Bearer a", b"Authorization: Bearer b", b"Authorization: Bearer a"]


async def test_a_chunked_body_arrives_piece_by_piece_and_the_connection_is_reused(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b"data: 1\n\n", b"data: 2\n\n"):
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
        await reader.read()

    async with Server(handler) as server:
        for _ in range(2):
            response = await post(client, server.url)
            pieces = [piece async for piece in iter_body(response)]
            assert b"".join(pieces) == b"data: 1\n\ndata: 2\n\n" and len(pieces) >= 2
        assert server.connections == 1


async def test_a_body_without_length_ends_with_the_connection(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")

    async with Server(handler, serving(answer(b"second"))) as server:
        assert await read_body(await post(client, server.url)) == b"all of it"
        assert await read_body(await post(client, server.url)) == b"second"
        assert server.connections == 2  # the first could not be reused


def raw_deflate(data: bytes) -> bytes:
    """Bare deflate, no zlib header: what some servers send as `Content-Encoding: deflate`."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("coding", "compress"), [(b"gzip", gzip.compress), (b"deflate", zlib.compress), (b"deflate", raw_deflate)]
)
async def test_compressed_bodies_are_decoded(
    client: UpstreamClient, coding: bytes, compress: Callable[[bytes], bytes]
) -> None:
    payload = b'{"text":"' + b"x" * 5000 + b'"}'
    async with Server(serving(answer(compress(payload), extra=b"Content-Encoding: " + coding + b"\r\n"))) as server:
        response = await post(client, server.url)
        assert await read_body(response) == payload


async def test_an_encoding_not_asked_for_is_a_protocol_error(client: UpstreamClient) -> None:
    async with Server(serving(answer(b"??", extra=b"Content-Encoding: br\r\n"))) as server:
        with pytest.raises(UpstreamProtocolError):
            await post(client, server.url)


async def test_informational_answers_are_skipped(client: UpstreamClient) -> None:
    async with Server(serving(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"real"))) as server:
        response = await post(client, server.url)
        assert response.status == 200 and await read_body(response) == b"real"


async def test_error_statuses_and_headers_reach_the_caller(client: UpstreamClient) -> None:
    raw = answer(b'{"error":{}}', status="429 Too Many Requests", extra=b"Retry-After: 3\r\nX-Dup: a\r\nX-Dup: b\r\n")
    async with Server(serving(raw)) as server:
        response = await post(client, server.url)
        assert response.status == 429
        assert response.headers["retry-after"] == "3" and response.headers.getall("x-dup") == ["a", "b"]


def trickling(raw: bytes, step: int) -> Handler:
    """Answers one request `step` bytes a write, each write on its own (so the client reads them apart)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for start in range(0, len(raw), step):
            writer.write(raw[start : start + step])
            await writer.drain()
            await asyncio.sleep(0.001)
        await reader.read()

    return handler


@pytest.mark.parametrize("step", [1, 7, 64])
async def test_a_head_in_pieces_after_informational_answers_keeps_every_header(
    client: UpstreamClient, step: int
) -> None:
    # The head is read from the bytes kept until it is complete (http/connection.py): across reads, and after
    # the informational answers' heads that came first in the same bytes.
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + answer(
        b"real", extra=b"X-Pad:   kept trailing  \r\nX-Colon: a:b\r\nX-Empty:\r\nX-Dup: 1\r\nx-dup: 2\r\n"
    )
    async with Server(trickling(raw, step)) as server:
        response = await post(client, server.url)
        assert response.status == 200 and await read_body(response) == b"real"
        headers = response.headers
        assert "link" not in headers
        assert headers["x-pad"] == "kept trailing  " and headers["x-colon"] == "a:b" and headers["x-empty"] == ""
        assert headers.getall("x-dup") == ["1", "2"] and headers["content-length"] == "4"


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 404 Not: Found\r\nA:b\r\nB: \t c d \t\r\nC:\r\nD: x\x80y\r\nE: :\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
)
def test_header_fields_read_a_head_as_httptools_does(head: bytes) -> None:
    import httptools

    class Reader:
        def __init__(self) -> None:
            self.fields: list[tuple[bytes, bytes]] = []

        def on_header(self, name: bytes, value: bytes) -> None:
            self.fields.append((name, value))

    reader = Reader()
    httptools.HttpResponseParser(reader).feed_data(head)
    assert connection_module.header_fields(head[: head.index(b"\r\n\r\n") + 2]) == reader.fields


# --- timeouts ------------------------------------------------------------------------------------------


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await reader.read()


async def test_no_first_byte_in_time_is_a_timeout_and_the_connection_is_dropped(client: UpstreamClient) -> None:
    async with Server(silent, serving(answer(b"later"))) as server:
        with pytest.raises(UpstreamTimeout) as caught:
            await post(client, server.url, timeouts=Timeouts(connect=2, read=0.2))
        assert caught.value.params == {"provider": "p", "phase": "first byte"}
        await asyncio.wait_for(server.closed_by_client.wait(), 2)
        assert await read_body(await post(client, server.url)) == b"later"
        assert server.connections == 2


async def test_a_gap_in_a_stream_is_a_timeout(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await reader.read()

    async with Server(handler) as server:
        response = await post(client, server.url, timeouts=Timeouts(connect=2, read=0.2))
        with pytest.raises(UpstreamTimeout) as caught:
            _ = [piece async for piece in iter_body(response)]
        assert caught.value.params["phase"] == "stream"


async def test_a_stream_that_keeps_coming_outlives_its_read_timeout(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(8):  # 0.8 s in all, never more than 0.1 s apart
            writer.write(b"1\r\n.\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")
        await reader.read()

    async with Server(handler) as server:
        response = await post(client, server.url, timeouts=Timeouts(connect=2, read=0.3))
        assert b"".join([piece async for piece in iter_body(response)]) == b"." * 8


async def test_the_total_timeout_bounds_a_stream_that_keeps_trickling(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"1\r\n.\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with Server(handler) as server:
        response = await post(client, server.url, timeouts=Timeouts(connect=2, read=1, total=0.4))
        started = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamTimeout):
            _ = [piece async for piece in iter_body(response)]
        assert asyncio.get_running_loop().time() - started < 1


async def test_a_connect_that_takes_too_long_is_a_connect_timeout(
    client: UpstreamClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()

    async def never(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(10)

    monkeypatch.setattr(loop, "create_connection", never)
    with pytest.raises(UpstreamTimeout) as caught:
        await post(client, "http://127.0.0.1:9", timeouts=Timeouts(connect=0.1, read=1))
    assert caught.value.params == {"provider": "p", "phase": "connect"}


async def test_a_refused_connection_is_a_connection_failure_naming_only_the_address(client: UpstreamClient) -> None:
    with pytest.raises(UpstreamConnectionFailed) as caught:
        await post(client, "http://user:pass-secret@127.0.0.1:9/v1/chat?key=sk-query-secret")
    # The operator learns where nothing answered; the userinfo, path and query (which may hold a key) stay out.
    assert caught.value.raw_message is None and caught.value.params["address"] == "http://127.0.0.1:9"
    assert "secret" not in str(caught.value.params)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///nohost", "http://example.com:99999/x"])
async def test_a_url_the_client_cannot_call_is_a_connection_failure(client: UpstreamClient, url: str) -> None:
    with pytest.raises(UpstreamConnectionFailed):
        await client.send("GET", url, provider="p", headers={}, body=None, timeouts=QUICK)


# --- broken and hostile upstreams -------------------------------------------------------------------


async def test_a_pooled_connection_closed_by_the_upstream_is_replaced_without_an_error(client: UpstreamClient) -> None:
    async def answers_once_then_drops_the_next(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"one"))
        await read_request(reader)  # the second request arrives, and the upstream hangs up on it

    async with Server(answers_once_then_drops_the_next, serving(answer(b"two"))) as server:
        assert await read_body(await post(client, server.url)) == b"one"
        assert await read_body(await post(client, server.url)) == b"two"
        assert server.connections == 2


async def test_a_new_connection_closed_before_an_answer_is_a_connection_failure(client: UpstreamClient) -> None:
    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with Server(hangs_up) as server:
        with pytest.raises(UpstreamConnectionFailed):
            await post(client, server.url)
        assert server.connections == 1  # a fresh connection is not retried: the upstream may have acted


async def test_garbage_instead_of_http_is_a_protocol_error(client: UpstreamClient) -> None:
    async with Server(serving(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")) as server:
        with pytest.raises(UpstreamProtocolError):
            await post(client, server.url)


async def test_a_body_cut_short_is_a_protocol_error(client: UpstreamClient) -> None:
    async with Server(serving(answer(b"x" * 100)[:-90], then_close=True)) as server:
        response = await post(client, server.url)
        with pytest.raises(UpstreamProtocolError) as caught:
            await read_body(response)
        assert caught.value.params["detail"] == "the connection closed mid-body"


async def test_endless_headers_are_a_protocol_error(client: UpstreamClient) -> None:
    flood = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"y" * 1000) for i in range(80))
    async with Server(serving(flood)) as server:
        with pytest.raises(UpstreamProtocolError) as caught:
            await post(client, server.url)
        assert caught.value.params["detail"] == "the answer's headers are too large"


async def test_a_header_value_with_a_line_break_is_refused_before_sending(client: UpstreamClient) -> None:
    server = Server()
    server.handlers = [recording(server, answer(b"{}"))]
    async with server:
        with pytest.raises(InvalidRequest):
            await post(client, server.url, headers={"anthropic-beta": "x\r\nX-Injected: 1"})
        assert server.requests == []


# --- flow, limits, cancellation -------------------------------------------------------------------------


async def test_a_slow_reader_pauses_the_socket_and_gets_every_byte(
    client: UpstreamClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [bytes([65 + i % 26]) * 65536 for i in range(40)]  # 2.5 MiB
    paused: list[bool] = []
    original = connection_module.Connection.on_body

    def spying(self: connection_module.Connection, body: bytes) -> None:
        original(self, body)
        paused.append(self._paused)

    monkeypatch.setattr(connection_module.Connection, "on_body", spying)
    async with Server(serving(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(*pieces))) as server:
        response = await post(client, server.url)
        received = []
        async for piece in iter_body(response):
            received.append(piece)
            await asyncio.sleep(0.005)
        assert b"".join(received) == b"".join(pieces)
        assert any(paused), "the socket was never paused for the slow reader"


async def test_a_large_body_read_whole_is_not_stalled_by_the_pause(client: UpstreamClient) -> None:
    payload = b"z" * (3 * 1024 * 1024)
    async with Server(serving(answer(payload))) as server:
        assert await asyncio.wait_for(read_body(await post(client, server.url)), 5) == payload


async def test_requests_beyond_the_limit_wait_for_a_connection() -> None:
    client = UpstreamClient(max_connections=1)

    async def slow_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.05)
            writer.write(answer(b"ok"))

    try:
        async with Server(slow_answers) as server:

            async def one() -> bytes:
                return await read_body(await post(client, server.url))

            assert await asyncio.gather(one(), one(), one()) == [b"ok"] * 3
            assert server.connections == 1
    finally:
        await client.close()


async def test_a_cancelled_call_drops_its_connection(client: UpstreamClient) -> None:
    async with Server(silent, serving(answer(b"fresh"))) as server:
        call = asyncio.ensure_future(post(client, server.url))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(server.closed_by_client.wait(), 2)
        assert await read_body(await post(client, server.url)) == b"fresh"


async def test_drain_reads_the_terminator_so_the_connection_is_reused(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"e\r\ndata: [DONE]\n\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)  # the terminator comes a moment after the logical end
            writer.write(b"0\r\n\r\n")
        await reader.read()

    async with Server(handler) as server:
        for _ in range(2):
            response = await post(client, server.url)
            assert await response.readany() == b"data: [DONE]\n\n"
            await drain(response)
            assert response.at_eof()
            response.release()
        assert server.connections == 1


# --- timeouts from configuration -------------------------------------------------------------------------


def test_timeout_defaults() -> None:
    assert Timeouts() == Timeouts(connect=DEFAULT_CONNECT_TIMEOUT, read=DEFAULT_TIMEOUT, total=None)
    assert (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT) == (10.0, 600.0)


@pytest.mark.parametrize(
    ("provider", "server", "expected"),
    [
        ({}, {}, Timeouts(10.0, 600.0, None)),
        ({}, {"default_timeout": 30}, Timeouts(30.0, 30.0, None)),
        ({"timeout": 5, "connect_timeout": 1, "total_timeout": 60}, {"default_timeout": 30}, Timeouts(1, 5, 60)),
        ({"connect_timeout": 2.0}, {}, Timeouts(2.0, 600.0, None)),
        ({"timeout": 5, "chunk_timeout": 1}, {}, Timeouts(10.0, 1, None, first_byte=5)),
        ({"first_byte_timeout": 20, "chunk_timeout": 1}, {}, Timeouts(10.0, 1, None, first_byte=20)),
        ({"first_byte_timeout": 20}, {}, Timeouts(10.0, 600.0, None, first_byte=20)),
    ],
)
def test_provider_timeouts(provider: dict[str, float], server: dict[str, float], expected: Timeouts) -> None:
    timeouts = provider_timeouts(ProviderConfig.model_validate(provider), ServerConfig.model_validate(server))
    assert timeouts == expected


# --- TLS -------------------------------------------------------------------------------------------------


def _self_signed(tmp_path: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    pytest.importorskip("cryptography")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upstream.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


async def test_https_upstreams_are_verified_and_reused(tmp_path: Any) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                await read_request(reader)
                writer.write(answer(b'{"secure":true}'))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    trusting = UpstreamClient(tls=ssl.create_default_context(cafile=cert))
    default = UpstreamClient()  # the system's trust store does not know this certificate
    try:
        for _ in range(2):
            assert await read_body(await post(trusting, url)) == b'{"secure":true}'
        assert connections == 1
        with pytest.raises(UpstreamConnectionFailed):
            await post(default, url)
    finally:
        await trusting.close()
        await default.close()
        server.close()
