"""Bedrock's Converse API as a door, driven by boto3's own `bedrock-runtime` and `bedrock` clients: `converse`
and `converse_stream` (an event stream botocore parses and CRC-checks), text, an image, a tool round trip,
`count_tokens` and the control plane's listings, through OpenAI, Anthropic and Gemini upstream fakes (which
check what they receive against their own specs), and through the Bedrock fake on the native road (which checks
the Converse body against botocore's service model); then Bedrock's exceptions, a guardrail on both actions, a
virtual key's model list, and LangChain's ChatBedrockConverse on a tool task (frontends/bedrock_converse/)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import httpx
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.bedrock_service import exception_frame
from tests.fakes.bedrock_upstream import FakeBedrock, converse_response, converse_tool_events
from tests.fakes.bedrock_upstream import Reply as BedrockReply
from tests.fakes.images import PNG
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp

KEY = "sk-converse-door-gateway-key"
BEDROCK_KEY = "ABSKfake-bedrock-api-key-0123456789"
MASTER = "master-key-for-the-converse-tests-0123"
USER = [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    }
}
TOOLS = {"tools": [WEATHER], "toolChoice": {"auto": {}}}


@dataclass
class Road:
    """One provider behind the gateway: its model's gateway name, how to script a tool call on its fake, what its
    fake received last, and the answer its fake gives by default."""

    provider: str
    gateway: RunningApp
    model: str
    script_call: Callable[[bool], None]  # (stream) → the fake answers with get_weather({"city": "Paris"})
    sent: Callable[[], dict[str, Any]]
    hello: str


def _env(anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini, **more: str) -> dict[str, str]:
    return {
        "BABELGATE_API_KEYS": KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini_upstream.base_url,
        **more,
    }


def _bedrock_config(fake: FakeBedrock, extra: str = "") -> str:
    return f"""
providers:
  aws:
    type: bedrock
    region: us-east-1
    base_url: {fake.base_url}
    api_key: env:BEDROCK_BEARER
