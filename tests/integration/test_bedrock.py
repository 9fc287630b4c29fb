"""AWS Bedrock through the gateway, driven by the official `openai`, `anthropic` and `ollama` clients,
against a fake Bedrock Runtime that checks every body against botocore's service model (or the
Anthropic SDK's types for Claude's InvokeModel bodies), recomputes every SigV4 signature, and answers
with real event-stream frames; and fake credential sources (container endpoint, IMDSv2, STS web
identity) whose short-lived keys expire in the fake's IAM."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes.aws_credentials import CONTAINER_TOKEN, ROLE_ARN, WEB_IDENTITY_TOKEN, FakeCredentialSources
from tests.fakes.bedrock_service import chunk_frame, corrupt, event_frame, exception_frame
from tests.fakes.bedrock_upstream import (
    AwsKey,
    FakeBedrock,
    Reply,
    converse_response,
    converse_text_events,
    converse_tool_events,
    error_reply,
    usage,
)
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.ollama_helpers import ollama_client

ACCESS_KEY = "AKIAFAKEBEDROCK0001"
SECRET_KEY = "fake/Secret+Key/For+Bedrock/0123456789ab"
BEARER = "ABSKfake-bedrock-api-key-0123456789"
NOVA = "us.amazon.nova-pro-v1:0"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
USER = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def bedrock(bedrock_upstream: FakeBedrock) -> FakeBedrock:
    """The fake Bedrock, whose IAM knows the test's access key."""
    bedrock_upstream.iam[ACCESS_KEY] = AwsKey(SECRET_KEY)
    return bedrock_upstream


@pytest.fixture(scope="session")
def _sources(loop_thread: LoopThread) -> Iterator[FakeCredentialSources]:
    fake = FakeCredentialSources({})
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def sources(_sources: FakeCredentialSources, bedrock: FakeBedrock) -> FakeCredentialSources:
    _sources.iam = bedrock.iam
    _sources.reset()
    return _sources


@pytest.fixture(autouse=True)
def _no_aws_environment(no_aws_environment: None) -> None:
    """Whatever the machine has (keys, ~/.aws, a metadata service) stays out of these tests."""


def _config(fake: FakeBedrock, auth: str = "", *, extra_models: str = "", extra_providers: str = "") -> str:
    return f"""
providers:
  aws:
    type: bedrock
    region: us-east-1
    base_url: {fake.base_url}
{auth}{extra_providers}
models:
  nova:
    provider: aws
    model: {NOVA}
  claude:
    provider: aws
    model: {CLAUDE}
  titan:
    provider: aws
    model: amazon.titan-embed-text-v2:0
  cohere:
    provider: aws
    model: cohere.embed-english-v3
{extra_models}
"""


KEYS = "    aws_access_key_id: env:BEDROCK_KEY_ID\n    aws_secret_access_key: env:BEDROCK_SECRET\n"
KEY_ENV = {"BEDROCK_KEY_ID": ACCESS_KEY, "BEDROCK_SECRET": SECRET_KEY}


@pytest.fixture
def gateway(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> RunningApp:
    return make_gateway(_config(bedrock, KEYS), env=KEY_ENV)


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk:
        yield sdk


def _sent(fake: FakeBedrock, action: str) -> dict[str, Any]:
    return next(r.json for r in reversed(fake.received) if r.path.endswith("/" + action))  # type: ignore[no-any-return]


# --- Converse ----------------------------------------------------------------------------------------


def test_converse_chat_is_signed_and_translated(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(Reply(json=converse_response("Hallo!", token_usage=usage(10, 3, cache_read=4, cache_write=2))))
    answer = client.chat.completions.create(
        model="nova",
        messages=[{"role": "system", "content": "Answer in German."}, *USER],  # type: ignore[list-item]
        temperature=0.3,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
    )
    assert answer.choices[0].message.content == "Hallo!"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (16, 3)
    assert answer.usage.prompt_tokens_details is not None and answer.usage.prompt_tokens_details.cached_tokens == 4
    request = bedrock.received[-1]
    assert request.path == f"/model/{NOVA}/converse"
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert bedrock.signed_with == [ACCESS_KEY]
    assert request.json == {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "system": [{"text": "Answer in German."}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]},
    }


def test_converse_stream_with_usage(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(Reply(stream=converse_text_events(["Hel", "lo", "!"], token_usage=usage(7, 3, cache_read=2))))
    chunks = list(
        client.chat.completions.create(
            model="nova",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 9
    assert bedrock.received[-1].path == f"/model/{NOVA}/converse-stream"


def test_converse_tool_round_trip(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(
        Reply(
            json=converse_response(
                [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}]
            )
        ),
        Reply(json=converse_response("Sunny in Paris.")),
    )
    first = client.chat.completions.create(model="nova", messages=USER, tools=[WEATHER], tool_choice="required")  # type: ignore[arg-type,list-item]
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and calls is not None
    assert (calls[0].id, calls[0].function.name, calls[0].function.arguments) == (
        "tooluse_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    sent = _sent(bedrock, "converse")
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["required"] == ["city"]
    second = client.chat.completions.create(
        model="nova",
        messages=[
            *USER,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "tooluse_1", "content": "sunny"},
        ],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert second.choices[0].message.content == "Sunny in Paris."
    sent = _sent(bedrock, "converse")
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}],
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}}],
    }


