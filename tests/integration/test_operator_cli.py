"""The operator's CLI against a running gateway: `babelgate chat` (streamed and not, stdin, errors,
--json), `models`, `keys` and `usage`, as a user runs them (a process of its own for the exit codes
and stdin; in-process where only the output matters)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from babelgate.cli import main
from tests.admin_gateway import MASTER, start
from tests.conftest import CLOSED_PORT_URL, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, chunk, text_stream, tool_call_stream, usage_chunk
from tests.fakes.servers import RunningApp


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> RunningApp:
    return start(make_gateway, upstream)


def _cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BABELGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "babelgate.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **env},
    )


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_chat_prints_the_answer_then_what_served_it(gateway: RunningApp) -> None:
    # An OpenAI client's base URL (…/v1) works too, and an http_proxy does not capture the call.
    done = _cli(
        "chat",
        "--url",
        gateway.url + "/v1",
        "--model",
        "chat",
        "Say hello",
        http_proxy=CLOSED_PORT_URL,
        HTTP_PROXY=CLOSED_PORT_URL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello!"
    assert "model gpt-4o" in done.stderr and "route openai/gpt-4o=ok" in done.stderr
    assert "tokens 9 in / 3 out" in done.stderr and "cost $" in done.stderr and "request " in done.stderr


def test_chat_streams_and_reads_the_prompt_from_stdin(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Hel", "lo ", "there"], include_usage=True)))
    host, port = gateway.url.removeprefix("http://").split(":")
    done = _cli("chat", "--host", host, "--port", port, "--stream", stdin="Say hello\n", BABELGATE_MODEL="mini")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello there"
    assert upstream.received[-1].json["messages"] == [{"role": "user", "content": "Say hello\n"}]
    assert upstream.received[-1].json["stream"] is True
    assert "first token" in done.stderr and "tokens 9 in / 3 out" in done.stderr


def test_chat_json_gives_every_figure(
    gateway: RunningApp, upstream: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.script(
        Reply(
            stream=[
                chunk({"role": "assistant", "content": ""}),
                chunk({"reasoning_content": "Hm."}),
                chunk({"content": "Four."}),
                chunk({}, finish_reason="stop"),
                usage_chunk(11, 2),
            ]
        )
    )
    answer = _json(capsys, "chat", "--url", gateway.url, "--model", "chat", "--stream", "2+2?")
    assert set(answer) == {
        "answer",
        "reasoning",
        "tool_calls",
        "finish_reason",
        "model",
        "route",
        "request_id",
        "usage",
        "cost_usd",
        "ttft_ms",
        "total_ms",
    }
    assert answer["answer"] == "Four." and answer["reasoning"] == "Hm." and answer["finish_reason"] == "stop"
    assert answer["route"] == "openai/gpt-4o=ok" and answer["request_id"]
    assert answer["usage"]["prompt_tokens"] == 11
    assert answer["ttft_ms"] > 0 and answer["total_ms"] >= answer["ttft_ms"]
    plain = _json(capsys, "chat", "--url", gateway.url, "--model", "chat", "hi")
    assert plain["answer"] == "Hello!" and plain["cost_usd"] > 0


def test_chat_shows_tool_calls_as_they_arrive(
    gateway: RunningApp, upstream: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city"', ': "Paris"}'])])))
    assert main(["chat", "--url", gateway.url, "--model", "chat", "--stream", "weather?"]) == 0
    printed = capsys.readouterr()
    assert 'tool call get_weather {"city": "Paris"}' in printed.out
    assert "finish tool_calls" in printed.err


def test_chat_errors_exit_1_with_the_gateways_message(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    done = _cli("chat", "--url", gateway.url, "--model", "no-such-model", "hi")
    assert done.returncode == 1 and done.stdout == ""
    assert "404" in done.stderr and "no-such-model" in done.stderr
    upstream.script(
        Reply(stream=[chunk({"content": "Hal"}), b'data: {"error": {"message": "overloaded"}}\n\n'], done=False)
    )
    cut = _cli("chat", "--url", gateway.url, "--model", "mini", "--stream", "hi")
    assert cut.returncode == 1 and "Hal" in cut.stdout and "stream failed" in cut.stderr
    unreachable = _cli("chat", "--url", CLOSED_PORT_URL, "--model", "mini", "hi")
    assert unreachable.returncode == 1 and "cannot reach the gateway" in unreachable.stderr
    assert _cli("chat", "--url", gateway.url, "hi").returncode == 2  # no model


def test_chat_prints_the_answer_as_written(
    gateway: RunningApp, upstream: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    written = "[bold]not bold[/] :smile: C:\\"
    upstream.script(Reply(stream=text_stream([written], include_usage=True)))
    assert main(["chat", "--url", gateway.url, "--model", "mini", "--stream", "hi"]) == 0
    assert capsys.readouterr().out == written + "\n"


@pytest.fixture
def breaking_server() -> Iterator[str]:
    """A server that starts a streamed answer, then drops the connection mid-chunk."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            event = b'data: {"choices": [{"index": 0, "delta": {"content": "Hal"}}]}\n\n'
            connection.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(event), event) + b"40\r\ndata: {"
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread.join(5)
    listener.close()


