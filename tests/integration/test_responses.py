"""The Responses API through the gateway to an OpenAI-compatible upstream, driven by the official
`openai` SDK; what the gateway sends back is checked against the OpenAI and Open Responses specs."""

from __future__ import annotations

import collections
import gc
import json
import time

import httpx
import openai
import pydantic
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, chunk, completion, tool_call, tool_call_stream
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import (
    TEXT_SEQUENCE,
    assert_valid_resource,
    assert_valid_stream,
    stream_raw,
    types,
    weather_tool,
)

MODEL = "gpt-4o-mini"


def _raw_create(client: openai.OpenAI, **body: object) -> dict[str, object]:
    return client.responses.with_raw_response.create(**body).http_response.json()  # type: ignore[arg-type, no-any-return]


def test_text_answer_is_a_complete_resource(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    raw = _raw_create(
        client,
        model=MODEL,
        input="Hi",
        instructions="Be brief.",
        temperature=0.2,
        max_output_tokens=50,
        metadata={"ticket": "42"},
        reasoning={"effort": "low"},
    )
    assert_valid_resource(raw)
    answer = client.responses.retrieve(str(raw["id"]))
    assert answer.output_text == "Hello!" and answer.status == "completed" and answer.model == MODEL
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.total_tokens) == (9, 3, 12)
    assert answer.instructions == "Be brief." and answer.metadata == {"ticket": "42"} and answer.temperature == 0.2
    sent = upstream.received[-1].json
    assert sent == {
        "model": MODEL,
        "temperature": 0.2,
        "max_tokens": 50,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ],
    }
    # gpt-4o-mini does not reason: OpenAI's profile drops the effort; a reasoning model gets it.
    client.responses.create(model="o4-mini", input="Hi", reasoning={"effort": "low"}, max_output_tokens=50)
    sent = upstream.received[-1].json
    assert sent["reasoning_effort"] == "low" and sent["max_completion_tokens"] == 50


def test_stream_follows_the_spec_event_order(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    events = stream_raw(gateway.url, {"model": MODEL, "input": "Hi"})
    assert types(events) == TEXT_SEQUENCE
    assert_valid_stream(events)
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "Hello!"
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["total_tokens"] == 12
    assert final["output"] == [events[-2]["item"]]
    assert upstream.received[-1].json["stream_options"] == {"include_usage": True}


def test_sdk_stream_helper_assembles_the_answer(client: openai.OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="Hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Hello!" and final.output_text == "Hello!"


def test_tool_loop_continues_by_previous_response_id(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')])))
    first = client.responses.create(model=MODEL, input="Weather in Paris?", tools=[weather_tool()])  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "function_call" and call.call_id == "call_1" and call.arguments == '{"city":"Paris"}'
    assert call.status == "completed" and first.status == "completed"
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        tools=[weather_tool()],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "21C"}],
    )
    assert second.output_text == "Hello!" and second.previous_response_id == first.id
    sent = upstream.received[-1].json
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
    ]
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": weather_tool()["parameters"],
        },
    }
    # A third turn continues the whole chain, instructions excepted (they apply per turn).
    client.responses.create(model=MODEL, previous_response_id=second.id, input="Thanks", instructions="Be brief.")
    messages = upstream.received[-1].json["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert messages[4] == {"role": "assistant", "content": "Hello!"}


def test_streamed_parallel_tool_calls(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            stream=tool_call_stream(
                [
                    ("call_a", "get_weather", ['{"ci', 'ty":"Paris"}']),  # type: ignore[arg-type]
                    ("call_b", "get_time", ['{"tz":"CET"}']),
                ]
            )
        )
    )
    events = stream_raw(
        gateway.url, {"model": MODEL, "input": "Both?", "tools": [weather_tool(), weather_tool("get_time")]}
    )
    assert_valid_stream(events)
    output = events[-1]["response"]["output"]
    assert [(item["call_id"], item["name"], item["arguments"]) for item in output] == [
        ("call_a", "get_weather", '{"city":"Paris"}'),
        ("call_b", "get_time", '{"tz":"CET"}'),
    ]
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(e["name"], e["arguments"]) for e in done] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_time", '{"tz":"CET"}'),
    ]
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == ['{"ci', 'ty":"Paris"}', '{"tz":"CET"}']


class City(pydantic.BaseModel):
    name: str
    country: str