models:
  nova: {{provider: aws, model: us.amazon.nova-pro-v1:0}}
{extra}"""


@pytest.fixture(params=["openai", "anthropic", "gemini", "bedrock"])
def road(
    request: pytest.FixtureRequest,
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
    bedrock_upstream: FakeBedrock,
) -> Road:
    provider: str = request.param
    bedrock_upstream.bearer_keys.add(BEDROCK_KEY)
    env = _env(anthropic_upstream, gemini_upstream, BEDROCK_BEARER=BEDROCK_KEY)
    gateway = make_gateway(_bedrock_config(bedrock_upstream), env=env)
    if provider == "openai":

        def script_openai(stream: bool) -> None:
            if stream:
                upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])])))
            else:
                upstream.script(
                    Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')]))
                )

        return Road(
            provider, gateway, "openai/gpt-4o-mini", script_openai, lambda: upstream.received[-1].json, "Hello!"
        )
    if provider == "anthropic":

        def script_claude(stream: bool) -> None:
            if stream:
                events = ant.tool_events([("toolu_01", "get_weather", ['{"city":', '"Paris"}'])])
                anthropic_upstream.script(ant.Reply(stream=events))
            else:
                block = ant.tool_use_block("toolu_01", "get_weather", {"city": "Paris"})
                anthropic_upstream.script(ant.Reply(json=ant.message([block])))

        def claude_sent() -> dict[str, Any]:
            return next(r.json for r in reversed(anthropic_upstream.received) if r.path == "/v1/messages")

        return Road(provider, gateway, "anthropic/claude-sonnet-4-6", script_claude, claude_sent, "Hello!")
    if provider == "gemini":

        def script_gemini(stream: bool) -> None:
            if stream:
                chunks = gem.function_call_chunks([("get_weather", {"city": "Paris"}, None, None)])
                gemini_upstream.script(gem.Reply(stream=chunks))  # type: ignore[arg-type]
            else:
                part = gem.function_call_part("get_weather", {"city": "Paris"})
                gemini_upstream.script(gem.Reply(json=gem.response([part])))

        def gemini_sent() -> dict[str, Any]:
            return next(r.json for r in reversed(gemini_upstream.received) if ":" in r.path)

        return Road(provider, gateway, "gemini/gemini-3-pro-preview", script_gemini, gemini_sent, "Hello!")

    def script_bedrock(stream: bool) -> None:
        if stream:
            events = converse_tool_events([("tooluse_1", "get_weather", ['{"city":', '"Paris"}'])])
            bedrock_upstream.script(BedrockReply(stream=events))  # type: ignore[arg-type]
        else:
            use = {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            bedrock_upstream.script(BedrockReply(json=converse_response([use])))

    def bedrock_sent() -> dict[str, Any]:
        return next(r.json for r in reversed(bedrock_upstream.received) if "/converse" in r.path)

    return Road(provider, gateway, "nova", script_bedrock, bedrock_sent, "Hello from Bedrock!")


def _client(gateway: RunningApp, service: str = "bedrock-runtime", key: str = KEY) -> Any:
    """boto3's client at the gateway, as an AWS SDK user's: SigV4-signed with AWS keys the gateway cannot check, the
    gateway key beside the signature in `x-api-key` (botocore sends a Bedrock API key as a bearer token only over
    HTTPS)."""
    session = boto3.session.Session(
        aws_access_key_id="AKIAEXAMPLEKEY000003", aws_secret_access_key="not-a-gateway-secret"
    )
    client = session.client(
        service,
        region_name="us-east-1",
        endpoint_url=gateway.url,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15),
    )

    def add_key(request: Any, **_: Any) -> None:
        request.headers["x-api-key"] = key

    client.meta.events.register(f"before-sign.{service}.*", add_key)
    return client


@pytest.fixture
def runtime(road: Road) -> Iterator[Any]:
    client = _client(road.gateway)
    yield client
    client.close()


def _streamed(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A converse_stream answer as the events botocore parsed, and the message they assemble."""
    events = list(answer["stream"])
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            blocks[start["contentBlockIndex"]] = {"toolUse": {**start["start"]["toolUse"], "input": ""}}
        elif "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            block = blocks.setdefault(delta["contentBlockIndex"], {"text": ""})
            if "text" in delta["delta"]:
                block["text"] += delta["delta"]["text"]
            elif "toolUse" in delta["delta"]:
                block["toolUse"]["input"] += delta["delta"]["toolUse"]["input"]
    return events, {"content": [blocks[index] for index in sorted(blocks)]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_round_trip_through_the_converse_door(runtime: Any, road: Road, stream: bool) -> None:
    road.script_call(stream)
    if stream:
        events, message = _streamed(runtime.converse_stream(modelId=road.model, messages=USER, toolConfig=TOOLS))
        assert next(iter(events[0])) == "messageStart" and "metadata" in events[-1]
        stop = next(event["messageStop"]["stopReason"] for event in events if "messageStop" in event)
        usage = events[-1]["metadata"]["usage"]
        use = message["content"][-1]["toolUse"]
        assert use["input"].replace(" ", "") == '{"city":"Paris"}'
    else:
        answer = runtime.converse(modelId=road.model, messages=USER, toolConfig=TOOLS)
        stop, usage = answer["stopReason"], answer["usage"]
        use = answer["output"]["message"]["content"][-1]["toolUse"]
        assert use["input"] == {"city": "Paris"} and answer["metrics"]["latencyMs"] >= 0
    assert stop == "tool_use" and use["name"] == "get_weather"
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] + usage.get(
        "cacheReadInputTokens", 0
    ) + usage.get("cacheWriteInputTokens", 0)
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temp_c": 21}}]}}
    conversation = [
        *USER,
        {"role": "assistant", "content": [{"toolUse": {**use, "input": {"city": "Paris"}}}]},
        {"role": "user", "content": [result]},
    ]
    final = runtime.converse(
        modelId=road.model,
        messages=conversation,
        toolConfig=TOOLS,
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 100, "temperature": 0.2, "stopSequences": ["END"]},
    )
    assert final["output"]["message"]["content"][0]["text"] == road.hello
    assert final["stopReason"] == "end_turn"
    sent = road.sent()
    if road.provider == "bedrock":  # the native road: the Converse body as it came
        assert sent["messages"] == conversation and sent["system"] == [{"text": "Be brief."}]
        assert sent["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.2, "stopSequences": ["END"]}
    else:
        assert "21" in str(sent) and "Be brief." in str(sent)


def test_text_and_an_image_whole_and_streamed(runtime: Any, road: Road) -> None:
    messages = [
        {"role": "user", "content": [{"text": "What is this?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]}
    ]
    answer = runtime.converse(modelId=road.model, messages=messages)
    assert answer["output"]["message"]["content"][0]["text"] == road.hello
    sent = road.sent()
    assert base64.b64encode(PNG).decode() in str(sent)
    events, message = _streamed(runtime.converse_stream(modelId=road.model, messages=messages))
    assert "".join(block.get("text", "") for block in message["content"])
    assert next(iter(events[0])) == "messageStart"
    assert any("messageStop" in event for event in events) and "metadata" in events[-1]


def test_count_tokens_and_the_listings(runtime: Any, road: Road) -> None:
    counted = runtime.count_tokens(
        modelId=road.model,
        input={"converse": {"messages": USER, "system": [{"text": "Be brief."}], "toolConfig": {"tools": [WEATHER]}}},
    )
    assert counted["inputTokens"] > 0
    control = _client(road.gateway, "bedrock")
    try:
        listed = {summary["modelId"] for summary in control.list_foundation_models()["modelSummaries"]}
        assert "nova" in listed and any(model.startswith("openai/") for model in listed)
        profiles = control.list_inference_profiles()["inferenceProfileSummaries"]
        assert {profile["inferenceProfileId"] for profile in profiles} == listed
    finally:
        control.close()


def test_a_model_named_by_its_arn(runtime: Any, road: Road) -> None:
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{road.model}"
    answer = runtime.converse(modelId=arn, messages=USER)
    assert answer["output"]["message"]["content"][0]["text"] == road.hello


# -- errors, one road is enough: they are the door's ---------------------------------------------------------


@pytest.fixture
def gateway(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini
) -> RunningApp:
    config = (
        "guardrails:\n"
        "  - {name: no-cards, kind: pii, entities: [credit_card], action: block}\n"
        "  - {name: emails, kind: pii, entities: [email], action: mask, mask_style: redact}\n"
        "models:\n"
        "  limited: {provider: openai, model: gpt-4o-mini, limits: {rpm: 1}}\n"
        "  guarded: {provider: openai, model: gpt-4o-mini, guardrails: [no-cards, emails]}\n"
    )
    return make_gateway(config, env=_env(anthropic_upstream, gemini_upstream, BABELGATE_MASTER_KEY=MASTER))


@pytest.fixture
def door(gateway: RunningApp) -> Iterator[Any]:
    client = _client(gateway)
    yield client
    client.close()


def _code(error: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_bedrocks_exceptions(door: Any, gateway: RunningApp) -> None:
    with pytest.raises(door.exceptions.ResourceNotFoundException) as missing:
        door.converse(modelId="no-such-model", messages=USER)
    assert "no-such-model" in missing.value.response["Error"]["Message"]
    with pytest.raises(door.exceptions.ValidationException) as invalid:
        door.converse(
            modelId="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": [{"video": {"format": "mp4", "source": {"bytes": b"x"}}}]}],
        )
    assert "video" in invalid.value.response["Error"]["Message"]
    door.converse(modelId="limited", messages=USER)
    with pytest.raises(door.exceptions.ThrottlingException):
        door.converse(modelId="limited", messages=USER)
    with pytest.raises(door.exceptions.ThrottlingException):
        door.converse_stream(modelId="limited", messages=USER)
    keyless = httpx.post(gateway.url + "/model/openai%2Fgpt-4o-mini/converse", json={"messages": USER}, timeout=10)
    assert keyless.status_code == 401 and keyless.headers["x-amzn-errortype"] == "UnrecognizedClientException"
    assert "message" in keyless.json()


def test_a_failure_after_the_stream_began_is_bedrocks_exception_event(door: Any, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":'])]), drop_after=2, done=False))
    stream = door.converse_stream(modelId="openai/gpt-4o-mini", messages=USER)["stream"]
    with pytest.raises(botocore.exceptions.EventStreamError) as broken:
        list(stream)
    stream.close()
    assert broken.value.response["Error"]["Code"] in ("modelStreamErrorException", "internalServerException")


def test_guardrails_mask_and_block_on_both_actions(door: Any, upstream: FakeOpenAI) -> None:
    card = [{"role": "user", "content": [{"text": "My card is 4111 1111 1111 1111"}]}]
    with pytest.raises(door.exceptions.ValidationException) as blocked:
        door.converse(modelId="guarded", messages=card)
    assert "no-cards" in blocked.value.response["Error"]["Message"]
    with pytest.raises(door.exceptions.ValidationException):
        door.converse_stream(modelId="guarded", messages=card)
    upstream.script(Reply(json=completion("Write to alice@example.com")))
    answer = door.converse(modelId="guarded", messages=USER)
    assert "alice@example.com" not in answer["output"]["message"]["content"][0]["text"]
    upstream.script(Reply(stream=text_stream(["Write to ali", "ce@example.com", " today"])))
    _, message = _streamed(door.converse_stream(modelId="guarded", messages=USER))
    text = "".join(block.get("text", "") for block in message["content"])
    assert "alice@example.com" not in text and "today" in text


def test_a_guardrail_named_in_guardrail_config(door: Any, upstream: FakeOpenAI) -> None:
    card = [{"role": "user", "content": [{"text": "My card is 4111 1111 1111 1111"}]}]
    named = {"guardrailIdentifier": "no-cards", "guardrailVersion": "1"}
    with pytest.raises(door.exceptions.ValidationException):
        door.converse(modelId="openai/gpt-4o-mini", messages=card, guardrailConfig=named)
    other = {"guardrailIdentifier": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc", "guardrailVersion": "1"}
    answer = door.converse(modelId="openai/gpt-4o-mini", messages=USER, guardrailConfig=other)
    adjusted = answer["ResponseMetadata"]["HTTPHeaders"]["x-babelgate-adjusted-params"]
    assert "guardrailConfig=dropped" in adjusted


def test_a_virtual_key_refused_a_model_it_may_not_use(gateway: RunningApp) -> None:
    created = httpx.post(
        gateway.url + "/admin/keys",
        json={"models": ["gpt-4o-mini"]},
        headers={"Authorization": f"Bearer {MASTER}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    client = _client(gateway, key=created.json()["key"])
    try:
        assert client.converse(modelId="gpt-4o-mini", messages=USER)["output"]["message"]["content"][0]["text"]
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.converse(modelId="anthropic/claude-sonnet-4-6", messages=USER)
    finally:
        client.close()


# -- the native road's own ------------------------------------------------------------------------------------


@pytest.fixture
def native(
    make_gateway: GatewayFactory,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
    bedrock_upstream: FakeBedrock,
) -> Iterator[Any]:
    bedrock_upstream.bearer_keys.add(BEDROCK_KEY)
    extra = "  capped: {provider: aws, model: us.amazon.nova-lite-v1:0, defaults: {max_tokens: 77}}\n"
    gateway = make_gateway(
        _bedrock_config(bedrock_upstream, extra),
        env=_env(anthropic_upstream, gemini_upstream, BEDROCK_BEARER=BEDROCK_KEY),
    )
    client = _client(gateway)
    yield client
    client.close()


def test_the_native_road_keeps_bedrocks_own_fields_and_its_exceptions(
    native: Any, bedrock_upstream: FakeBedrock
) -> None:
    """A Bedrock guardrail and Bedrock-only fields reach Bedrock as the client sent them; the model's defaults
    apply in inferenceConfig; an exception frame mid-stream reaches botocore as Bedrock's own."""
    guardrail = {"guardrailIdentifier": "abc123guardrail", "guardrailVersion": "1"}
    native.converse(
        modelId="capped", messages=USER, guardrailConfig=guardrail, performanceConfig={"latency": "standard"}
    )
    sent = next(r for r in reversed(bedrock_upstream.received) if r.path.endswith("/converse"))
    assert "nova-lite" in sent.path
    assert sent.json["guardrailConfig"] == guardrail and sent.json["inferenceConfig"] == {"maxTokens": 77}
    events = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hel"}}},
        exception_frame("throttlingException", "Too many tokens, please wait."),
    ]
    bedrock_upstream.script(BedrockReply(stream=events))  # type: ignore[arg-type]
    stream = native.converse_stream(modelId="nova", messages=USER)["stream"]
    with pytest.raises(botocore.exceptions.EventStreamError) as broken:
        list(stream)
    stream.close()
    assert broken.value.response["Error"]["Code"] == "throttlingException"


# -- LangChain's ChatBedrockConverse on the door ---------------------------------------------------------------


def test_langchains_chat_bedrock_converse_runs_a_tool_task(road: Road) -> None:
    """langchain-aws's ChatBedrockConverse, given a boto3 client at the gateway, binds a tool, gets the call,
    sends the result back and gets the answer, streamed and not: on each provider's model."""
    from langchain_aws import ChatBedrockConverse
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return f"21 degrees in {city}"

    runtime_client = _client(road.gateway)
    try:
        chat = ChatBedrockConverse(client=runtime_client, model=road.model, provider="openai", region_name="us-east-1")
        bound = chat.bind_tools([get_weather])
        road.script_call(False)
        question = HumanMessage("Weather in Paris?")
        asked = bound.invoke([question])
        (call,) = asked.tool_calls
        assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
        result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
        answer = bound.invoke([question, asked, result])  # the fake's own answer, unscripted
        assert answer.content == road.hello or answer.content == [{"type": "text", "text": road.hello}]
        # The tool's result reached the upstream in its own format (a tool message, a tool_result block, a
        # functionResponse part, a toolResult block).
        assert "21 degrees in Paris" in json.dumps(road.sent()), road.sent()
        streamed = "".join(piece.text for piece in chat.stream([question]))
        assert streamed == road.hello
    finally:
        runtime_client.close()


# -- reasoning, and a guardrail inside a stream ---------------------------------------------------------------


def test_claudes_thinking_keeps_its_signature_both_ways(
    gateway: RunningApp, door: Any, anthropic_upstream: ant.FakeAnthropic
) -> None:
    """Claude on Anthropic behind the door: `additionalModelRequestFields.thinking` asks for reasoning, the answer's
    reasoningContent carries Claude's signature (whole and streamed), and the client's next turn, with the signed
    block sent back, reaches Claude with the same signature."""
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    block = ant.tool_use_block("toolu_01", "get_weather", {"city": "Paris"})
    anthropic_upstream.script(ant.Reply(json=ant.message([ant.thinking_block("Let me look.", "EqSig1=="), block])))
    answer = door.converse(
        modelId="anthropic/claude-sonnet-4-6",
        messages=USER,
        toolConfig=TOOLS,
        inferenceConfig={"maxTokens": 4096},
        additionalModelRequestFields=thinking,
    )
    sent = anthropic_upstream.received[-1].json
    assert sent["thinking"]["type"] in ("enabled", "adaptive")
    content = answer["output"]["message"]["content"]
    assert content[0] == {"reasoningContent": {"reasoningText": {"text": "Let me look.", "signature": "EqSig1=="}}}
    events = ant.tool_events([("toolu_02", "get_weather", ['{"city":"Paris"}'])], thinking="Hm.", signature="EqSig2==")
    anthropic_upstream.script(ant.Reply(stream=events))
    streamed = list(
        door.converse_stream(
            modelId="anthropic/claude-sonnet-4-6",
            messages=USER,
            toolConfig=TOOLS,
            inferenceConfig={"maxTokens": 4096},
            additionalModelRequestFields=thinking,
        )["stream"]
    )
    reasoning = [
        event["contentBlockDelta"]["delta"]["reasoningContent"]
        for event in streamed
        if "reasoningContent" in event.get("contentBlockDelta", {}).get("delta", {})
    ]
    assert {"text": "Hm."} in reasoning and {"signature": "EqSig2=="} in reasoning
    use = content[-1]["toolUse"]
    conversation = [
        *USER,
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "21"}]}}]},
    ]
    door.converse(
        modelId="anthropic/claude-sonnet-4-6",
        messages=conversation,
        toolConfig=TOOLS,
        inferenceConfig={"maxTokens": 4096},
        additionalModelRequestFields=thinking,
    )
    replayed = anthropic_upstream.received[-1].json["messages"][1]["content"]
    assert {"type": "thinking", "thinking": "Let me look.", "signature": "EqSig1=="} in replayed