def test_converse_parallel_tool_calls_streamed(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(
        Reply(
            stream=converse_tool_events(
                [("t1", "get_weather", ['{"ci', 'ty": "Paris"}']), ("t2", "get_weather", ['{"city": "Rome"}'])]
            )
        )
    )
    calls: dict[int, list[str]] = {}
    finish = None
    for chunk in client.chat.completions.create(model="nova", messages=USER, stream=True, tools=[WEATHER]):  # type: ignore[arg-type,list-item]
        for delta in chunk.choices[0].delta.tool_calls or ():
            entry = calls.setdefault(delta.index, ["", "", ""])
            entry[0] = delta.id or entry[0]
            entry[1] = (delta.function.name if delta.function else None) or entry[1]
            entry[2] += (delta.function.arguments if delta.function else None) or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls == {0: ["t1", "get_weather", '{"city": "Paris"}'], 1: ["t2", "get_weather", '{"city": "Rome"}']}


def test_structured_output_goes_as_converse_output_config(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(Reply(json=converse_response('{"city": "Paris"}')))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    answer = client.chat.completions.create(
        model="nova",
        messages=USER,  # type: ignore[arg-type]
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
    )
    assert answer.choices[0].message.content == '{"city": "Paris"}'
    text_format = _sent(bedrock, "converse")["outputConfig"]["textFormat"]
    assert text_format["type"] == "json_schema"
    assert text_format["structure"]["jsonSchema"]["name"] == "place"


def test_an_image_goes_as_bytes(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    client.chat.completions.create(
        model="nova",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ],
    )
    content = _sent(bedrock, "converse")["messages"][0]["content"]
    assert content[1] == {"image": {"format": "png", "source": {"bytes": png}}}


def test_a_refusal_names_the_bedrock_provider(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="nova", messages=[{"role": "user", "content": [image]}])  # type: ignore[list-item]
    assert "'aws'" in caught.value.message and bedrock.received == []


def test_an_arn_model_id_is_one_encoded_path_segment(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123def456"
    gateway = make_gateway(
        _config(bedrock, KEYS, extra_models=f"  profiled:\n    provider: aws\n    model: {arn}\n"), env=KEY_ENV
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk:
        answer = sdk.chat.completions.create(model="profiled", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello from Bedrock!"
    assert bedrock.received[-1].path == f"/model/{arn}/converse"
    assert bedrock.signed_with == [ACCESS_KEY]


def test_ollama_client_on_converse(gateway: RunningApp, bedrock: FakeBedrock) -> None:
    bedrock.script(
        Reply(stream=converse_text_events(["Bon", "jour"], token_usage=usage(11, 2))),
        Reply(json=converse_response("Salut")),
    )
    with ollama_client(gateway) as ollama:
        parts = list(ollama.chat(model="nova", messages=USER, stream=True))
        assert "".join(part.message.content or "" for part in parts) == "Bonjour"
        assert (parts[-1].prompt_eval_count, parts[-1].eval_count) == (11, 2)
        answer = ollama.chat(model="nova", messages=USER, stream=False, options={"num_predict": 50})
    assert answer.message.content == "Salut"
    assert _sent(bedrock, "converse")["inferenceConfig"] == {"maxTokens": 50}


# --- Claude through InvokeModel -------------------------------------------------------------------------


def test_claude_chat_goes_through_invoke_model(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    answer = client.chat.completions.create(model="claude", messages=USER, max_tokens=200)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello from Claude on Bedrock!"
    sent = _sent(bedrock, "invoke")
    assert sent["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent and "stream" not in sent
    assert sent["max_tokens"] == 200 and sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]}
    ]
    assert bedrock.received[-1].path == f"/model/{CLAUDE}/invoke"


def test_claude_streamed_tools_with_thinking_round_trip(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    events = ant.tool_events(
        [("toolu_1", "get_weather", ['{"city":', '"Paris"}'])], thinking="Let me look.", signature="c2lnbmVk"
    )
    bedrock.script(Reply(stream=events), Reply(json=ant.message("Sunny.")))  # type: ignore[arg-type]
    call_id, arguments, details = "", "", None
    for chunk in client.chat.completions.create(
        model="claude",
        messages=USER,
        stream=True,
        tools=[WEATHER],
        reasoning_effort="low",
        max_tokens=4000,  # type: ignore[arg-type,list-item]
    ):
        for delta in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            call_id = delta.id or call_id
            arguments += (delta.function.arguments if delta.function else None) or ""
        if chunk.choices and (chunk.choices[0].delta.model_extra or {}).get("reasoning_details"):
            details = chunk.choices[0].delta.model_extra["reasoning_details"]  # type: ignore[index]
    assert (call_id, arguments) == ("toolu_1", '{"city":"Paris"}')
    assert details and details[0]["signature"] == "c2lnbmVk"
    first = _sent(bedrock, "invoke-with-response-stream")
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # The client keeps only standard fields: the signed thinking is re-attached from memory.
    client.chat.completions.create(
        model="claude",
        messages=[
            *USER,
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        ],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
        reasoning_effort="low",
        max_tokens=4000,
    )
    replayed = _sent(bedrock, "invoke")["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": "Let me look.", "signature": "c2lnbmVk"}


def test_anthropic_messages_are_relayed_natively(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    gateway = make_gateway(_config(bedrock, KEYS), env=KEY_ENV)
    with anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=15) as sdk:
        message = sdk.messages.create(
            model="claude",
            max_tokens=3000,
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}
            ],
            thinking={"type": "enabled", "budget_tokens": 1024},
            extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
        )
        assert message.content[0].text == "Hello from Claude on Bedrock!"  # type: ignore[union-attr]
        sent = _sent(bedrock, "invoke")
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
        assert sent["anthropic_beta"] == ["context-1m-2025-08-07"]
        assert sent["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
        events = ant.tool_events([("toolu_9", "get_weather", ['{"city": "Oslo"}'])], thinking="Hmm.", signature="c2ln")
        bedrock.script(Reply(stream=events))  # type: ignore[arg-type]
        with sdk.messages.stream(
            model="claude",
            max_tokens=3000,
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[
                {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
            ],
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream:
            final = stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "tool_use"]
    assert final.content[0].signature == "c2ln"  # type: ignore[union-attr]
    assert final.content[1].input == {"city": "Oslo"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert bedrock.received[-1].path == f"/model/{CLAUDE}/invoke-with-response-stream"


def test_anthropic_count_tokens_on_bedrock(gateway: RunningApp, bedrock: FakeBedrock) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=15) as sdk:
        count = sdk.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "Hi"}])
    assert count.input_tokens == 42


# --- embeddings -------------------------------------------------------------------------------------------


def test_titan_and_cohere_embeddings(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    titan = client.embeddings.create(model="titan", input=["one", "two words"], dimensions=256)
    assert [len(item.embedding) for item in titan.data] == [256, 256]
    assert titan.usage.prompt_tokens == 3
    assert _sent(bedrock, "invoke") in (
        {"inputText": "one", "dimensions": 256, "normalize": True},
        {"inputText": "two words", "dimensions": 256, "normalize": True},
    )
    cohere = client.embeddings.create(model="cohere", input=["a b", "c"])
    assert len(cohere.data) == 2 and cohere.usage.prompt_tokens == 3
    assert _sent(bedrock, "invoke") == {"texts": ["a b", "c"], "input_type": "search_document"}


# --- faults --------------------------------------------------------------------------------------------------


def test_throttling_is_a_429_with_retry_after(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(
        *(
            error_reply(
                "ThrottlingException", 429, "Too many requests, please wait before trying again.", {"Retry-After": "7"}
            )
            for _ in range(4)
        )
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="nova", messages=USER)  # type: ignore[arg-type]
    assert caught.value.response.headers.get("retry-after") == "7"


def _sonnet_answered_after(
    make_gateway: GatewayFactory,
    bedrock: FakeBedrock,
    anthropic_upstream: ant.FakeAnthropic,
    name: str,
    status: int,
    message: str,
) -> Any:
    """`sonnet` on Bedrock with Claude at Anthropic as its fallback, Bedrock answering every call with the error
    `name`: the openai SDK's raw answer to one request."""
    models = (
        f"  sonnet:\n    provider: aws\n    model: {CLAUDE}\n    fallbacks: [sonnet-direct]\n"
        "    routing:\n      retries: 0\n"
        "  sonnet-direct:\n    provider: direct\n    model: claude-sonnet-4-5\n"
    )
    direct = (
        f"  direct:\n    type: anthropic\n    base_url: {anthropic_upstream.base_url}\n"
        "    api_key: env:ANTHROPIC_KEY_FOR_TEST\n"
    )
    config = _config(bedrock, KEYS, extra_models=models, extra_providers=direct)
    gateway = make_gateway(config, env={**KEY_ENV, "ANTHROPIC_KEY_FOR_TEST": ANTHROPIC_KEY})
    bedrock.responder = lambda body, path: error_reply(name, status, message)
    anthropic_upstream.script(ant.Reply(json=ant.message("From Anthropic.")))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk:
        return sdk.chat.completions.with_raw_response.create(model="sonnet", messages=USER)  # type: ignore[arg-type]


def test_throttling_fails_over_to_anthropic(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, anthropic_upstream: ant.FakeAnthropic
) -> None:
    answer = _sonnet_answered_after(
        make_gateway, bedrock, anthropic_upstream, "ThrottlingException", 429, "Too many requests"
    )
    assert answer.parse().choices[0].message.content == "From Anthropic."
    assert "aws/" in answer.headers["x-babelgate-route"] and "=429" in answer.headers["x-babelgate-route"]


def test_a_model_not_enabled_in_the_account_fails_over_to_anthropic(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, anthropic_upstream: ant.FakeAnthropic
) -> None:
    """Bedrock's 403 for a model the account has no access to is the gateway's credentials' limit, not the
    client's mistake: the model's fallback (Claude at Anthropic) serves, and AWS's words go nowhere."""
    denied = "You don't have access to the model with the specified model ID."
    answer = _sonnet_answered_after(make_gateway, bedrock, anthropic_upstream, "AccessDeniedException", 403, denied)
    assert answer.parse().choices[0].message.content == "From Anthropic."
    route = answer.headers["x-babelgate-route"]
    assert route.startswith("aws/") and "=403, direct/claude-sonnet-4-5=ok" in route
    assert "access to the model" not in answer.text


@pytest.mark.parametrize(
    ("name", "status", "message", "expected"),
    [
        ("AccessDeniedException", 403, "You don't have access to the model with the specified model ID.", 403),
        ("ResourceNotFoundException", 404, "Model not found in this region.", 404),
        ("ValidationException", 400, "Malformed input request: #: extraneous key [foo] is not permitted", 400),
    ],
)
def test_bedrock_errors_in_the_clients_format(
    client: openai.OpenAI, bedrock: FakeBedrock, name: str, status: int, message: str, expected: int
) -> None:
    bedrock.script(error_reply(name, status, message))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="nova", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == expected


def test_a_too_long_input_triggers_the_context_window_fallback(
    make_gateway: GatewayFactory, bedrock: FakeBedrock
) -> None:
    models = (
        f"  small:\n    provider: aws\n    model: {NOVA}\n    context_window_fallbacks: [big]\n"
        "  big:\n    provider: aws\n    model: us.amazon.nova-premier-v1:0\n"
    )
    gateway = make_gateway(_config(bedrock, KEYS, extra_models=models), env=KEY_ENV)
    bedrock.script(
        error_reply("ValidationException", 400, "Input is too long for requested model."),
        Reply(json=converse_response("Big answer.")),
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk:
        answer = sdk.chat.completions.create(model="small", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Big answer."
    assert bedrock.received[-1].path == "/model/us.amazon.nova-premier-v1:0/converse"


def test_an_expired_session_token_is_refused_clearly(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    bedrock.iam["ASIAEXPIRED000001"] = AwsKey(
        "expired-secret-value-0123", token="expired-token-value", expires=time.time() - 5
    )
    auth = (
        KEYS.replace("BEDROCK_KEY_ID", "OLD_ID").replace("BEDROCK_SECRET", "OLD_SECRET")
        + "    aws_session_token: env:OLD_TOKEN\n"
    )
    env = {"OLD_ID": "ASIAEXPIRED000001", "OLD_SECRET": "expired-secret-value-0123", "OLD_TOKEN": "expired-token-value"}
    gateway = make_gateway(_config(bedrock, auth), env=env)
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        sdk.chat.completions.create(model="nova", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code in (401, 403)
    assert "aws" in str(caught.value.body)
    bedrock.violations.clear()  # the refusal was the point


def test_a_wrong_secret_fails_the_signature_check(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    gateway = make_gateway(_config(bedrock, KEYS), env={**KEY_ENV, "BEDROCK_SECRET": "not-the-right-secret-at-all"})
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk,
        pytest.raises(openai.APIStatusError),
    ):
        sdk.chat.completions.create(model="nova", messages=USER)  # type: ignore[arg-type]
    assert bedrock.violations and bedrock.violations[0].startswith("InvalidSignatureException")
    bedrock.violations.clear()


def test_a_stream_cut_mid_frame_ends_with_an_error(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    half = event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "never whole"}})[:20]
    events = [*converse_text_events(["a"])[:2], half]
    bedrock.script(Reply(stream=events, drop_after=3))
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="nova", messages=USER, stream=True):  # type: ignore[arg-type]
            pass


def test_a_frame_with_a_bad_crc_ends_with_an_error(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bad = corrupt(event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "bad"}}))
    bedrock.script(Reply(stream=[*converse_text_events(["a"])[:2], bad, *converse_text_events(["a"])[2:]]))
    with pytest.raises(openai.APIError) as caught:
        for _ in client.chat.completions.create(model="nova", messages=USER, stream=True):  # type: ignore[arg-type]
            pass
    assert "CRC" in str(caught.value)


def test_an_exception_frame_becomes_the_error_event(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    frame = exception_frame("modelStreamErrorException", "The model stream failed.")
    bedrock.script(Reply(stream=[*converse_text_events(["a"])[:2], frame]))
    with pytest.raises(openai.APIError) as caught:
        for _ in client.chat.completions.create(model="nova", messages=USER, stream=True):  # type: ignore[arg-type]
            pass
    assert caught.value.code == "upstream_error"  # type: ignore[attr-defined]
    assert "The model stream failed." in str(caught.value)


def test_a_throttling_frame_inside_a_claude_stream(gateway: RunningApp, bedrock: FakeBedrock) -> None:
    events = ant.text_events(["a", "b"])
    bedrock.script(
        Reply(
            stream=[
                chunk_frame(events[0]),
                chunk_frame(events[1]),
                exception_frame("throttlingException", "Too many tokens"),
            ]
        )
    )
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=15) as sdk,
        pytest.raises(anthropic.APIError) as caught,
        sdk.messages.stream(model="claude", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]) as stream,
    ):
        stream.get_final_message()
    assert "rate_limit" in str(caught.value.body)


# --- credentials --------------------------------------------------------------------------------------------


def _chat(gateway: RunningApp, model: str = "nova") -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", json={"model": model, "messages": USER}, timeout=20)


def test_a_bedrock_api_key_is_a_bearer(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    bedrock.bearer_keys.add(BEARER)
    gateway = make_gateway(_config(bedrock, "    api_key: env:BEDROCK_API_KEY\n"), env={"BEDROCK_API_KEY": BEARER})
    assert _chat(gateway).status_code == 200
    assert bedrock.received[-1].headers["Authorization"] == f"Bearer {BEARER}"
    assert "X-Amz-Date" not in bedrock.received[-1].headers


def test_aws_bearer_token_bedrock_fills_the_key(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bedrock.bearer_keys.add(BEARER)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEARER)
    gateway = make_gateway(_config(bedrock))
    assert _chat(gateway).status_code == 200
    assert bedrock.received[-1].headers["Authorization"] == f"Bearer {BEARER}"


def test_configured_keys_win_over_the_bearer_variable(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", BEARER)
    gateway = make_gateway(_config(bedrock, KEYS), env=KEY_ENV)
    assert _chat(gateway).status_code == 200
    assert bedrock.signed_with == [ACCESS_KEY]


def test_environment_keys(make_gateway: GatewayFactory, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    gateway = make_gateway(_config(bedrock))
    assert _chat(gateway).status_code == 200
    assert bedrock.signed_with == [ACCESS_KEY]


def test_a_named_profile(make_gateway: GatewayFactory, bedrock: FakeBedrock, tmp_path: Path) -> None:
    (tmp_path / "aws-credentials").write_text(
        f"[team]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    (tmp_path / "aws-config").write_text("[profile team]\nregion = us-east-1\n")
    config = _config(bedrock, "    aws_profile: team\n").replace("    region: us-east-1\n", "")
    gateway = make_gateway(config)
    assert _chat(gateway).status_code == 200
    assert bedrock.signed_with == [ACCESS_KEY]


def test_container_credentials_are_refreshed_in_the_background(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, sources: FakeCredentialSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources.lifetime = 6.0  # refreshed from 3 s on, no longer used from 5.4 s, refused by the fake at 6 s
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", sources.base_url + "/container")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN)
    gateway = make_gateway(_config(bedrock))
    assert _chat(gateway).status_code == 200
    issued = time.monotonic()
    first = sources.by("container")[-1]
    sources.delay = 1.5  # a slow endpoint from now on: refreshing must not slow requests
    time.sleep(3.5)  # past the refresh point (half the lifetime): the refresh is under way
    started = time.monotonic()
    assert _chat(gateway).status_code == 200
    assert time.monotonic() - started < 1.2, "a request waited for the background refresh"
    assert bedrock.signed_with[-1] == first
    time.sleep(max(0.0, 6.3 - (time.monotonic() - issued)))  # the first key has expired at the fake
    assert _chat(gateway).status_code == 200
    # (botocore fetches twice at the start for keys this short-lived: they are inside its refresh window)
    assert bedrock.signed_with[-1] == sources.by("container")[-1] != first


def test_revoked_temporary_credentials_are_looked_up_again(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, sources: FakeCredentialSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", sources.base_url + "/container")
    gateway = make_gateway(_config(bedrock))
    assert _chat(gateway).status_code == 200
    revoked = bedrock.signed_with[-1]
    bedrock.iam[revoked].expires = time.time() - 1  # AWS answers ExpiredTokenException from now on
    refused = _chat(gateway)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    assert bedrock.violations.pop().startswith("ExpiredTokenException")
    assert _chat(gateway).status_code == 200
    assert bedrock.signed_with[-1] != revoked and bedrock.signed_with[-1] == sources.by("container")[-1]


def test_web_identity_through_sts(
    make_gateway: GatewayFactory,
    bedrock: FakeBedrock,
    sources: FakeCredentialSources,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(WEB_IDENTITY_TOKEN)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "babelgate")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sources.base_url)
    gateway = make_gateway(_config(bedrock))
    assert _chat(gateway).status_code == 200
    assert bedrock.signed_with == sources.by("sts") and len(bedrock.signed_with) == 1


def test_instance_metadata_imdsv2(
    make_gateway: GatewayFactory, bedrock: FakeBedrock, sources: FakeCredentialSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sources.base_url + "/")
    gateway = make_gateway(_config(bedrock))
    assert _chat(gateway).status_code == 200
    imds = [request for request in sources.requests if request.startswith("imds")]
    assert imds == ["imds-token", "imds-role", "imds-credentials"]
    assert bedrock.signed_with == sources.by("imds") and len(bedrock.signed_with) == 1


def test_no_credentials_anywhere_is_a_clear_502(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    gateway = make_gateway(_config(bedrock))
    response = _chat(gateway)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_credentials_error"
    message = error["message"]
    assert "'aws'" in message and "AWS credential chain" in message and "aws_access_key_id" in message, message
    assert bedrock.received == []
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=15) as sdk,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        sdk.messages.create(model="claude", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 502


def test_a_gateway_without_bedrock_never_imports_botocore() -> None:
    code = (
        "import sys; from babelgate import create_app; from babelgate.config import load_config;"
        "from babelgate.providers import PROVIDER_TYPES;"
        "environ = {'OPENAI_API_KEY': 'sk-x', 'BABELGATE_STORE_URL': 'memory'};"
        "create_app(load_config(None, environ, available_types=PROVIDER_TYPES));"
        "print(sorted(m for m in sys.modules if m.startswith('botocore')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": "src"},
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_responses_api_on_converse_and_on_claude(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(Reply(stream=converse_text_events(["Hel", "lo"])))
    with client.responses.stream(model="nova", input="Hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Hello"
    assert bedrock.received[-1].path == f"/model/{NOVA}/converse-stream"
    answer = client.responses.create(model="claude", input="Hi", max_output_tokens=300)
    assert answer.output_text == "Hello from Claude on Bedrock!"
    assert _sent(bedrock, "invoke")["max_tokens"] == 300


def test_claude_through_converse_when_asked(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    """`options.claude: converse`: thinking as additionalModelRequestFields, its signed reasoning
    streamed as reasoning_details and sent back as reasoningContent on the next turn."""
    gateway = make_gateway(_config(bedrock, KEYS + "    options:\n      claude: converse\n"), env=KEY_ENV)
    events = converse_tool_events(
        [("tooluse_7", "get_weather", ['{"city": "Lima"}'])], reasoning=("Think.", "c2lnbg==")
    )
    bedrock.script(Reply(stream=events), Reply(json=converse_response("Warm.")))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=15) as sdk:
        details: Any = None
        arguments = ""
        for chunk in sdk.chat.completions.create(
            model="claude",
            messages=USER,  # type: ignore[arg-type]
            tools=[WEATHER],  # type: ignore[list-item]
            stream=True,
            reasoning_effort="low",
            max_tokens=5000,
        ):
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is not None and (delta.model_extra or {}).get("reasoning_details"):
                details = delta.model_extra["reasoning_details"]  # type: ignore[index]
            for call in (delta.tool_calls if delta is not None else None) or ():
                arguments += (call.function.arguments if call.function else None) or ""
        first = _sent(bedrock, "converse-stream")
        assert first["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
        assert arguments == '{"city": "Lima"}' and details[0]["signature"] == "c2lnbg=="
        sdk.chat.completions.create(
            model="claude",
            messages=[
                *USER,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "tooluse_7",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": arguments},
                        }
                    ],
                    "reasoning_details": details,
                },
                {"role": "tool", "tool_call_id": "tooluse_7", "content": "warm"},
            ],  # type: ignore[list-item]
            tools=[WEATHER],  # type: ignore[list-item]
            reasoning_effort="low",
            max_tokens=5000,
        )
    turn = _sent(bedrock, "converse")["messages"][1]["content"]
    assert turn[0] == {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "c2lnbg=="}}}
    assert bedrock.received[-1].path == f"/model/{CLAUDE}/converse"


def test_a_profile_that_is_not_there_is_named_in_the_502(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    gateway = make_gateway(_config(bedrock, "    aws_profile: nowhere\n"))
    first = _chat(gateway)
    assert first.status_code == 502
    message = first.json()["error"]["message"]
    assert "the AWS profile nowhere" in message and "ProfileNotFound" in message, message
    started = time.monotonic()
    assert _chat(gateway).status_code == 502  # held: no second lookup right away
    assert time.monotonic() - started < 0.5 and bedrock.received == []


def test_a_region_per_deployment(make_gateway: GatewayFactory, bedrock: FakeBedrock) -> None:
    """One provider, one model in two regions: the second deployment's provider is the first's with
    its own region (its URL and its signature's scope)."""
    models = (
        "  nova-eu:\n    deployments:\n      - provider: aws\n        model: eu.amazon.nova-pro-v1:0\n"
        "        region: eu-west-1\n"
    )
    gateway = make_gateway(_config(bedrock, KEYS, extra_models=models), env=KEY_ENV)
    assert _chat(gateway, "nova-eu").status_code == 200
    assert _chat(gateway, "nova").status_code == 200
    assert bedrock.signed_regions == ["eu-west-1", "us-east-1"]


def test_a_guardrail_or_content_filter_stop_is_content_filter(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    bedrock.script(
        Reply(json=converse_response("Sorry.", stop_reason="guardrail_intervened")),
        Reply(stream=converse_text_events(["No"], stop_reason="content_filtered")),
    )
    answer = client.chat.completions.create(model="nova", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].finish_reason == "content_filter"
    finishes = [
        chunk.choices[0].finish_reason
        for chunk in client.chat.completions.create(model="nova", messages=USER, stream=True)  # type: ignore[arg-type]
        if chunk.choices and chunk.choices[0].finish_reason
    ]
    assert finishes == ["content_filter"]