def test_parse_sends_a_json_schema_and_parses_the_answer(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion('{"name":"Paris","country":"France"}')))
    parsed = client.responses.parse(model=MODEL, input="A city?", text_format=City)
    assert parsed.output_parsed == City(name="Paris", country="France")
    fmt = upstream.received[-1].json["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City" and fmt["json_schema"]["strict"]


def test_length_finish_is_an_incomplete_response(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion("Hel", finish_reason="length")))
    answer = client.responses.create(model=MODEL, input="Hi", max_output_tokens=16)
    assert answer.status == "incomplete" and answer.incomplete_details is not None
    assert answer.incomplete_details.reason == "max_output_tokens" and answer.output_text == "Hel"


def test_retrieve_input_items_and_delete(client: openai.OpenAI) -> None:
    created = client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ],
    )
    assert client.responses.retrieve(created.id).output_text == created.output_text
    items = client.responses.input_items.list(created.id, order="asc")
    assert [item.role for item in items.data] == ["user", "assistant", "user"]  # type: ignore[union-attr]
    assert all(item.id for item in items.data)
    page = client.responses.input_items.list(created.id, limit=2)
    assert [item.role for item in page.data] == ["user", "assistant"] and page.has_more  # type: ignore[union-attr]
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(created.id)
    assert caught.value.code == "response_not_found"


