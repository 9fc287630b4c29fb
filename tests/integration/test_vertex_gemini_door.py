"""The Gemini API on Vertex AI's paths (`/v1/projects/{project}/locations/{location}/publishers/{publisher}/
models/{model}:method`, and `/v1beta1/`; express mode's `/v1/publishers/…`), driven by the official `google-genai`
SDK in Vertex mode (`vertexai=True`, a static OAuth token that is a gateway or virtual key, or an API key):
generate, stream, a tool round trip and token counts through OpenAI, Anthropic and Gemini upstream fakes (which
check what they receive against their own specs), embeddings (`:predict`, `:embedContent`,
`:batchEmbedContents`), a virtual key's model list, a guardrail, and errors in Google's format
(frontends/gemini/vertex.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt
from google.oauth2.credentials import Credentials

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.openai_upstream import FakeOpenAI, completion, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp

KEY = "sk-vertex-door-gateway-key"
MASTER = "master-key-of-the-vertex-door-tests-0123"
PROJECT = "babelgate-test"
LOCATION = "us-central1"
WEATHER = gt.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=gt.Schema(type=gt.Type.OBJECT, properties={"city": gt.Schema(type=gt.Type.STRING)}, required=["city"]),
)
TOOLS = [gt.Tool(function_declarations=[WEATHER])]
NO_AUTOMATIC = gt.AutomaticFunctionCallingConfig(disable=True)


def vertex_sdk(gateway: RunningApp, token: str = KEY, *, version: str | None = None) -> genai.Client:
    """google-genai in Vertex mode, pointed at the gateway; `version` None: the SDK's own (v1beta1)."""
    options = gt.HttpOptions(base_url=gateway.url, timeout=10_000)
    if version is not None:
        options = gt.HttpOptions(base_url=gateway.url, api_version=version, timeout=10_000)
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(token=token),  # type: ignore[no-untyped-call]
        http_options=options,
    )


def _env(anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini, **more: str) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini_upstream.base_url,
        **more,
    }


@dataclass
class Road:
    """One provider behind the door: its model as google-genai names it, how to script a get_weather call on
    its fake, and what its fake received last (its model's request)."""

    provider: str
    model: str
    script_call: Callable[[bool], None]  # (stream) → the fake answers get_weather({"city": "Paris"})
    sent: Callable[[], dict[str, Any]]


@pytest.fixture
def door_gateway(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini
) -> RunningApp:
    return make_gateway(env=_env(anthropic_upstream, gemini_upstream, BABELGATE_API_KEYS=KEY))


@pytest.fixture(params=["openai", "anthropic", "gemini"])
def road(
    request: pytest.FixtureRequest,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> Road:
    if request.param == "openai":

        def script_openai(stream: bool) -> None:
            if stream:
                upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])])))
            else:
                upstream.script(
                    Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')]))
                )

        # `openai/gpt-4o-mini` goes out as `publishers/openai/models/gpt-4o-mini` (google-genai's t_model).
        return Road("openai", "openai/gpt-4o-mini", script_openai, lambda: upstream.received[-1].json)
    if request.param == "anthropic":

        def script_claude(stream: bool) -> None:
            if stream:
                anthropic_upstream.script(
                    ant.Reply(stream=ant.tool_events([("toolu_01", "get_weather", ['{"city":', '"Paris"}'])]))
                )
            else:
                block = ant.tool_use_block("toolu_01", "get_weather", {"city": "Paris"})
                anthropic_upstream.script(ant.Reply(json=ant.message([block])))

        def claude_sent() -> dict[str, Any]:
            return next(r.json for r in reversed(anthropic_upstream.received) if r.path == "/v1/messages")

        return Road("anthropic", "anthropic/claude-sonnet-4-6", script_claude, claude_sent)

    def script_gemini(stream: bool) -> None:
        if stream:
            chunks = gem.function_call_chunks([("get_weather", {"city": "Paris"}, None, None)])
            gemini_upstream.script(gem.Reply(stream=chunks))  # type: ignore[arg-type]
        else:
            part = gem.function_call_part("get_weather", {"city": "Paris"})
            gemini_upstream.script(gem.Reply(json=gem.response([part])))

    def gemini_sent() -> dict[str, Any]:
        return next(r.json for r in reversed(gemini_upstream.received) if ":generate" in r.path or ":stream" in r.path)

    return Road("gemini", "gemini-2.5-flash", script_gemini, gemini_sent)


@pytest.fixture
def sdk(door_gateway: RunningApp) -> Iterator[genai.Client]:
    client = vertex_sdk(door_gateway)
    yield client
    client.close()


# -- a conversation on every road ------------------------------------------------------------------


def test_generate(sdk: genai.Client, road: Road) -> None:
    answer = sdk.models.generate_content(
        model=road.model,
        contents="Hi",
        config=gt.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=50),
    )
    assert answer.text == "Hello!"
    assert answer.candidates and answer.candidates[0].finish_reason == gt.FinishReason.STOP
    assert answer.usage_metadata is not None and answer.usage_metadata.total_token_count
    assert "Be brief." in orjson.dumps(road.sent()).decode()


