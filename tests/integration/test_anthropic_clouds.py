"""Claude's cloud doors as frontends, driven by the `anthropic` SDK's own cloud clients: `AnthropicBedrock`
(InvokeModel / InvokeModelWithResponseStream, event-stream answers read by botocore) and `AnthropicVertex`
(rawPredict / streamRawPredict), each pointed at the gateway with a gateway key, through OpenAI, Anthropic
and Gemini upstream fakes (which check what they receive against their own specs), streamed and not, with a
tool round trip; then errors in each cloud's own format, and the SigV4 rule (frontends/anthropic_clouds/)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import botocore.config
import botocore.exceptions
import botocore.session
import httpx
import orjson
import pytest
from anthropic.types import Message, MessageParam, ToolParam
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.openai_upstream import FakeOpenAI, completion, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp

KEY = "sk-cloud-door-gateway-key"
USER: list[MessageParam] = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@dataclass
class Road:
    """One provider behind the gateway: its model's gateway name, how to script a tool call on its fake, and
    what its fake received last."""

    provider: str
    gateway: RunningApp
    model: str
    script_call: Callable[[bool], None]  # (stream) → the fake answers with get_weather({"city": "Paris"})
    sent: Callable[[], dict[str, Any]]


@pytest.fixture(params=["openai", "anthropic", "gemini"])
def road(
    request: pytest.FixtureRequest,
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> Road:
    provider: str = request.param
    env = {
        "BABELGATE_API_KEYS": KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini_upstream.base_url,
    }
    gateway = make_gateway(env=env)
    if provider == "openai":

        def script_openai(stream: bool) -> None:
            if stream:
                upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])])))
            else:
                upstream.script(
                    Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')]))
                )

        return Road(provider, gateway, "openai/gpt-4o-mini", script_openai, lambda: upstream.received[-1].json)
    if provider == "anthropic":

        def script_claude(stream: bool) -> None:
            if stream:
                events = ant.tool_events([("toolu_01", "get_weather", ['{"city":', '"Paris"}'])])
                anthropic_upstream.script(ant.Reply(stream=[*events[:1], ant.ping_event(), *events[1:]]))
            else:
                block = ant.tool_use_block("toolu_01", "get_weather", {"city": "Paris"})
                anthropic_upstream.script(ant.Reply(json=ant.message([block])))

        def claude_sent() -> dict[str, Any]:
            return next(r.json for r in reversed(anthropic_upstream.received) if r.path == "/v1/messages")

        return Road(provider, gateway, "anthropic/claude-sonnet-4-6", script_claude, claude_sent)

    def script_gemini(stream: bool) -> None:
        if stream:
            chunks = gem.function_call_chunks([("get_weather", {"city": "Paris"}, None, None)])
            gemini_upstream.script(gem.Reply(stream=chunks))  # type: ignore[arg-type]
        else:
            part = gem.function_call_part("get_weather", {"city": "Paris"})
            gemini_upstream.script(gem.Reply(json=gem.response([part])))

    def gemini_sent() -> dict[str, Any]:
        return next(r.json for r in reversed(gemini_upstream.received) if ":" in r.path)

    return Road(provider, gateway, "gemini/gemini-3-pro-preview", script_gemini, gemini_sent)


def bedrock_client(gateway: RunningApp, **options: Any) -> anthropic.AnthropicBedrock:
    options.setdefault("api_key", KEY)  # sent as `Authorization: Bearer` (AWS_BEARER_TOKEN_BEDROCK)
    return anthropic.AnthropicBedrock(
        base_url=gateway.url, aws_region="us-east-1", max_retries=0, timeout=10, **options
    )


def vertex_client(gateway: RunningApp) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        base_url=gateway.url + "/v1",
        region="us-east5",
        project_id="babelgate-test",
        access_token=KEY,
        max_retries=0,
        timeout=10,
    )


Client = anthropic.AnthropicBedrock | anthropic.AnthropicVertex


@pytest.fixture(params=["bedrock", "vertex"])
def cloud(request: pytest.FixtureRequest, road: Road) -> Iterator[Client]:
    client: Client = bedrock_client(road.gateway) if request.param == "bedrock" else vertex_client(road.gateway)
    with client:
        yield client


def _ask(client: Client, model: str, messages: list[MessageParam], *, stream: bool) -> Message:
    if stream:
        with client.messages.stream(model=model, max_tokens=200, messages=messages, tools=[WEATHER]) as events:
            return events.get_final_message()
    return client.messages.create(model=model, max_tokens=200, messages=messages, tools=[WEATHER])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_round_trip_through_each_cloud_door(cloud: Client, road: Road, stream: bool) -> None:
    road.script_call(stream)
    first = _ask(cloud, road.model, USER, stream=stream)
    assert first.stop_reason == "tool_use"
    calls = [block for block in first.content if block.type == "tool_use"]
    assert [(call.name, call.input) for call in calls] == [("get_weather", {"city": "Paris"})]
    history: list[MessageParam] = [
        *USER,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id, "content": "21C"}]},
    ]
    answer = _ask(cloud, road.model, history, stream=stream)  # the fakes answer "Hello!" when not scripted
    assert answer.stop_reason == "end_turn"
    assert [block.text for block in answer.content if block.type == "text"] == ["Hello!"]
    sent = road.sent()
    assert "anthropic_version" not in sent and "anthropic_beta" not in sent
    text = orjson.dumps(sent).decode()
    assert "21C" in text and "get_weather" in text, "the tool result reached the upstream"


def test_the_bedrock_stream_is_an_event_stream_of_base64_chunks(
    road: Road, anthropic_upstream: ant.FakeAnthropic
) -> None:
    """Bedrock's own framing, read by botocore: `chunk` events whose `bytes` hold Anthropic's events, no
    pings, the betas and version of the envelope accepted."""
    road.script_call(True)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        "max_tokens": 200,
        "messages": USER,
        "tools": [WEATHER],
    }
    response = httpx.post(
        f"{road.gateway.url}/model/{road.model.replace('/', '%2F')}/invoke-with-response-stream",
        content=orjson.dumps(body),
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    buffer = EventStreamBuffer()
    buffer.add_data(response.content)
    events = []
    for message in buffer:
        assert message.headers == {
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        }
        events.append(orjson.loads(base64.b64decode(orjson.loads(message.payload)["bytes"])))
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "ping" not in kinds
    assert "content_block_start" in kinds and "input_json_delta" in orjson.dumps(events).decode()
    if road.provider == "anthropic":  # the native road: the envelope's betas reach Claude as its header
        received = next(r for r in reversed(anthropic_upstream.received) if r.path == "/v1/messages")
        assert received.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
        assert "betas" not in received.json and "anthropic_version" not in received.json


def test_vertex_counts_tokens_at_its_own_path(road: Road) -> None:
    with vertex_client(road.gateway) as client:
        counted = client.messages.count_tokens(model=road.model, messages=USER, tools=[WEATHER])
    assert counted.input_tokens > 0


# -- errors in each cloud's format --------------------------------------------------------------------


@pytest.fixture
def gateway_with_key(make_gateway: GatewayFactory) -> RunningApp:
    return make_gateway(env={"BABELGATE_API_KEYS": KEY})


def _invoke(gateway: RunningApp, model: str, headers: dict[str, str], stream: bool = False) -> httpx.Response:
    action = "invoke-with-response-stream" if stream else "invoke"
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": USER}
    return httpx.post(
        f"{gateway.url}/model/{model}/{action}",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **headers},
        timeout=10,
    )


def test_bedrock_errors_are_bedrocks(gateway_with_key: RunningApp) -> None:
    with bedrock_client(gateway_with_key) as client, pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=20, messages=USER)
    assert missing.value.response.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert set(missing.value.response.json()) == {"message"} and "no-such-model" in missing.value.response.text
    refused = _invoke(gateway_with_key, "gpt-4o-mini", {"authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.headers["x-amzn-errortype"] == "UnrecognizedClientException"
    assert "AWS_BEARER_TOKEN_BEDROCK" in refused.json()["message"]
    bad = _invoke(gateway_with_key, "gpt-4o-mini", {"authorization": f"Bearer {KEY}"}, stream=False)
    assert bad.status_code == 200
    invalid = httpx.post(
        f"{gateway_with_key.url}/model/gpt-4o-mini/invoke",
        content=b"{not json",
        headers={"authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert invalid.status_code == 400 and invalid.headers["x-amzn-errortype"] == "ValidationException"
    assert set(invalid.json()) == {"message"}
    unknown = httpx.post(
        f"{gateway_with_key.url}/model/gpt-4o-mini/converse-nothing", headers={"x-api-key": KEY}, timeout=10
    )
    assert unknown.status_code == 404 and set(unknown.json()) == {"message"}
    assert unknown.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    # A count of a Converse input is the Converse door's (test_converse.py): its missing messages are named.
    for body, named in (
        ({"input": {"invokeModel": {"body": "é"}}}, "input.invokeModel.body"),
        ({"input": {"converse": {}}}, "messages"),
        ({"input": []}, "input.invokeModel.body"),
    ):
        count = httpx.post(
            f"{gateway_with_key.url}/model/gpt-4o-mini/count-tokens", json=body, headers={"x-api-key": KEY}, timeout=10
        )
        assert count.status_code == 400 and count.headers["x-amzn-errortype"] == "ValidationException", count.text
        assert named in count.json()["message"]


def _signed(gateway: RunningApp, **headers: str) -> httpx.Response:
    """An InvokeModel request signed with SigV4 by botocore, as an AWS SDK signs it, with `headers` beside."""
    body = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": USER})
    request = AWSRequest(
        "POST", f"{gateway.url}/model/gpt-4o-mini/invoke", data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(Credentials("AKIAEXAMPLEKEY000001", "not-a-gateway-secret"), "bedrock", "us-east-1").add_auth(request)
    return httpx.post(request.url, content=body, headers={**dict(request.headers.items()), **headers}, timeout=10)


def test_a_sigv4_signature_alone_is_refused_and_beside_a_key_ignored(gateway_with_key: RunningApp) -> None:
    """A SigV4 signature proves an AWS secret the gateway does not have: refused, with a message that says
    how to send a gateway key; the same signed request with the key in `x-api-key` (Claude Code's
    ANTHROPIC_CUSTOM_HEADERS) is served, and with a wrong key there refused."""
    refused = _signed(gateway_with_key)
    assert refused.request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEKEY000001/")
    assert refused.status_code == 401 and refused.headers["x-amzn-errortype"] == "UnrecognizedClientException"
    assert "SigV4" in refused.json()["message"] and "x-api-key" in refused.json()["message"]
    served = _signed(gateway_with_key, **{"x-api-key": KEY})
    assert served.status_code == 200 and served.json()["content"][0]["text"] == "Hello!"
    assert _signed(gateway_with_key, **{"x-api-key": "wrong"}).status_code == 401


def test_a_bedrock_stream_that_breaks_ends_with_an_exception_frame(
    gateway_with_key: RunningApp, upstream: FakeOpenAI
) -> None:
    upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"ci', 'ty":1}'])]), drop_after=2))
    with (
        bedrock_client(gateway_with_key) as client,
        pytest.raises(anthropic.APIStatusError) as broken,
        client.messages.stream(model="gpt-4o-mini", max_tokens=20, messages=USER, tools=[WEATHER]) as stream,
    ):
        stream.get_final_message()
    assert broken.value.body["error"]["type"] == "modelStreamErrorException"  # type: ignore[index]


def test_vertex_errors_are_googles(gateway_with_key: RunningApp) -> None:
    with vertex_client(gateway_with_key) as client, pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="no-such-model", max_tokens=20, messages=USER)
    error = missing.value.response.json()["error"]
    assert error["code"] == 404 and error["status"] == "NOT_FOUND" and "no-such-model" in error["message"]
    path = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/gpt-4o-mini:rawPredict"
    refused = httpx.post(gateway_with_key.url + path, json={"max_tokens": 5, "messages": USER}, timeout=10)
    error = refused.json()["error"]
    assert refused.status_code == 401 and error["status"] == "UNAUTHENTICATED" and "x-api-key" in error["message"]
    by_header = httpx.post(
        gateway_with_key.url + path, json={"max_tokens": 5, "messages": USER}, headers={"x-api-key": KEY}, timeout=10
    )
    assert by_header.status_code == 200 and by_header.json()["content"][0]["text"] == "Hello!"
    wrong = httpx.post(
        gateway_with_key.url + path.replace(":rawPredict", ":fineTune"), headers={"x-api-key": KEY}, timeout=10
    )
    assert wrong.status_code == 404 and wrong.json()["error"]["status"] == "NOT_FOUND"


def test_claude_code_asks_the_control_plane_for_inference_profiles(gateway_with_key: RunningApp) -> None:
    listed = httpx.get(gateway_with_key.url + "/inference-profiles?type=SYSTEM_DEFINED", timeout=10)
    assert listed.status_code == 200 and listed.json() == {"inferenceProfileSummaries": []}


# -- botocore's own bedrock-runtime client: the AWS SDK's parser reads what the door writes -----------------


@pytest.fixture
def boto_bedrock(road: Road) -> Any:
    """botocore's `bedrock-runtime` client at the gateway, as an AWS SDK user's: SigV4-signed with AWS keys the
    gateway cannot check, the gateway key beside the signature in `x-api-key` (botocore sends a Bedrock API key
    as a bearer token only over HTTPS)."""
    session = botocore.session.get_session()
    session.set_credentials("AKIAEXAMPLEKEY000002", "not-a-gateway-secret")
    client = session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=road.gateway.url,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )

    def add_key(request: Any, **_: Any) -> None:
        request.headers["x-api-key"] = KEY

    client.meta.events.register("before-sign.bedrock-runtime.*", add_key)
    return client


def _envelope(**fields: Any) -> bytes:
    return orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": USER, **fields})


def test_botocore_invokes_streams_and_counts_through_the_door(boto_bedrock: Any, road: Road) -> None:
    answer = boto_bedrock.invoke_model(modelId=road.model, body=_envelope())
    assert orjson.loads(answer["body"].read())["content"][0]["text"] == "Hello!"
    road.script_call(True)
    streamed = boto_bedrock.invoke_model_with_response_stream(modelId=road.model, body=_envelope(tools=[WEATHER]))
    events = [orjson.loads(event["chunk"]["bytes"]) for event in streamed["body"]]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert any(event.get("delta", {}).get("stop_reason") == "tool_use" for event in events)
    counted = boto_bedrock.count_tokens(
        modelId=road.model, input={"invokeModel": {"body": _envelope(tools=[WEATHER], temperature=0.5)}}
    )
    assert counted["inputTokens"] > 0
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        boto_bedrock.invoke_model(modelId="no-such-model", body=_envelope())
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_clouds_own_model_ids_work_as_aliases(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    """Managed settings may pin Claude Code to Bedrock ids, inference-profile ARNs (a slash and colons: quoted in
    the path) or Vertex ids (`@`): each names a model once it is an alias (docs/agents.md)."""
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    config = (
        "aliases:\n"
        "  us.anthropic.claude-sonnet-4-5-20250929-v1:0: openai/gpt-4o-mini\n"
        f"  '{arn}': openai/gpt-4o-mini\n"
        "  claude-sonnet-4-5@20250929: openai/gpt-4o-mini\n"
    )
    gateway = make_gateway(config, env={"BABELGATE_API_KEYS": KEY})
    with bedrock_client(gateway) as client:
        for model in ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", arn):
            assert client.messages.create(model=model, max_tokens=20, messages=USER).content[0].text == "Hello!"  # type: ignore[union-attr]
            assert upstream.received[-1].json["model"] == "gpt-4o-mini"
    with vertex_client(gateway) as vertex:
        answer = vertex.messages.create(model="claude-sonnet-4-5@20250929", max_tokens=20, messages=USER)
    assert answer.content[0].text == "Hello!"  # type: ignore[union-attr]


def test_bedrocks_model_ids_find_the_gateways_models_as_at_the_converse_door(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, bedrock_upstream: FakeBedrock
) -> None:
    """The InvokeModel door resolves Bedrock's ids as the Converse door does (frontends/bedrock_model_ids.py): another
    geography's profile of a model configured on Bedrock reaches it under the configured profile, and a Claude id
    no Bedrock model serves reaches Anthropic under Claude's own name."""
    bedrock_upstream.bearer_keys.add("ABSKfake-bedrock-api-key-0123456789")
    config = f"""
providers:
  aws: {{type: bedrock, region: us-east-1, base_url: {bedrock_upstream.base_url}, api_key: env:BEDROCK_BEARER}}
models:
  sonnet: {{provider: aws, model: us.anthropic.claude-sonnet-4-20250514-v1:0}}
"""
    env = {
        "BABELGATE_API_KEYS": KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "BEDROCK_BEARER": "ABSKfake-bedrock-api-key-0123456789",
    }
    gateway = make_gateway(config, env=env)
    with bedrock_client(gateway) as client:
        client.messages.create(model="eu.anthropic.claude-sonnet-4-20250514-v1:0", max_tokens=20, messages=USER)
        sent = next(r for r in reversed(bedrock_upstream.received) if r.path.endswith("/invoke"))
        assert "us.anthropic.claude-sonnet-4-20250514-v1:0" in sent.path
        answer = client.messages.create(
            model="global.anthropic.claude-3-5-haiku-20241022-v1:0", max_tokens=20, messages=USER
        )
        assert answer.content[0].text == "Hello!"  # type: ignore[union-attr]
        assert anthropic_upstream.received[-1].json["model"] == "claude-3-5-haiku-20241022"


