"""The Gemini API frontend (`/v1beta/models/{model}:method` and `/v1/…`) driven by the official
`google-genai` SDK: translated onto OpenAI and Anthropic models (their fakes check what they receive
against their own specs), and relayed on the native road to the Gemini fake, which refuses what Gemini
refuses. Model names with slashes (`openai/gpt-4o-mini`) go in the URL as the SDK writes them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.waiting import eventually

GPT = "gpt-4o-mini"
SLASHED = "openai/gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"
GEMINI = "gemini-2.5-flash"
WEATHER = gt.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters=gt.Schema(type=gt.Type.OBJECT, properties={"city": gt.Schema(type=gt.Type.STRING)}, required=["city"]),
)


def _sdk(gateway: RunningApp, *, version: str | None = "v1beta", key: str = "x") -> genai.Client:
    options = gt.HttpOptions(base_url=gateway.url, api_version=version, timeout=10_000)
    if version is None:
        options = gt.HttpOptions(base_url=gateway.url, timeout=10_000)
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture(params=["v1beta", None], ids=["v1beta", "sdk-default"])
def sdk(request: pytest.FixtureRequest, gateway: RunningApp) -> Iterator[genai.Client]:
    client = _sdk(gateway, version=request.param)
    yield client
    client.close()


@pytest.fixture
def claude_gateway(make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic) -> RunningApp:
    return make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})


@pytest.fixture
def gemini_gateway(make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini) -> RunningApp:
    return make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})


# -- on an OpenAI model --------------------------------------------------------------------------


@pytest.mark.parametrize("model", [GPT, SLASHED])
def test_generate_on_openai(sdk: genai.Client, upstream: FakeOpenAI, model: str) -> None:
    upstream.script(
        Reply(json=completion("Bonjour!", usage={"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}))
    )
    answer = sdk.models.generate_content(
        model=model,
        contents="Hi",
        config=gt.GenerateContentConfig(
            system_instruction="Answer in French.", temperature=0.5, max_output_tokens=100, stop_sequences=["END"]
        ),
    )
    assert answer.text == "Bonjour!"
    assert answer.candidates and answer.candidates[0].finish_reason == gt.FinishReason.STOP
    assert answer.usage_metadata is not None
    assert (answer.usage_metadata.prompt_token_count, answer.usage_metadata.candidates_token_count) == (20, 4)
    assert upstream.received[-1].json == {
        "model": GPT,
        "messages": [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.5,
        "max_tokens": 100,
        "stop": ["END"],
    }


def test_stream_on_openai(sdk: genai.Client, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["Hel", "lo", "!"], include_usage=True)))
    pieces = list(sdk.models.generate_content_stream(model=SLASHED, contents="Hi"))
    assert "".join(piece.text or "" for piece in pieces) == "Hello!"
    last = pieces[-1]
    assert last.candidates and last.candidates[0].finish_reason == gt.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.total_token_count


def test_function_call_round_trip_on_openai(sdk: genai.Client, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city": "Paris"}')])),
        Reply(json=completion("It is sunny in Paris.")),
    )
    config = gt.GenerateContentConfig(
        tools=[gt.Tool(function_declarations=[WEATHER])],
        tool_config=gt.ToolConfig(
            function_calling_config=gt.FunctionCallingConfig(mode=gt.FunctionCallingConfigMode.ANY)
        ),
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
    )
    first = sdk.models.generate_content(model=GPT, contents="Weather in Paris?", config=config)
    calls = first.function_calls
    assert calls and calls[0].name == "get_weather" and calls[0].args == {"city": "Paris"} and calls[0].id == "call_1"
    sent = upstream.received[-1].json
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    assert sent["tool_choice"] == "required"
    assert first.candidates and first.candidates[0].content
    history = [
        gt.Content(role="user", parts=[gt.Part(text="Weather in Paris?")]),
        first.candidates[0].content,
        gt.Content(
            role="user",
            parts=[
                gt.Part(
                    function_response=gt.FunctionResponse(
                        id=calls[0].id, name="get_weather", response={"output": "sunny"}
                    )
                )
            ],
        ),
    ]
    second = sdk.models.generate_content(
        model=GPT, contents=history, config=gt.GenerateContentConfig(tools=config.tools)
    )
    assert second.text == "It is sunny in Paris."
    messages = upstream.received[-1].json["messages"]
    assert messages[1:] == [
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
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


def test_stream_function_call_on_openai(sdk: genai.Client, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=tool_call_stream([("call_9", "get_weather", ['{"ci', 'ty": "Rome"}'])])))
    pieces = list(
        sdk.models.generate_content_stream(
            model=GPT,
            contents="Weather?",
            config=gt.GenerateContentConfig(tools=[gt.Tool(function_declarations=[WEATHER])]),
        )
    )
    calls = [call for piece in pieces for call in piece.function_calls or ()]
    assert [(call.id, call.name, call.args) for call in calls] == [("call_9", "get_weather", {"city": "Rome"})]


def test_count_tokens_estimate(sdk: genai.Client, upstream: FakeOpenAI) -> None:
    counted = sdk.models.count_tokens(model=SLASHED, contents="Hello there, how are you?")
    assert counted.total_tokens and counted.total_tokens > 0
    assert [r for r in upstream.received if r.method == "POST"] == []


def test_embeddings_on_openai(sdk: genai.Client, upstream: FakeOpenAI) -> None:
    answer = sdk.models.embed_content(model="text-embedding-3-small", contents=["one", "two"])
    assert answer.embeddings and len(answer.embeddings) == 2 and answer.embeddings[0].values


def test_list_and_get_models(gateway: RunningApp) -> None:
    client = _sdk(gateway)
    names = [model.name for model in client.models.list()]
    assert f"models/{GPT}" in names or any(name and name.endswith(GPT) for name in names)
    got = client.models.get(model=SLASHED)
    assert got.name == f"models/{SLASHED}"


def test_openai_retrieve_route_still_works(gateway: RunningApp) -> None:
    response = httpx.get(gateway.url + f"/v1/models/{GPT}", headers={"authorization": "Bearer x"}, timeout=10)
    assert response.status_code in (200, 404), response.text
    assert "object" in response.json() or "error" in response.json()


def test_errors_in_google_format(gateway: RunningApp) -> None:
    response = httpx.post(
        gateway.url + "/v1beta/models/nope/none:generateContent",
        content=orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        headers={"x-goog-api-key": "x"},
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 404 and body["error"]["code"] == 404 and body["error"]["status"] == "NOT_FOUND"
    client = _sdk(gateway)
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model=GPT, contents="Hi", config=gt.GenerateContentConfig(temperature=5.0))
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert "temperature" in str(caught.value.message)


# -- on a Claude model ---------------------------------------------------------------------------


def test_generate_on_anthropic(claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic) -> None:
    client = _sdk(claude_gateway)
    answer = client.models.generate_content(
        model=CLAUDE, contents="Hi", config=gt.GenerateContentConfig(max_output_tokens=50)
    )
    assert answer.text
    pieces = list(client.models.generate_content_stream(model=CLAUDE, contents="Hi"))
    assert "".join(piece.text or "" for piece in pieces)


# -- native, on a Gemini model -------------------------------------------------------------------


def test_generate_native_on_gemini(gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    client = _sdk(gemini_gateway)
    answer = client.models.generate_content(
        model=GEMINI, contents="Hi", config=gt.GenerateContentConfig(temperature=0.2)
    )
    assert answer.text == "Hello!"
    received = gemini_upstream.received[-1]
    assert received.path.endswith(f"/models/{GEMINI}:generateContent")
    assert received.json["generationConfig"] == {"temperature": 0.2}
    pieces = list(client.models.generate_content_stream(model=f"gemini/{GEMINI}", contents="Hi"))
    assert "".join(piece.text or "" for piece in pieces) == "Hello!"


def test_json_array_stream_native_and_translated(
    gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini, upstream: FakeOpenAI
) -> None:
    body = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    for model in (GEMINI, SLASHED):
        if model == SLASHED:
            upstream.script(Reply(stream=text_stream(["Hel", "lo", "!"], include_usage=True)))
        response = httpx.post(
            gemini_gateway.url + f"/v1beta/models/{model}:streamGenerateContent",
            content=body,
            headers={"x-goog-api-key": "x"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        elements: list[dict[str, Any]] = response.json()
        text = "".join(
            part.get("text", "")
            for element in elements
            for c in element.get("candidates", ())
            for part in c["content"]["parts"]
        )
        assert text == "Hello!"


def test_key_from_query(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "gw-key-1"})
    upstream.script(Reply(json=completion("ok")))
    body = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    url = gateway.url + f"/v1beta/models/{GPT}:generateContent"
    assert httpx.post(url + "?key=gw-key-1", content=body, timeout=10).status_code == 200
    refused = httpx.post(url + "?key=wrong", content=body, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"
    upstream.script(Reply(json=completion("ok")))
    assert httpx.post(url, content=body, headers={"x-goog-api-key": "gw-key-1"}, timeout=10).status_code == 200


def test_count_tokens_native_on_gemini(gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    client = _sdk(gemini_gateway)
    counted = client.models.count_tokens(model=GEMINI, contents="one two three")
    assert counted.total_tokens == 3
    assert gemini_upstream.received[-1].path.endswith(f"/models/{GEMINI}:countTokens")


def test_embeddings_on_gemini(gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini) -> None:
    client = _sdk(gemini_gateway, version=None)
    answer = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["one", "two"],
        config=gt.EmbedContentConfig(output_dimensionality=8, task_type="RETRIEVAL_QUERY"),
    )
    assert answer.embeddings and [len(item.values or ()) for item in answer.embeddings] == [8, 8]
    sent = gemini_upstream.received[-1].json["requests"]
    assert [item["taskType"] for item in sent] == ["RETRIEVAL_QUERY", "RETRIEVAL_QUERY"]


def test_models_with_the_sdk_default_version(gateway: RunningApp) -> None:
    client = _sdk(gateway, version=None)
    names = [model.name for model in client.models.list()]
    assert names and all(name and name.startswith("models/") for name in names)
    assert client.models.get(model=SLASHED).name == f"models/{SLASHED}"
    # An OpenAI client on the same paths still gets OpenAI's shapes.
    listed = httpx.get(gateway.url + "/v1/models", headers={"authorization": "Bearer x"}, timeout=10).json()
    assert listed["object"] == "list"


REASONING_KEY = "a" * 64


def test_thought_signature_carries_claude_thinking_across_instances(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic
) -> None:
    """The Claude reasoning state (signed thinking) sealed into `thoughtSignature` by one instance opens on
    another that never saw the conversation: nothing is kept in the gateway."""
    env = {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "BABELGATE_REASONING_KEY": REASONING_KEY,
    }
    first_gateway, second_gateway = make_gateway(env=env), make_gateway(env=env)
    model = "claude-sonnet-4-5-20250929"
    anthropic_upstream.script(
        Reply(
            json=ant.message(
                [
                    ant.thinking_block("The user wants weather.", "EqSig=="),
                    ant.tool_use_block("toolu_01T", "get_weather", {"city": "Paris"}),
                ],
                model=model,
            )
        ),
        Reply(json=ant.message("Sunny.", model=model)),
    )
    config = gt.GenerateContentConfig(
        tools=[gt.Tool(function_declarations=[WEATHER])],
        thinking_config=gt.ThinkingConfig(thinking_budget=8192, include_thoughts=True),
        max_output_tokens=20000,
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
    )
    first_client, second_client = _sdk(first_gateway), _sdk(second_gateway)
    first = first_client.models.generate_content(model=model, contents="Weather in Paris?", config=config)
    assert first.candidates and first.candidates[0].content and first.candidates[0].content.parts
    parts = first.candidates[0].content.parts
    assert parts[0].thought and parts[0].text == "The user wants weather."
    assert parts[0].thought_signature and parts[0].thought_signature.startswith(b"bg1.")
    call = first.function_calls[0] if first.function_calls else None
    assert call is not None and call.id == "toolu_01T"
    history = [
        gt.Content(role="user", parts=[gt.Part(text="Weather in Paris?")]),
        first.candidates[0].content,
        gt.Content(
            role="user",
            parts=[
                gt.Part(function_response=gt.FunctionResponse(id=call.id, name=call.name, response={"output": "21C"}))
            ],
        ),
    ]
    second = second_client.models.generate_content(model=model, contents=history, config=config)
    assert second.text == "Sunny."
    assistant = anthropic_upstream.received[-1].json["messages"][1]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "The user wants weather.",
        "signature": "EqSig==",
    }


def test_foreign_thought_signature_is_dropped_and_listed(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json=completion("ok")))
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "hello", "thoughtSignature": "c2lnbmF0dXJl"}]},
            {"role": "user", "parts": [{"text": "again"}]},
        ],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    response = httpx.post(
        gateway.url + f"/v1/models/{SLASHED}:generateContent",
        content=orjson.dumps(body),
        headers={"x-goog-api-key": "x"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-babelgate-adjusted-params"].split(";") == [
        "contents[1].parts[0].thoughtSignature=dropped",
        "safetySettings=dropped",
    ]
    assert upstream.received[-1].json["messages"][1] == {"role": "assistant", "content": "hello"}


def test_native_stream_function_call_round_trip_with_signatures(
    gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini
) -> None:
    """Gemini 3 refuses a function call of the current turn without its thought signature: the native road
    relays the signature the model gave, and the SDK sends it back."""
    model = "gemini-3-pro-preview"
    signature = "ZmFrZS1nZW1pbmktdGhvdWdodC1zaWduYXR1cmU="  # base64, as the SDK reads it
    gemini_upstream.script(
        Reply(
            stream=gem.function_call_chunks([("get_weather", {"city": "Oslo"}, None, signature)], model_version=model)
        ),
        Reply(json=gem.response("Cold.", model_version=model)),
    )
    client = _sdk(gemini_gateway)
    config = gt.GenerateContentConfig(
        tools=[gt.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
    )
    pieces = list(client.models.generate_content_stream(model=model, contents="Weather in Oslo?", config=config))
    parts = [part for piece in pieces if piece.candidates for part in (piece.candidates[0].content.parts or ())]  # type: ignore[union-attr]
    call_parts = [part for part in parts if part.function_call]
    assert len(call_parts) == 1 and call_parts[0].thought_signature
    history = [
        gt.Content(role="user", parts=[gt.Part(text="Weather in Oslo?")]),
        gt.Content(role="model", parts=call_parts),
        gt.Content(
            role="user",
            parts=[gt.Part(function_response=gt.FunctionResponse(name="get_weather", response={"output": "-5C"}))],
        ),
    ]
    assert client.models.generate_content(model=model, contents=history, config=config).text == "Cold."
    sent = gemini_upstream.received[-1].json["contents"][1]["parts"][0]
    assert sent["thoughtSignature"] == signature


def test_google_search_becomes_claude_web_search_and_code_execution_is_dropped(
    claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic
) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "News?"}]}],
        "tools": [{"googleSearch": {}}, {"codeExecution": {}}],
        "generationConfig": {"temperature": 0.5, "topP": 0.9, "maxOutputTokens": 100},
    }
    response = httpx.post(
        claude_gateway.url + "/v1beta/models/claude-sonnet-4-5:generateContent",
        content=orjson.dumps(body),
        headers={"x-goog-api-key": "x"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    sent = anthropic_upstream.received[-1].json
    assert [tool["type"] for tool in sent["tools"]] == ["web_search_20250305"]
    adjusted = response.headers["x-babelgate-adjusted-params"].split(";")
    assert "tools[1]=dropped" in adjusted and "top_p=dropped" in adjusted
    assert "top_p" not in sent and sent["temperature"] == 0.5


def test_an_unknown_method_and_a_wrong_verb(gateway: RunningApp) -> None:
    headers = {"x-goog-api-key": "x"}
    unknown = httpx.post(gateway.url + f"/v1beta/models/{GPT}:predict", content=b"{}", headers=headers, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
    verb = httpx.put(gateway.url + f"/v1beta/models/{GPT}:generateContent", content=b"{}", headers=headers, timeout=10)
    assert verb.status_code == 405 and verb.json()["error"]["code"] == 405
    missing = httpx.post(gateway.url + f"/v1/models/{GPT}:generateContent", content=b"{}", headers=headers, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["status"] == "INVALID_ARGUMENT"


MASTER = "master-key-of-the-gemini-tests-0123456789"


def test_virtual_keys_and_their_limits_apply(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    """A virtual key sent as Gemini's clients send it (`x-goog-api-key`): its model allow-list and its
    requests-per-minute limit apply, their refusals in Google's format."""
    gateway = make_gateway(env={"BABELGATE_MASTER_KEY": MASTER})
    created = httpx.post(
        gateway.url + "/admin/keys",
        json={"models": ["gpt-*"], "rpm": 1},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    client = _sdk(gateway, key=key)
    upstream.script(Reply(json=completion("Allowed.")))
    assert client.models.generate_content(model=GPT, contents="Hi").text == "Allowed."
    with pytest.raises(genai_errors.ClientError) as limited:
        client.models.generate_content(model=GPT, contents="Hi")
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(genai_errors.ClientError) as refused:
        client.models.generate_content(model=CLAUDE, contents="Hi")
    assert refused.value.code == 403 and refused.value.status == "PERMISSION_DENIED"
    wrong = _sdk(gateway, key="bg-not-a-key")
    with pytest.raises(genai_errors.ClientError) as unknown:
        wrong.models.generate_content(model=GPT, contents="Hi")
    assert unknown.value.code == 401 and unknown.value.status == "UNAUTHENTICATED"


def test_a_refused_request_leaves_a_ledger_row(make_gateway: GatewayFactory, tmp_path: Any) -> None:
    """The model is in the path, not the body: a wrong key on a Gemini method is still a model route's
    refusal, kept in the ledger (without the secret); a listing refused is not."""
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "gw-key-1", "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'l.db'}"})
    body = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    for path in (f"/v1beta/models/{SLASHED}:generateContent", f"/v1/models/{GPT}:streamGenerateContent"):
        refused = httpx.post(gateway.url + path, content=body, headers={"x-goog-api-key": "WRONGsecret"}, timeout=10)
        assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"
    assert httpx.get(gateway.url + "/v1beta/models", params={"key": "WRONGsecret"}, timeout=10).status_code == 401

    def rows() -> list[tuple[str, int]]:
        database = sqlite3.connect(tmp_path / "l.db")
        try:
            return [tuple(row) for row in database.execute("SELECT route, status FROM babelgate_ledger ORDER BY ts")]
        except sqlite3.OperationalError:
            return []
        finally:
            database.close()

    eventually(lambda: len(rows()) == 2)
    assert rows() == [("gemini", 401), ("gemini.v1", 401)]


def test_a_native_stream_cut_off_ends_with_an_error_event(
    gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini
) -> None:
    """Gemini sends no end marker: a stream whose connection closes before a finish reason was cut off,
    and the client's stream ends with Google's error object (SSE event, or the array's last element)."""
    body = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    for query, parse in (("?alt=sse", _sse_payloads), ("", orjson.loads)):
        gemini_upstream.script(Reply(stream=[gem.chunk([gem.text_part("Hel")]), gem.chunk([gem.text_part("lo")])]))
        response = httpx.post(
            gemini_gateway.url + f"/v1beta/models/{GEMINI}:streamGenerateContent{query}",
            content=body,
            headers={"x-goog-api-key": "x"},
            timeout=10,
        )
        assert response.status_code == 200
        elements = parse(response.content)
        assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in elements[:-1]] == ["Hel", "lo"]
        assert elements[-1]["error"]["code"] == 502 and elements[-1]["error"]["status"] == "UNAVAILABLE"


def _sse_payloads(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[5:]) for line in data.split(b"\n") if line.startswith(b"data:")]