def test_an_output_guardrail_ends_a_stream_with_bedrocks_exception(door: Any, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Sure: ", "4111 1111 ", "1111 1111", " is the card."])))
    stream = door.converse_stream(modelId="guarded", messages=USER)["stream"]
    with pytest.raises(botocore.exceptions.EventStreamError) as blocked:
        list(stream)
    stream.close()
    assert blocked.value.response["Error"]["Code"] == "validationException"
    assert "no-cards" in blocked.value.response["Error"]["Message"]


# -- Bedrock's own model ids ----------------------------------------------------------------------------------


def test_bedrocks_model_and_inference_profile_ids_find_the_gateways_models(
    make_gateway: GatewayFactory,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
    bedrock_upstream: FakeBedrock,
) -> None:
    """An AWS application's ids as it has them: a cross-Region inference profile's, another geography's, the
    foundation model's bare id and the ARNs of both reach the model configured on Bedrock under that id (its own
    profile, the operator's choice, goes upstream); a Claude id no Bedrock model serves reaches Anthropic under
    Claude's own name; an id nothing resolves is Bedrock's ResourceNotFoundException, on both actions."""
    bedrock_upstream.bearer_keys.add(BEDROCK_KEY)
    extra = "  sonnet: {provider: aws, model: us.anthropic.claude-sonnet-4-20250514-v1:0}\n"
    gateway = make_gateway(
        _bedrock_config(bedrock_upstream, extra),
        env=_env(anthropic_upstream, gemini_upstream, BEDROCK_BEARER=BEDROCK_KEY),
    )
    client = _client(gateway)
    account = "arn:aws:bedrock:us-east-1:123456789012"
    try:
        for given, upstream_id in [
            ("us.amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"),
            ("eu.amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"),
            ("amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"),
            (f"{account}:inference-profile/apac.amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"),
            ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"),
            ("global.anthropic.claude-sonnet-4-20250514-v1:0", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
            ("anthropic.claude-sonnet-4-20250514-v1:0", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
        ]:
            answer = client.converse(modelId=given, messages=USER)
            assert answer["output"]["message"]["content"][0]["text"] == "Hello from Bedrock!", given
            sent = next(r for r in reversed(bedrock_upstream.received) if r.path.endswith("/converse"))
            assert upstream_id in sent.path, (given, sent.path)
        _, message = _streamed(client.converse_stream(modelId="eu.amazon.nova-pro-v1:0", messages=USER))
        assert message["content"] == [{"text": "Hello from Bedrock!"}]
        sent = next(r for r in reversed(bedrock_upstream.received) if r.path.endswith("/converse-stream"))
        assert "us.amazon.nova-pro-v1:0" in sent.path

        answer = client.converse(modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0", messages=USER)
        assert answer["output"]["message"]["content"][0]["text"] == "Hello!"
        claude = next(r.json for r in reversed(anthropic_upstream.received) if r.path == "/v1/messages")
        assert claude["model"] == "claude-3-5-haiku-20241022"

        for missing in ("us.amazon.titan-text-express-v1", f"{account}:inference-profile/eu.meta.llama-v1:0"):
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                client.converse(modelId=missing, messages=USER)
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                client.converse_stream(modelId=missing, messages=USER)
    finally:
        client.close()