def test_chat_reports_a_connection_that_breaks_mid_answer(
    breaking_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "--url", breaking_server, "--model", "mini", "--stream", "hi"]) == 1
    printed = capsys.readouterr()
    assert printed.out.strip() == "Hal" and "broke mid-answer" in printed.err


def test_chat_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--url", "http://127.0.0.1:1", "--host", "h", "--model", "m", "hi"]) == 2
    assert "either --url or --host" in capsys.readouterr().err
    assert main(["chat", "--url", "ftp://gateway", "--model", "m", "hi"]) == 2
    assert "not a gateway URL" in capsys.readouterr().err


def test_admin_commands_need_the_master_key(gateway: RunningApp) -> None:
    done = _cli("models", "--url", gateway.url)
    assert done.returncode == 2 and "BABELGATE_MASTER_KEY" in done.stderr
    wrong = _cli("usage", "--url", gateway.url, BABELGATE_MASTER_KEY="wrong-key-000000000000")
    assert wrong.returncode == 1 and "401" in wrong.stderr


def test_models_lists_routes_and_health(
    gateway: RunningApp, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    assert main(["models", "--url", gateway.url]) == 0
    table = capsys.readouterr().out
    assert "openai/gpt-4o" in table and "closed" in table and "mini" in table and "$2.50" in table
    assert "Provider" in table and "openai" in table
    answer = _json(capsys, "models", "--url", gateway.url, "--all")
    assert {"model", "listed"} <= {model["kind"] for model in answer["data"]}


def test_keys_round_trip(
    gateway: RunningApp, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    assert main(["keys", "create", "--url", gateway.url, "--label", "ci", "--rpm", "5", "--budget-usd", "2"]) == 0
    shown = capsys.readouterr().out
    assert "Shown once" in shown and "bg-" in shown
    created = _json(capsys, "keys", "--url", gateway.url, "create", "--label", "bot", "--models", "chat")
    assert created["key"].startswith("bg-") and created["models"] == ["chat"]
    assert main(["keys", "--url", gateway.url, "list"]) == 0
    listed = capsys.readouterr().out
    assert "ci" in listed and "bot" in listed and "5 rpm" in listed and created["key"] not in listed
    assert listed.splitlines()[-1] == "store memory (this gateway's memory alone) · keys required"
    assert _json(capsys, "keys", "update", created["id"], "--url", gateway.url, "--team", "search")["team"] == "search"
    assert _json(capsys, "keys", "revoke", created["id"], "--url", gateway.url)["revoked"] is True
    active = _json(capsys, "keys", "list", "--url", gateway.url, "--active")["data"]
    assert [key["label"] for key in active] == ["ci"]
    # With AWS-style credentials: both secrets shown this once, the access key id listed after.
    assert main(["keys", "create", "--url", gateway.url, "--label", "signer", "--aws"]) == 0
    shown = capsys.readouterr().out
    assert "aws_access_key_id" in shown and "BGAK" in shown and "aws_secret_access_key" in shown
    signer = _json(capsys, "keys", "create", "--url", gateway.url, "--aws")
    assert signer["aws_access_key_id"].startswith("BGAK") and len(signer["aws_secret_access_key"]) == 40
    assert main(["keys", "list", "--url", gateway.url]) == 0
    listed = capsys.readouterr().out
    assert signer["aws_access_key_id"] in listed and signer["aws_secret_access_key"] not in listed


def test_usage_sums_what_was_served(
    gateway: RunningApp, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    for model in ("chat", "chat", "mini"):
        assert main(["chat", "--url", gateway.url, "--model", model, "--json", "hi"]) == 0
    capsys.readouterr()
    answer = _json(capsys, "usage", "--url", gateway.url, "--since", "1h")
    assert {row["model"]: row["requests"] for row in answer["data"]} == {"chat": 2, "mini": 1}
    assert answer["totals"]["requests"] == 3
    assert main(["usage", "--url", gateway.url, "--by", "provider"]) == 0
    table = capsys.readouterr().out
    assert "openai" in table and "total" in table
    assert table.splitlines()[-1] == "store memory (this gateway's memory alone) · open: no keys configured"
    assert _json(capsys, "usage", "--url", gateway.url, "--model", "mini")["totals"]["requests"] == 1
    assert main(["usage", "--url", gateway.url, "--since", "yesterday"]) == 2
    assert "not a time" in capsys.readouterr().err