def test_a_cached_model_replays_each_door_in_its_own_framing(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    """The response cache keys by route: a hit on the Bedrock stream is the event stream again (botocore and the
    SDK read it), a hit on Vertex Anthropic's SSE again, and neither is the other's or the Messages route's."""
    gateway = make_gateway(
        "models:\n  cached: {provider: openai, model: gpt-4o-mini, cache: {ttl: 60}}\n", env={"BABELGATE_API_KEYS": KEY}
    )

    def calls() -> int:
        return sum(1 for received in upstream.received if received.path == "/v1/chat/completions")

    answers = [_invoke(gateway, "cached", {"x-api-key": KEY}, stream=True) for _ in range(2)]
    assert [answer.headers["x-babelgate-cache"] for answer in answers] == ["miss", "hit"]
    assert answers[1].content == answers[0].content
    assert answers[1].headers["content-type"] == "application/vnd.amazon.eventstream"
    with bedrock_client(gateway) as client, client.messages.stream(model="cached", max_tokens=20, messages=USER) as s:
        assert s.get_final_message().content[0].text == "Hello!"  # type: ignore[union-attr]
    with vertex_client(gateway) as vertex:
        for _ in range(2):
            with vertex.messages.stream(model="cached", max_tokens=20, messages=USER) as s:
                assert s.get_final_message().content[0].text == "Hello!"  # type: ignore[union-attr]
    # Upstream once for Bedrock (the SDK sends _invoke's very body: a hit it read) and once for Vertex.
    assert calls() == 2
