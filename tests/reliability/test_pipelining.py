"""HTTP/1.1 pipelining over a raw socket: every request answered, in order, while what one connection
may have parsed and waiting in the gateway stays bounded (server_protocol.PIPELINE_DEPTH)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import orjson
import pytest

from babelgate import server_protocol
from babelgate.server_protocol import HIGH_WATER_LIMIT, PIPELINE_DEPTH, READ_STEP, GatewayHttpProtocol, Limits
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, completion
from tests.fakes.servers import RunningApp

CONFIG = """
aliases:
  gpt: openai/gpt-4o
"""
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: r%d\r\n\r\n"
CHAT = orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})


class Deepest:
    """The longest queue of parsed requests any connection had behind the one being answered."""

    def __init__(self) -> None:
        self.requests = 0


@pytest.fixture
def deepest(monkeypatch: pytest.MonkeyPatch) -> Deepest:
    seen = Deepest()
    parsed = GatewayHttpProtocol.on_headers_complete

    def counting(protocol: GatewayHttpProtocol) -> None:
        parsed(protocol)
        seen.requests = max(seen.requests, len(protocol.pipeline))

    monkeypatch.setattr(GatewayHttpProtocol, "on_headers_complete", counting)
    return seen


@pytest.fixture
def gateway(make_gateway: GatewayFactory, deepest: Deepest) -> RunningApp:
    return make_gateway(CONFIG)


def answers(connection: socket.socket, count: int) -> Iterator[tuple[bytes, bytes]]:
    """`count` answers (head, body) read off the connection, each delimited by its Content-Length."""
    buffer = bytearray()
    for _ in range(count):
        while (end := buffer.find(b"\r\n\r\n")) < 0 or len(buffer) < end + 4 + _length(buffer[:end]):
            data = connection.recv(1 << 20)
            assert data, "the gateway closed the connection before answering every request"
            buffer += data
        head, length = bytes(buffer[:end]), _length(buffer[:end])
        yield head, bytes(buffer[end + 4 : end + 4 + length])
        del buffer[: end + 4 + length]


def _length(head: bytes | bytearray) -> int:
    return int(bytes(head).lower().split(b"content-length:")[1].split(b"\r\n")[0])


def pipelined(port: int, requests: bytes, count: int) -> list[tuple[bytes, bytes]]:
    """Write every request without waiting (from a thread, as a pipelining client does), read every answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        writer = threading.Thread(target=connection.sendall, args=(requests,), daemon=True)
        writer.start()
        got = list(answers(connection, count))
        writer.join(30)
    return got


def test_ten_thousand_pipelined_requests_are_answered_in_order_from_a_bounded_queue(
    gateway: RunningApp, deepest: Deepest
) -> None:
    count = 10_000
    got = pipelined(gateway.port, b"".join(HEALTH % number for number in range(count)), count)
    assert [head.split(b" ", 2)[1] for head, _ in got] == [b"200"] * count
    ids = [
        line.split(b":", 1)[1].strip()
        for head, _ in got
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-request-id:")
    ]
    assert ids == [b"r%d" % number for number in range(count)]
    # What waits: PIPELINE_DEPTH requests, and at most those parsed out of the read step that filled it.
    bound = PIPELINE_DEPTH + READ_STEP // len(HEALTH % 0)
    print(f"\ndeepest queue of parsed requests on the connection: {deepest.requests} (bound {bound})")
    assert deepest.requests <= bound


def test_pipelined_requests_with_bodies_cut_anywhere_by_the_read_steps_all_arrive_whole(
    gateway: RunningApp, deepest: Deepest
) -> None:
    """Bodies of many sizes, so that the read steps cut heads and bodies at every kind of place."""
    requests = []
    for number in range(300):
        body = orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": "x" * (number * 37 % 5000)}]})
        requests.append(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
    got = pipelined(gateway.port, b"".join(requests), len(requests))
    assert all(head.startswith(b"HTTP/1.1 200") for head, _ in got), [head[:40] for head, _ in got][:5]
    assert all(orjson.loads(body)["object"] == "chat.completion" for _, body in got)
    assert deepest.requests <= PIPELINE_DEPTH + READ_STEP // len(requests[0])


def test_a_waiting_requests_body_stays_in_the_clients_socket_not_in_the_gateway(
    gateway: RunningApp, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the first request waits on a slow upstream, the second's 4 MiB body is not read into memory
    beyond uvicorn's high-water mark (and one read step): it is read once its own turn comes."""
    buffered = Deepest()
    received = GatewayHttpProtocol.on_body

    def measuring(protocol: GatewayHttpProtocol, body: bytes) -> None:
        received(protocol, body)
        if protocol.pipeline and protocol.pipeline[0][0] is protocol.cycle:  # the request being read waits
            buffered.requests = max(buffered.requests, len(protocol.cycle.body))

    monkeypatch.setattr(GatewayHttpProtocol, "on_body", measuring)
    upstream.script(Reply(json=completion("slow"), first_byte_delay=1.0))
    big = orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": "x" * (4 << 20)}]})
    requests = b"".join(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
        for body in (CHAT, big)
    )
    got = pipelined(gateway.port, requests, 2)
    assert orjson.loads(got[0][1])["choices"][0]["message"]["content"] == "slow"
    assert all(head.startswith(b"HTTP/1.1 200") for head, _ in got)
    print(f"\nthe waiting request's body held by the gateway at most: {buffered.requests} bytes")
    assert buffered.requests <= HIGH_WATER_LIMIT + READ_STEP


def test_a_pipelined_head_left_unread_while_others_wait_is_not_timed_out(
    make_gateway: GatewayFactory, deepest: Deepest, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway stops reading when the queue is full; a head it has half read meanwhile is not the
    client's delay: no 408 while the first answer takes longer than the head's deadline."""
    monkeypatch.setattr(server_protocol, "_limits", Limits(header_timeout=0.3, body_timeout=0.3))
    gateway = make_gateway(CONFIG)
    upstream.script(Reply(json=completion("slow"), first_byte_delay=1.0))  # over three head deadlines
    slow = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(CHAT) + CHAT
    )
    waiting = b"".join(HEALTH % number for number in range(PIPELINE_DEPTH))
    last = HEALTH % PIPELINE_DEPTH
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as connection:
        connection.sendall(slow + waiting + last[:20])  # the last head cut short: the queue is full
        got = answers(connection, PIPELINE_DEPTH + 1)
        assert next(got)[0].startswith(b"HTTP/1.1 200")  # the slow one, after 1 s
        assert all(head.startswith(b"HTTP/1.1 200") for head, _ in got)
        connection.sendall(last[20:])
        assert next(answers(connection, 1))[0].startswith(b"HTTP/1.1 200")