def test_stream(sdk: genai.Client, road: Road) -> None:
    pieces = list(sdk.models.generate_content_stream(model=road.model, contents="Hi"))
    assert "".join(piece.text or "" for piece in pieces) == "Hello!"
    last = pieces[-1]
    assert last.candidates and last.candidates[0].finish_reason == gt.FinishReason.STOP


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_round_trip(sdk: genai.Client, road: Road, stream: bool) -> None:
    road.script_call(stream)
    config = gt.GenerateContentConfig(tools=TOOLS, automatic_function_calling=NO_AUTOMATIC)
    question = gt.Content(role="user", parts=[gt.Part(text="Weather in Paris?")])
    if stream:
        pieces = list(sdk.models.generate_content_stream(model=road.model, contents=[question], config=config))
        calls = [call for piece in pieces for call in piece.function_calls or ()]
        turn = gt.Content(role="model", parts=[gt.Part(function_call=call) for call in calls])
    else:
        first = sdk.models.generate_content(model=road.model, contents=[question], config=config)
        calls = list(first.function_calls or ())
        assert first.candidates and first.candidates[0].content
        turn = first.candidates[0].content
    assert [(call.name, call.args) for call in calls] == [("get_weather", {"city": "Paris"})]
    answer_part = gt.Part(
        function_response=gt.FunctionResponse(id=calls[0].id, name="get_weather", response={"output": "21C"})
    )
    history = [question, turn, gt.Content(role="user", parts=[answer_part])]
    second = sdk.models.generate_content(model=road.model, contents=history, config=config)
    assert second.text == "Hello!"  # the fakes answer "Hello!" when not scripted
    sent = orjson.dumps(road.sent()).decode()
    assert "21C" in sent and "get_weather" in sent, "the tool's result reached the upstream"


def test_count_tokens(sdk: genai.Client, road: Road, gemini_upstream: gem.FakeGemini) -> None:
    counted = sdk.models.count_tokens(
        model=road.model,
        contents="Hello there, how are you?",
        config=gt.CountTokensConfig(system_instruction="Be brief.", tools=TOOLS),
    )
    assert counted.total_tokens and counted.total_tokens > 0
    if road.provider == "gemini":
        received = gemini_upstream.received[-1]
        assert received.path.endswith(":countTokens")
        # Vertex's body (the fields at the top level) goes to the Gemini API wrapped, with its model named.
        inner = received.json["generateContentRequest"]
        assert inner["model"] == "models/gemini-2.5-flash" and inner["systemInstruction"] and inner["tools"]


def test_the_sdk_on_v1_too(door_gateway: RunningApp, road: Road) -> None:
    with vertex_sdk(door_gateway, version="v1") as client:
        assert client.models.generate_content(model=road.model, contents="Hi").text == "Hello!"


def test_express_mode_names_no_project(door_gateway: RunningApp, road: Road) -> None:
    """google-genai with `vertexai=True` and an API key (Vertex's express mode, as Google's ADK runs with
    GOOGLE_GENAI_USE_VERTEXAI and GOOGLE_API_KEY): `/v1beta1/publishers/…`, the key in `x-goog-api-key`."""
    options = gt.HttpOptions(base_url=door_gateway.url, timeout=10_000)
    with genai.Client(vertexai=True, api_key=KEY, http_options=options) as client:
        assert client.models.generate_content(model=road.model, contents="Hi").text == "Hello!"
        pieces = list(client.models.generate_content_stream(model=road.model, contents="Hi"))
        assert "".join(piece.text or "" for piece in pieces) == "Hello!"
        assert client.models.count_tokens(model=road.model, contents="Hello there").total_tokens
    with (
        genai.Client(vertexai=True, api_key="sk-wrong", http_options=options) as client,
        pytest.raises(genai_errors.ClientError) as refused,
    ):
        client.models.generate_content(model=road.model, contents="Hi")
    assert refused.value.code == 401 and refused.value.status == "UNAUTHENTICATED"


def test_vertex_mode_from_the_environment(door_gateway: RunningApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Google's ADK does: a client made with no arguments but its options, Vertex mode and the key from the
    environment, the base URL from GOOGLE_GEMINI_BASE_URL (google-genai reads that one when Vertex mode comes from
    the environment, GOOGLE_VERTEX_BASE_URL when the code asks for it: docs/clouds.md sets both)."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GEMINI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "TRUE")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", door_gateway.url)
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", door_gateway.url)
    with genai.Client(http_options=gt.HttpOptions(timeout=10_000)) as client:
        assert client.vertexai
        assert client.models.generate_content(model="openai/gpt-4o-mini", contents="Hi").text == "Hello!"


def test_a_stream_without_alt_sse_is_one_json_array(door_gateway: RunningApp) -> None:
    url = (
        f"{door_gateway.url}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/openai/models/"
        "gpt-4o-mini:streamGenerateContent"
    )
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    events = answer.json()
    assert "".join(part["text"] for event in events for part in event["candidates"][0]["content"]["parts"]) == (
        "Hello!"
    )


