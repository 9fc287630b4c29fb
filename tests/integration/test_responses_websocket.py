"""WebSocket mode on /v1/responses: the official SDK's `responses.connect()` and raw sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, tool_call_stream
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import TEXT_SEQUENCE, assert_valid_stream, types, weather_tool
from tests.responses_spec import websocket_error_violations

MODEL = "gpt-4o-mini"
# The SDK's sync client opens its socket without the context manager websockets 17 prefers.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@pytest.fixture
def socket(gateway: RunningApp) -> Iterator[ClientConnection]:
    with connect(gateway.url.replace("http://", "ws://") + "/v1/responses", open_timeout=5) as ws:
        yield ws


def _turn(ws: ClientConnection, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one create event; the events up to its terminal one (or an error)."""
    ws.send(json.dumps({"type": "response.create", **event}))
    events = []
    while True:
        received = json.loads(ws.recv(timeout=10))
        events.append(received)
        if received["type"] in ("response.completed", "response.incomplete", "response.failed", "error"):
            if received["type"] == "error" and "sequence_number" in received:
                continue  # a mid-stream error: response.failed follows
            return events


def test_sdk_connect_runs_responses_one_after_another(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    with client.responses.connect() as connection:
        connection.response.create(model=MODEL, input="Remember 7.", store=False)
        first = [event for event in _until_terminal(connection)]
        assert [event.type for event in first] == TEXT_SEQUENCE
        response_id = first[-1].response.id  # type: ignore[union-attr]
        connection.response.create(model=MODEL, input="Which number?", previous_response_id=response_id, store=False)
        second = list(_until_terminal(connection))
    assert second[-1].type == "response.completed"
    assert second[-1].response.previous_response_id == response_id  # type: ignore[union-attr]
    assert upstream.received[-1].json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Remember 7."}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "Which number?"}]},
    ]
    # store: false means the continuation lived on that connection only.
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response_id)


def _until_terminal(connection: Any) -> Iterator[Any]:
    for event in connection:
        yield event
        if event.type in ("response.completed", "response.incomplete", "response.failed", "error"):
            return


def test_events_match_the_specs_and_sequence_restarts_per_response(socket: ClientConnection) -> None:
    for _ in range(2):
        events = _turn(socket, {"model": MODEL, "input": "Hi"})
        assert types(events) == TEXT_SEQUENCE
        assert_valid_stream(events)


def test_a_stored_response_is_continued_on_a_new_connection(gateway: RunningApp, client: openai.OpenAI) -> None:
    url = gateway.url.replace("http://", "ws://") + "/responses"
    with connect(url) as ws:
        first = _turn(ws, {"model": MODEL, "input": "Hi"})[-1]["response"]
    with connect(url) as ws:
        again = _turn(ws, {"model": MODEL, "input": "More", "previous_response_id": first["id"]})
    assert again[-1]["type"] == "response.completed"
    assert client.responses.retrieve(first["id"]).output_text == "Hello!"


def test_unknown_previous_response_is_an_error_event_and_the_socket_stays_open(socket: ClientConnection) -> None:
    error = _turn(socket, {"model": MODEL, "input": "x", "store": False, "previous_response_id": "resp_missing"})[-1]
    assert error["status"] == 404 and error["error"]["code"] == "previous_response_not_found"
    assert websocket_error_violations(error) == []
    assert _turn(socket, {"model": MODEL, "input": "Hi"})[-1]["type"] == "response.completed"


def test_a_failed_continuation_forgets_the_response_it_continued(socket: ClientConnection) -> None:
    first = _turn(socket, {"model": MODEL, "input": "Hi", "store": False})[-1]["response"]
    orphan = [{"type": "function_call_output", "call_id": "call_missing", "output": "x"}]
    failed = _turn(socket, {"model": MODEL, "store": False, "previous_response_id": first["id"], "input": orphan})[-1]
    assert failed["status"] == 400 and failed["error"]["param"] == "input[0].call_id"
    retry = _turn(socket, {"model": MODEL, "store": False, "previous_response_id": first["id"], "input": "Again"})[-1]
    assert retry["error"]["code"] == "previous_response_not_found"


