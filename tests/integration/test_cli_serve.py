"""`babelgate serve` as a real process: startup, the bind guard, SIGHUP reloads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CLOSED_PORT_URL, UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.waiting import eventually

CONFIG = """
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
aliases:
  {alias}: openai/gpt-4o
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
    env.update({"OLLAMA_BASE_URL": CLOSED_PORT_URL, **extra})
    return env


def _serve(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "babelgate.cli", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            httpx.get(url + "/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the gateway did not start")


@pytest.fixture
def served(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    config = tmp_path / "babelgate.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url, alias="first"))
    port = _free_port()
    process = _serve(["--config", str(config), "--port", str(port)], _env(OPENAI_API_KEY=UPSTREAM_KEY))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url, config, process
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
        assert UPSTREAM_KEY not in output


def _aliases(url: str) -> set[str]:
    return {m["id"] for m in httpx.get(url + "/v1/models", timeout=5).json()["data"] if "/" not in m["id"]}


def _chats(upstream: FakeOpenAI) -> int:
    return sum(received.path.endswith("/chat/completions") for received in upstream.received)


def test_sighup_reloads_and_a_bad_file_keeps_the_old_config(
    served: tuple[str, Path, subprocess.Popen[bytes]], upstream: FakeOpenAI
) -> None:
    url, config, process = served
    assert _aliases(url) == {"first"}
    upstream.script(
        Reply(
            json={"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": []},
            first_byte_delay=1.0,
        )
    )
    result: dict[str, int] = {}
    in_flight = threading.Thread(
        target=lambda: result.setdefault(
            "status",
            httpx.post(
                url + "/v1/chat/completions",
                json={"model": "first", "messages": [{"role": "user", "content": "x"}]},
                timeout=10,
            ).status_code,
        )
    )
    in_flight.start()
    assert eventually(lambda: _chats(upstream) == 1, 10), "the request never reached the upstream"
    config.write_text(CONFIG.format(base_url=upstream.base_url, alias="second"))
    process.send_signal(signal.SIGHUP)
    in_flight.join(10)
    assert result == {"status": 200}, "the in-flight request was dropped by the reload"
    assert eventually(lambda: _aliases(url) == {"second"}, 10)

    config.write_text("providers: [this is: not valid")
    process.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert process.poll() is None
    assert _aliases(url) == {"second"}


def test_serve_refuses_a_public_bind_without_gateway_keys() -> None:
    process = _serve(["--host", "0.0.0.0", "--port", str(_free_port())], _env())
    output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 2
    assert "--allow-unauthenticated" in output


def test_serve_runs_on_embedded_defaults_with_no_configuration(tmp_path: Path) -> None:
    port = _free_port()
    # The default store is under XDG_STATE_HOME: here the test's, never the home of whoever runs the tests.
    process = _serve(["--port", str(port)], _env(XDG_STATE_HOME=str(tmp_path)))
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert [p["name"] for p in health["providers"]] == ["ollama"]
        assert health["store"] == f"sqlite:{tmp_path / 'babelgate' / 'babelgate.db'}"
        deadline = time.monotonic() + 5
        while health["access"] == "unknown" and time.monotonic() < deadline:  # until the keys were read
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert health["access"] == "open"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    store = tmp_path / "babelgate" / "babelgate.db"
    assert (
        f"access: open on 127.0.0.1:{port}: no keys configured (no server.api_keys, no virtual keys in sqlite:{store})"
        in output
    )


def test_log_level_flag_reaches_babelgate_loggers() -> None:
    port = _free_port()
    process = _serve(["--port", str(port), "--log-level", "warning"], _env())
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)  # logs at info that ollama is unreachable
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert " INFO " not in output