# -- embeddings --------------------------------------------------------------------------------------


def test_embeddings_by_predict_on_openai(sdk: genai.Client, upstream: FakeOpenAI) -> None:
    """A model without `gemini` in its name is embedded with `:predict` (instances and predictions)."""
    answer = sdk.models.embed_content(
        model="text-embedding-3-small",
        contents=["one", "three"],
        config=gt.EmbedContentConfig(output_dimensionality=3),
    )
    assert answer.embeddings and [item.values for item in answer.embeddings] == [
        [3.0, 0.5, -0.25],
        [5.0, 0.5, -0.25],
    ]
    sent = upstream.received[-1]
    assert sent.path == "/v1/embeddings" and sent.json["input"] == ["one", "three"] and sent.json["dimensions"] == 3


def test_embeddings_by_embed_content_on_gemini(sdk: genai.Client, gemini_upstream: gem.FakeGemini) -> None:
    """A Gemini embedding model: one content by `:embedContent`, several by `:batchEmbedContents`, each with
    its options in `embedContentConfig`."""
    config = gt.EmbedContentConfig(output_dimensionality=8, task_type="RETRIEVAL_QUERY")
    one = sdk.models.embed_content(model="gemini-embedding-001", contents="one", config=config)
    assert one.embeddings and len(one.embeddings[0].values or ()) == 8
    sent = gemini_upstream.received[-1].json["requests"]
    assert [(item["taskType"], item["outputDimensionality"]) for item in sent] == [("RETRIEVAL_QUERY", 8)]
    two = sdk.models.embed_content(model="gemini-embedding-001", contents=["one", "two"], config=config)
    assert two.embeddings and [len(item.values or ()) for item in two.embeddings] == [8, 8]


# -- the rules ----------------------------------------------------------------------------------------


def test_a_virtual_key_is_refused_a_model_it_may_not_use(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini
) -> None:
    gateway = make_gateway(env=_env(anthropic_upstream, gemini_upstream, BABELGATE_MASTER_KEY=MASTER))
    created = httpx.post(
        gateway.url + "/admin/keys",
        json={"models": ["gpt-4o-mini"]},
        headers={"Authorization": f"Bearer {MASTER}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    with vertex_sdk(gateway, created.json()["key"]) as client:
        assert client.models.generate_content(model="gpt-4o-mini", contents="Hi").text == "Hello!"
        with pytest.raises(genai_errors.ClientError) as refused:
            client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert refused.value.code == 403 and refused.value.status == "PERMISSION_DENIED"
    with vertex_sdk(gateway, "sk-not-a-key") as client, pytest.raises(genai_errors.ClientError) as unknown:
        client.models.generate_content(model="gpt-4o-mini", contents="Hi")
    assert unknown.value.code == 401 and unknown.value.status == "UNAUTHENTICATED"


def test_a_guardrail_masks_the_input(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    config = """
guardrails:
  - {name: emails, kind: pii, entities: [email], action: mask, stage: input}
server:
  guardrails: [emails]
"""
    gateway = make_gateway(config, env={"BABELGATE_API_KEYS": KEY})
    with vertex_sdk(gateway) as client:
        client.models.generate_content(model="gpt-4o-mini", contents="Write to jane.doe@example.com please.")
        client.models.embed_content(model="text-embedding-3-small", contents=["mail jane.doe@example.com"])
    chat, embedding = (item.json for item in upstream.received[-2:])
    assert "jane.doe@example.com" not in orjson.dumps(chat).decode()
    assert "please" in chat["messages"][-1]["content"]
    assert "jane.doe@example.com" not in embedding["input"][0]


def test_errors_in_google_format(door_gateway: RunningApp) -> None:
    models = f"{door_gateway.url}/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models"
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(timeout=10, headers=headers) as client:
        unknown = client.post(f"{models}/no-such-model:generateContent", json={"contents": []})
        assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
        wrong_method = client.get(f"{models}/gpt-4o-mini:generateContent")
        assert wrong_method.status_code == 405 and wrong_method.json()["error"]["status"] == "UNIMPLEMENTED"
        unknown_path = client.post(f"{models}/gpt-4o-mini:fineTune", json={})
        assert unknown_path.status_code == 404 and "error" in unknown_path.json()
        no_contents = client.post(f"{models}/gpt-4o-mini:generateContent", json={})
        assert no_contents.status_code == 400 and no_contents.json()["error"]["status"] == "INVALID_ARGUMENT"
        bad_instances = client.post(f"{models}/text-embedding-3-small:predict", json={"instances": [{"content": 3}]})
        assert bad_instances.status_code == 400 and "instances[0].content" in bad_instances.json()["error"]["message"]
        express = client.post(f"{door_gateway.url}/v1/publishers/0:generateContent", json={})
        assert express.status_code == 404 and express.json()["error"]["status"] == "NOT_FOUND"
        no_key = httpx.post(f"{models}/gpt-4o-mini:generateContent", json={"contents": []}, timeout=10)
        assert no_key.status_code == 401 and no_key.json()["error"]["status"] == "UNAUTHENTICATED"
