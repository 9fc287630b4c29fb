"""SIGTERM on `babelgate serve`: it stops accepting at once, lets the requests and streams in flight
finish within `server.shutdown_timeout`, cuts what is left when that runs out, flushes the usage
ledger, and exits 0. Real processes, real signals, the official client."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI, Reply, text_stream
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_cli_serve import _env, _free_port, _serve, _wait_ready
from tests.waiting import eventually

CONFIG = """
server:
  shutdown_timeout: {grace}
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
aliases:
  gpt: openai/gpt-4o
store:
  url: sqlite:{db}
"""
# uvicorn ends a graceful shutdown by re-raising the signal it caught, as a shell expects of a
# process stopped by SIGTERM; a clean exit is fine too.
EXITED = (0, -signal.SIGTERM)
PIECES = [f"piece{i} " for i in range(8)]


def _start(tmp_path: Path, upstream: FakeOpenAI, grace: float) -> tuple[str, Path, subprocess.Popen[bytes]]:
    db = tmp_path / "state.db"
    config = tmp_path / "babelgate.yaml"
    config.write_text(CONFIG.format(grace=grace, base_url=upstream.base_url, db=db))
    port = _free_port()
    process = _serve(["--config", str(config), "--port", str(port)], _env(OPENAI_API_KEY=UPSTREAM_KEY))
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process)
    return url, db, process


@pytest.fixture
def stop_after() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _refuses(url: str) -> bool:
    """Whether the gateway at `url` refuses a new connection: it has stopped accepting (a check to wait for, as a
    signalled process closes its listener when its loop next runs)."""
    try:
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=2):
            return False
    except OSError:
        return True


def _ledger_ids(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute("SELECT route, status FROM babelgate_ledger ORDER BY ts"))


def test_sigterm_lets_streams_in_flight_finish_and_flushes_the_ledger(
    tmp_path: Path, upstream: FakeOpenAI, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    url, db, process = _start(tmp_path, upstream, grace=20)
    stop_after.append(process)
    upstream.chat_responder = lambda body: (
        Reply(stream=text_stream(PIECES, include_usage=True), chunk_delay=0.25)
        if body.get("stream")
        else Reply(
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "slow"}, "finish_reason": "stop"}],
            },
            first_byte_delay=1.5,
        )
    )
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)
    streamed: list[str] = []
    finish: list[str | None] = []
    answers: list[str | None] = []
    first_piece = threading.Event()

    def stream() -> None:
        for chunk in client.chat.completions.create(
            model="gpt", stream=True, messages=[{"role": "user", "content": "hi"}]
        ):
            if chunk.choices:
                streamed.append(chunk.choices[0].delta.content or "")
                finish.append(chunk.choices[0].finish_reason)
                first_piece.set()

    def plain() -> None:
        answers.append(
            client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
            .choices[0]
            .message.content
        )

    threads = [threading.Thread(target=stream), threading.Thread(target=plain)]
    for thread in threads:
        thread.start()
    assert first_piece.wait(10)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert eventually(lambda: _refuses(url), 10)  # no longer accepting,
    assert process.poll() is None  # while it still serves what was in flight
    for thread in threads:
        thread.join(20)
    assert "".join(streamed) == "".join(PIECES) and finish[-1] == "stop"  # nothing cut off
    assert answers == ["slow"]
    assert process.wait(10) in EXITED
    print(
        f"\nin flight at SIGTERM: 1 stream, 1 request; all finished; exited after {time.monotonic() - signalled:.2f} s"
    )
    assert sorted(_ledger_ids(db)) == [("chat.completions", 200), ("chat.completions", 200)]


def test_past_the_grace_period_what_is_left_is_cut_and_still_recorded(
    tmp_path: Path, upstream: FakeOpenAI, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    url, db, process = _start(tmp_path, upstream, grace=1)
    stop_after.append(process)
    upstream.chat_responder = lambda body: Reply(stream=text_stream(PIECES * 10), chunk_delay=0.2)
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)
    stream = client.chat.completions.create(model="gpt", stream=True, messages=[{"role": "user", "content": "hi"}])
    next(iter(stream))
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    finish = None
    with pytest.raises((openai.APIError, httpx.HTTPError)):  # cut: the client knows it is incomplete
        for chunk in stream:
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
    assert finish is None
    assert process.wait(10) in EXITED
    assert time.monotonic() - signalled < 5
    assert len(_ledger_ids(db)) == 1  # the cut stream is on the ledger too


def test_no_new_connection_is_accepted_during_the_grace_period(
    tmp_path: Path, upstream: FakeOpenAI, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    url, _, process = _start(tmp_path, upstream, grace=5)
    stop_after.append(process)
    upstream.chat_responder = lambda body: Reply(stream=text_stream(PIECES), chunk_delay=0.3)
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)
    stream = client.chat.completions.create(model="gpt", stream=True, messages=[{"role": "user", "content": "hi"}])
    next(iter(stream))
    process.send_signal(signal.SIGTERM)
    assert eventually(lambda: _refuses(url), 10)
    assert process.poll() is None
    assert sum(1 for _ in stream) > 0
    assert process.wait(10) in EXITED


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})


def test_a_request_waiting_unread_on_an_idle_connection_at_shutdown_is_answered(loop_thread: LoopThread) -> None:
    """uvicorn closed an idle keep-alive connection at once when the server stopped: a request that had
    arrived on it but was not read yet was reset, and nginx, which never sends a POST again once written,
    answered 502 (tests/integration/test_many_instances.py, one SIGTERM in five). Reading is held here
    so that the request is certain to wait unread when the server stops."""
    server = RunningApp(_hello)
    loop_thread.run(server.start())
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
            connection.sendall(request)
            assert connection.recv(4096).endswith(b"hello")  # the connection is now idle, kept alive
            (protocol,) = server.connections()

            async def hold_reading() -> None:
                protocol.flow.pause_reading()

            async def stop() -> None:
                protocol.shutdown()

            loop_thread.run(hold_reading())
            connection.sendall(request)  # on loopback, in the gateway's receive buffer once sent
            loop_thread.run(stop())
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
    finally:
        loop_thread.run(server.stop())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head.lower() and body == b"hello"


def test_a_request_sent_just_after_shutdown_on_an_idle_connection_is_answered(loop_thread: LoopThread) -> None:
    """A proxy that has not seen the connection close yet may write a request on it just after the server
    stopped (nginx answered 502 for one under load): within `STOP_LINGER` it is answered with `Connection:
    close`, and a connection that stays idle is closed once that has passed."""
    server = RunningApp(_hello)
    loop_thread.run(server.start())
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    try:
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as used,
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as idle,
        ):
            for connection in (used, idle):
                connection.sendall(request)
                assert connection.recv(4096).endswith(b"hello")  # both idle, kept alive
            protocols = server.connections()
            assert len(protocols) == 2

            async def stop() -> None:
                for protocol in protocols:
                    protocol.shutdown()

            loop_thread.run(stop())
            used.sendall(request)  # after the server decided to stop
            answer = b""
            while chunk := used.recv(4096):
                answer += chunk
            began = time.monotonic()
            assert idle.recv(4096) == b""  # closed, without a request, after the linger
            assert time.monotonic() - began < 5
    finally:
        loop_thread.run(server.stop())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head.lower() and body == b"hello"