def test_tool_loop_over_the_socket(socket: ClientConnection, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":"Oslo"}'])])))  # type: ignore[arg-type]
    first = _turn(socket, {"model": MODEL, "input": "Weather?", "tools": [weather_tool()], "store": False})
    call = first[-1]["response"]["output"][0]
    assert call["type"] == "function_call" and call["arguments"] == '{"city":"Oslo"}'
    answer = _turn(
        socket,
        {
            "model": MODEL,
            "store": False,
            "previous_response_id": first[-1]["response"]["id"],
            "tools": [weather_tool()],
            "input": [{"type": "function_call_output", "call_id": "call_1", "output": "-3C"}],
        },
    )
    assert answer[-1]["response"]["output_text"] == "Hello!"
    assert upstream.received[-1].json["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "-3C"}


def test_lanes_echo_their_stream_id(socket: ClientConnection) -> None:
    socket.send(json.dumps({"type": "response.create", "model": MODEL, "input": "a", "stream_id": "lane-a"}))
    socket.send(json.dumps({"type": "response.create", "model": MODEL, "input": "b", "stream_id": "lane-b"}))
    done: dict[str, str] = {}
    while len(done) < 2:
        event = json.loads(socket.recv(timeout=10))
        assert event["stream_id"] in ("lane-a", "lane-b")
        if event["type"] == "response.completed":
            done[event["stream_id"]] = event["response"]["id"]
    assert done["lane-a"] != done["lane-b"]


@pytest.mark.parametrize(
    ("message", "code", "param"),
    [
        ("{not json", "invalid_request_error", None),
        (json.dumps({"type": "session.update"}), "unknown_event_type", "type"),
        (json.dumps({"type": "response.create", "model": MODEL, "input": "x", "stream": True}), None, "stream"),
        (json.dumps({"type": "response.create", "input": "x"}), None, "model"),
    ],
)
def test_bad_events_get_error_events(
    socket: ClientConnection, message: str, code: str | None, param: str | None
) -> None:
    socket.send(message)
    error = json.loads(socket.recv(timeout=10))
    assert error["type"] == "error" and error["status"] == 400
    assert websocket_error_violations(error) == []
    if code:
        assert code in (error["error"]["code"], error["error"]["type"])
    assert error["error"]["param"] == param
    assert _turn(socket, {"model": MODEL, "input": "Hi"})[-1]["type"] == "response.completed"


def test_the_socket_needs_a_gateway_key_when_keys_are_set(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "sk-gw"})
    url = gateway.url.replace("http://", "ws://") + "/v1/responses"
    with connect(url, additional_headers={"Authorization": "Bearer wrong"}) as ws:
        error = json.loads(ws.recv(timeout=5))
        assert error["status"] == 401 and error["error"]["code"] == "invalid_api_key"
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-gw", max_retries=0, timeout=60) as client,
        client.responses.connect() as connection,
    ):
        connection.response.create(model=MODEL, input="Hi")
        assert list(_until_terminal(connection))[-1].type == "response.completed"


def test_each_response_on_a_socket_leaves_a_ledger_row(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    import httpx

    master = "master-key-for-the-tests-0123456789"
    gateway = make_gateway(env={"BABELGATE_MASTER_KEY": master})
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client,
        client.responses.connect() as connection,
    ):
        for text in ("One.", "Two."):
            connection.response.create(model=MODEL, input=text, store=False)
            list(_until_terminal(connection))
    usage = httpx.get(gateway.url + "/admin/usage?group_by=model", headers={"Authorization": f"Bearer {master}"})
    (row,) = usage.json()["data"]
    assert row["model"] == MODEL and row["requests"] == 2 and row["prompt_tokens"] > 0