def test_store_false_keeps_nothing(client: openai.OpenAI) -> None:
    created = client.responses.create(model=MODEL, input="Hi", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=MODEL, input="More", previous_response_id=created.id)
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi", "tools": [{"type": "namespace", "name": "ns", "tools": []}]}, "tools[0].tools"),
        ({"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"type": "message", "role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": "Hi", "temperature": 3}, "temperature"),
        ({"input": "Hi", "stream": "yes"}, "stream"),
        ({"input": "Hi", "background": True}, "background"),
        ({}, "input"),
    ],
)
def test_bad_requests_are_400_naming_the_parameter(gateway: RunningApp, body: dict[str, object], param: str) -> None:
    response = httpx.post(gateway.url + "/v1/responses", json={"model": MODEL, **body}, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_wrong_json_and_unknown_model(gateway: RunningApp) -> None:
    bad = httpx.post(gateway.url + "/v1/responses", content=b"{nope", timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    unknown = httpx.post(gateway.url + "/v1/responses", json={"model": "no-such-model", "input": "Hi"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"


def test_upstream_rate_limit_before_the_stream_is_an_http_429(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=429,
            json={"error": {"message": "slow down", "type": "rate_limit_error"}},
            headers={"Retry-After": "7"},
        )
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model=MODEL, input="Hi", stream=True)
    assert caught.value.response.headers["retry-after"] == "7"


def test_upstream_drop_mid_stream_ends_with_error_and_failed(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=[chunk({"role": "assistant", "content": "Hel"})], done=False, drop_after=1))
    events = stream_raw(gateway.url, {"model": MODEL, "input": "Hi"})
    assert_valid_stream(events)
    assert types(events)[-2:] == ["error", "response.failed"]
    assert events[-2]["error"]["code"] == events[-2]["code"] == "upstream_protocol_error"
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"


def test_the_sdk_raises_on_a_failed_stream(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=[chunk({"role": "assistant", "content": "Hel"})], done=False, drop_after=1))
    with pytest.raises(openai.APIError), client.responses.stream(model=MODEL, input="Hi") as stream:
        for _ in stream:
            pass


def test_stored_responses_survive_a_restart(make_gateway: GatewayFactory, tmp_path: object) -> None:
    env = {"BABELGATE_STORE_URL": f"sqlite:{tmp_path}/state/babelgate.db"}
    first = make_gateway(env=env)
    with openai.OpenAI(base_url=first.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        created = client.responses.create(model=MODEL, input="Remember: the code is 7.")
    second = make_gateway(env=env)  # another process's view of the same file
    with openai.OpenAI(base_url=second.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        deadline = time.monotonic() + 3
        while True:  # the first gateway writes behind the answer; give it a moment
            try:
                again = client.responses.retrieve(created.id)
                break
            except openai.NotFoundError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        follow = client.responses.create(model=MODEL, input="What is the code?", previous_response_id=created.id)
    assert again.output_text == "Hello!" and follow.previous_response_id == created.id


def test_native_road_relays_openai_responses_unchanged(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway("""
models:
  smart:
    provider: openai
    model: gpt-5
    native_responses: true
""")
    resource = {
        "id": "resp_upstream",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "gpt-5",
        "output": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "usage": {
            "input_tokens": 5,
            "output_tokens": 2,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
    upstream.script(Reply(json=resource))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        answer = client.responses.create(
            model="smart", input="Search it", tools=[{"type": "web_search"}], include=["web_search_call.action.sources"]
        )
        assert answer.id == "resp_upstream"
        sent = upstream.received[-1]
        assert sent.path == "/v1/responses"
        assert sent.json == {
            "model": "gpt-5",
            "input": "Search it",
            "tools": [{"type": "web_search"}],
            "include": ["web_search_call.action.sources"],
        }
        events = [
            {"type": "response.created", "sequence_number": 0, "response": {**resource, "status": "in_progress"}},
            {"type": "response.completed", "sequence_number": 1, "response": resource},
        ]
        upstream.script(Reply(stream=events))  # type: ignore[arg-type]
        with client.responses.stream(model="smart", input="Search it") as stream:
            seen = [event.type for event in stream]
        assert seen == ["response.created", "response.completed"]


def test_native_option_needs_a_provider_with_a_responses_api(make_gateway: GatewayFactory) -> None:
    yaml = "models:\n  c:\n    provider: anthropic\n    model: claude-sonnet-4-6\n    native_responses: true\n"
    with pytest.raises(ValueError, match=r"models\.c\.native_responses: provider 'anthropic' has no native"):
        make_gateway(yaml, env={"ANTHROPIC_API_KEY": "k"})


def test_compact_summarises_with_the_model(client: openai.OpenAI, gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion("The user likes tea.")))
    response = httpx.post(
        gateway.url + "/v1/responses/compact",
        timeout=10,
        json={
            "model": MODEL,
            "input": [{"role": "user", "content": "I like tea."}, {"role": "assistant", "content": "Noted."}],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "response.compaction"
    assert [item["type"] for item in body["output"]] == ["message", "compaction"]
    assert upstream.received[-1].json["messages"][-1]["role"] == "user"
    upstream.script(Reply(json=completion("Tea it is.")))
    client.responses.create(model=MODEL, input=[*body["output"], {"role": "user", "content": "Drink?"}])
    messages = upstream.received[-1].json["messages"]
    assert messages[1] == {"role": "system", "content": "Summary of the earlier conversation:\nThe user likes tea."}
    missing = httpx.post(gateway.url + "/v1/responses/compact", json={"input": "x"}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"


def test_error_messages_follow_accept_language(gateway: RunningApp) -> None:
    response = httpx.post(
        gateway.url + "/v1/responses",
        json={"model": MODEL, "input": "Hi", "previous_response_id": "resp_x"},
        headers={"Accept-Language": "de"},
        timeout=10,
    )
    assert response.status_code == 404
    assert json.loads(response.text)["error"]["message"] == "Vorherige Antwort mit der ID 'resp_x' nicht gefunden."


def test_responses_leave_no_reference_cycles_to_the_collector(gateway: RunningApp) -> None:
    """A Responses request, plain or streamed, leaves nothing of the gateway's that only the cycle collector frees.
    `babelgate serve` paces the collector (collector.py): what outlives its young passes waits for a full one, which
    runs once resident memory has doubled, so a cycle per request holding the request's turn (its body, request and
    response) grew the compiled gateway from ~62 to ~122 MiB under load. The compiled build (`make compiled` runs
    this file) is where such cycles come from: mypyc keeps a function's captured locals in an environment object
    its closures point back to, so a closure captured by another closure is a cycle per call. Every body is read to
    its end, so the connection is kept (a closed one's objects are not a request's)."""
    requests = 20
    body = {"model": MODEL, "input": "Hi", "tools": [weather_tool()]}
    with httpx.Client(base_url=gateway.url + "/v1", timeout=10) as http:
        assert http.post("/responses", json=body).status_code == 200  # warm: pools, the store, first-use caches
        gc.collect()
        gc.disable()
        try:
            for n in range(requests):
                answer = http.post("/responses", json={**body, "stream": n % 2 == 1})
                assert answer.status_code == 200 and b'"status":"completed"' in answer.content
            gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable is kept, to name it
            gc.collect()
            ours = [item for item in gc.garbage if type(item).__module__.startswith("babelgate")]
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()
    kinds = collections.Counter(f"{type(item).__module__}.{type(item).__qualname__}" for item in ours)
    assert len(ours) <= requests // 4, f"cyclic garbage of the gateway's after {requests} requests: {kinds}"
