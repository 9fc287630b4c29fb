"""Both spellings of the Gemini API's field names: Google reads `parameters_json_schema` as
`parametersJsonSchema` (protobuf JSON), and google-genai sends some fields in snake_case. Each request here
goes once in camelCase and once with every field name in snake_case (the keys of user data — schema
property names, call arguments, function responses — left as they are), and the upstream must receive the
same request, on the translated road (OpenAI, Claude) and the native one (Gemini). Then the google-genai
SDK's automatic function calling end to end, a Python function with a required parameter, on an OpenAI
model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types as gt

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI, completion, tool_call
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp

# Keys whose value is the caller's own data: its keys keep their spelling.
USER_DATA = frozenset({"args", "response", "parametersJsonSchema", "responseJsonSchema", "partMetadata", "labels"})
SCHEMA_MAPS = frozenset({"properties"})  # a map of the caller's names to schemas


def snake_cased(value: Any) -> Any:
    """`value` with every field name in snake_case, the way protobuf's JSON parser also reads it."""
    if isinstance(value, list):
        return [snake_cased(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for name, item in value.items():
        snake = re.sub(r"([A-Z])", lambda upper: "_" + upper.group(1).lower(), name)
        if name in USER_DATA:
            out[snake] = item
        elif name in SCHEMA_MAPS and isinstance(item, dict):
            out[snake] = {key: snake_cased(schema) for key, schema in item.items()}
        else:
            out[snake] = snake_cased(item)
    return out


SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "city_name": {"type": "STRING", "description": "The city", "maxLength": 40},
        "unit": {"type": "STRING", "enum": ["C", "F"], "nullable": True},
        "days": {"type": "ARRAY", "items": {"type": "INTEGER", "minimum": 1}, "maxItems": 7},
    },
    "required": ["city_name"],
    "propertyOrdering": ["city_name", "unit", "days"],
}
JSON_SCHEMA = {"type": "object", "properties": {"zip_code": {"type": "string"}}, "required": ["zip_code"]}
CONVERSATION = [
    {
        "role": "user",
        "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}],
    },
    {
        "role": "model",
        "parts": [{"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city_name": "Paris"}}}],
    },
    {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "id": "call_1",
                    "name": "get_weather",
                    "response": {"max_temp": 21, "sky_cover": "clear"},
                }
            }
        ],
    },
]
REQUESTS = {
    "sampling": {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.5,
            "topP": 0.9,
            "topK": 40,
            "maxOutputTokens": 100,
            "stopSequences": ["END"],
            "candidateCount": 1,
            "seed": 7,
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    },
    "tools": {
        "contents": CONVERSATION,
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "get_weather", "description": "Weather", "parameters": SCHEMA},
                    {"name": "find_zip", "parametersJsonSchema": JSON_SCHEMA, "responseJsonSchema": {"type": "string"}},
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    },
    "structured": {
        "contents": [{"role": "user", "parts": [{"text": "A city"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseSchema": SCHEMA},
    },
    "json schema": {
        "contents": [{"role": "user", "parts": [{"text": "A zip"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": JSON_SCHEMA},
    },
}


def test_the_snake_case_twin_differs_where_it_should() -> None:
    twin = snake_cased(REQUESTS["tools"])
    declaration = twin["tools"][0]["function_declarations"][1]
    assert declaration["parameters_json_schema"] == JSON_SCHEMA  # the schema's own names untouched
    assert twin["tools"][0]["function_declarations"][0]["parameters"]["property_ordering"] == [
        "city_name",
        "unit",
        "days",
    ]
    assert twin["contents"][2]["parts"][0]["function_response"]["response"] == {"max_temp": 21, "sky_cover": "clear"}


@pytest.fixture
def every_road(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, anthropic_upstream: FakeAnthropic, gemini_upstream: FakeGemini
) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    gateway = make_gateway(
        env={
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
        }
    )
    fakes = {"gpt-4o-mini": upstream, "claude-sonnet-4-6": anthropic_upstream, "gemini-2.5-flash": gemini_upstream}
    with httpx.Client(base_url=gateway.url, timeout=15, headers={"x-goog-api-key": "x"}) as http:
        yield http, fakes


def _sent(http: httpx.Client, fake: Any, path: str, body: dict[str, Any]) -> tuple[Any, str]:
    fake.received.clear()
    answer = http.post(path, json=body)
    assert answer.status_code == 200, answer.text
    received = [r.json for r in fake.received if r.json is not None]
    assert len(received) == 1
    return received[0], answer.headers.get("x-babelgate-adjusted-params", "")


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-sonnet-4-6", "gemini-2.5-flash"])
@pytest.mark.parametrize("request_name", list(REQUESTS))
def test_snake_case_field_names_send_the_same_upstream_request(
    every_road: tuple[httpx.Client, dict[str, Any]], model: str, request_name: str
) -> None:
    http, fakes = every_road
    body = REQUESTS[request_name]
    path = f"/v1beta/models/{model}:generateContent"
    camel = _sent(http, fakes[model], path, body)
    snake = _sent(http, fakes[model], path, snake_cased(body))
    assert snake == camel


def test_count_tokens_and_embeddings_read_snake_case(
    every_road: tuple[httpx.Client, dict[str, Any]], upstream: FakeOpenAI
) -> None:
    http, fakes = every_road
    wrapped = {"generateContentRequest": REQUESTS["sampling"]}
    path = "/v1beta/models/gemini-2.5-flash:countTokens"
    assert _sent(http, fakes["gemini-2.5-flash"], path, snake_cased(wrapped)) == _sent(
        http, fakes["gemini-2.5-flash"], path, wrapped
    )
    estimate = [
        http.post("/v1beta/models/gpt-4o-mini:countTokens", json=body).json()
        for body in (REQUESTS["tools"], snake_cased(REQUESTS["tools"]))
    ]
    assert estimate[0] == estimate[1]
    embed = {"content": {"parts": [{"text": "Hi"}]}, "outputDimensionality": 256}
    assert _sent(http, upstream, "/v1beta/models/text-embedding-3-small:embedContent", snake_cased(embed)) == _sent(
        http, upstream, "/v1beta/models/text-embedding-3-small:embedContent", embed
    )


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_automatic_function_calling_with_a_required_parameter_on_openai(
    gateway: RunningApp, upstream: FakeOpenAI
) -> None:
    """google-genai declares a Python function with `parameters_json_schema`; the model must see the
    parameter to call the function with it, and the SDK then calls it and sends its result back."""
    upstream.script(
        Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city": "Paris"}')])),
        Reply(json=completion("It is sunny in Paris.")),
    )
    client = genai.Client(
        api_key="x", http_options=gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=10_000)
    )
    with client:
        chat = client.chats.create(model="gpt-4o-mini", config=gt.GenerateContentConfig(tools=[get_weather]))
        answer = chat.send_message("Weather in Paris?")
    assert answer.text == "It is sunny in Paris."
    first, second = (received.json for received in upstream.received if received.json is not None)
    assert first["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Paris"}


def test_the_native_road_merges_a_model_s_settings_into_a_snake_case_generation_config(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini
) -> None:
    """The model's defaults and overrides go into the client's own generation config, not into a second
    one beside it (which Gemini would refuse as the same field twice)."""
    gateway = make_gateway(
        f"""
providers:
  google: {{type: gemini, base_url: "{gemini_upstream.base_url}", api_key: "env:GOOGLE_KEY"}}
models:
  flash:
    defaults: {{temperature: 0.2, top_k: 3}}
    overrides: {{max_tokens: 64}}
    deployments: [{{provider: google, model: gemini-2.5-flash}}]
""",
        env={"GOOGLE_KEY": GEMINI_KEY},
    )
    body = {"contents": [{"parts": [{"text": "Hi"}]}], "generation_config": {"top_k": 40, "max_output_tokens": 1000}}
    with httpx.Client(timeout=15) as http:
        answer = http.post(f"{gateway.url}/v1beta/models/flash:generateContent?key=x", json=body)
    assert answer.status_code == 200, answer.text
    sent = gemini_upstream.received[-1].json
    assert sent["generationConfig"] == {"topK": 40, "maxOutputTokens": 64, "temperature": 0.2}
    assert "generation_config" not in sent
