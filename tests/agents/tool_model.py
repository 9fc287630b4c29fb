"""A scripted model for agents with one function tool (`get_weather`), in each provider's own format: it calls the
tool for Paris, then answers with the tool's result it was sent back. The agents' tests (ADK on the Vertex door,
Strands on the Converse door) run it behind the OpenAI, Anthropic and Gemini fakes (`fake.responder`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import openai_upstream as oai
from tests.fakes.scripted import Reply, ScriptedStreams
from tests.fakes.servers import RunningApp

RESULT = "21 degrees in Paris"  # what the tasks' get_weather returns for Paris
ANSWER = "The weather: "  # the scripted model's final answer: this, then the tool's result it received
JSON = dict[str, Any]


def _openai_result(body: JSON) -> str | None:
    """The tool result the last message carries, as an OpenAI chat body has it (a `tool` message)."""
    last = body["messages"][-1]
    if last["role"] != "tool":
        return None
    assert last["tool_call_id"] == "call_1", last
    content = last["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def _anthropic_result(body: JSON) -> str | None:
    """…as a Messages body has it (a `tool_result` block in the last user message)."""
    last = body["messages"][-1]
    blocks = last["content"] if last["role"] == "user" and isinstance(last["content"], list) else []
    results = [block for block in blocks if block.get("type") == "tool_result"]
    if not results:
        return None
    assert results[0]["tool_use_id"] == "toolu_01", results
    content = results[0]["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def _gemini_result(body: JSON) -> str | None:
    """…as a generateContent body has it (a `functionResponse` part in the last content)."""
    responses = [part["functionResponse"] for part in body["contents"][-1]["parts"] if "functionResponse" in part]
    if not responses:
        return None
    assert responses[0]["name"] == "get_weather", responses
    return str(responses[0]["response"].get("result", responses[0]["response"]))


def _openai_reply(result: str | None, stream: bool) -> Reply:
    if result is not None:
        return (
            Reply(stream=[*oai.text_stream([ANSWER, result], include_usage=True)])
            if stream
            else Reply(json=oai.completion(ANSWER + result))
        )
    if stream:
        return Reply(
            stream=[*oai.tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])]), oai.usage_chunk()]
        )
    return Reply(json=oai.completion(None, tool_calls=[oai.tool_call("call_1", "get_weather", '{"city":"Paris"}')]))


def _anthropic_reply(result: str | None, stream: bool) -> Reply:
    if result is not None:
        return (
            Reply(stream=[*ant.text_events([ANSWER, result])]) if stream else Reply(json=ant.message(ANSWER + result))
        )
    if stream:
        return Reply(stream=[*ant.tool_events([("toolu_01", "get_weather", ['{"city":', '"Paris"}'])])])
    return Reply(json=ant.message([ant.tool_use_block("toolu_01", "get_weather", {"city": "Paris"})]))


def _gemini_reply(result: str | None, stream: bool) -> Reply:
    if result is not None:
        return (
            Reply(stream=[*gem.text_chunks([ANSWER, result])]) if stream else Reply(json=gem.response(ANSWER + result))
        )
    if stream:
        return Reply(stream=[*gem.function_call_chunks([("get_weather", {"city": "Paris"}, None, None)])])
    return Reply(json=gem.response([gem.function_call_part("get_weather", {"city": "Paris"})]))


@dataclass(frozen=True)
class Provider:
    model: str  # the gateway's name of the provider's model the fake serves
    offers_tool: Callable[[JSON], bool]
    streams: Callable[[JSON, str], bool]
    result: Callable[[JSON], str | None]  # the tool result the upstream was sent back, in its own format
    reply: Callable[[str | None, bool], Reply]


PROVIDERS = {
    "openai": Provider(
        "openai/gpt-4o-mini",
        lambda body: any(tool["function"]["name"] == "get_weather" for tool in body.get("tools") or ()),
        lambda body, _: body.get("stream") is True,
        _openai_result,
        _openai_reply,
    ),
    "anthropic": Provider(
        "anthropic/claude-sonnet-4-6",
        lambda body: any(tool.get("name") == "get_weather" for tool in body.get("tools") or ()),
        lambda body, _: body.get("stream") is True,
        _anthropic_result,
        _anthropic_reply,
    ),
    "gemini": Provider(
        "gemini/gemini-2.5-flash",
        lambda body: any(
            declaration["name"] == "get_weather"
            for tool in body.get("tools") or ()
            for declaration in tool.get("functionDeclarations") or ()
        ),
        lambda _, path: ":streamGenerateContent" in path,
        _gemini_result,
        _gemini_reply,
    ),
}


def _is_model_call(provider: str, path: str) -> bool:
    if provider == "gemini":
        return ":generateContent" in path or ":streamGenerateContent" in path
    return path.endswith(("/chat/completions", "/v1/messages"))


def is_model_call(provider: str, path: str) -> bool:
    if provider == "gemini":
        return ":generateContent" in path or ":streamGenerateContent" in path
    return path.endswith(("/chat/completions", "/v1/messages"))


def responder(provider: str) -> Callable[[Any, str], Reply | None]:
    """The fake's responder: the scripted model's turn for a model call that offers the tool, else None (the fake's
    default answer: an agent's side query)."""
    road = PROVIDERS[provider]

    def respond(body: Any, path: str) -> Reply | None:
        if not isinstance(body, dict) or not is_model_call(provider, path) or not road.offers_tool(body):
            return None
        return road.reply(road.result(body), road.streams(body, path))

    return respond


def sent_back(provider: str, received: list[Any]) -> list[tuple[bool, str]]:
    """Each tool result the fake was sent back, in its own format (read by the provider's `result`, which checks the
    call id or name it answers), and whether that request streamed."""
    road = PROVIDERS[provider]
    return [
        (road.streams(request.json, request.path), result)
        for request in received
        if isinstance(request.json, dict) and is_model_call(provider, request.path)
        for result in [road.result(request.json)]
        if result is not None
    ]


def scripted_gateway(
    provider: str,
    fake: ScriptedStreams,
    make_gateway: GatewayFactory,
    key: str,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> RunningApp:
    """A gateway with the key `key` in front of the three fakes, the provider's fake answering as the scripted model."""
    fake.responder = responder(provider)
    return make_gateway(
        env={
            "BABELGATE_API_KEYS": key,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
        }
    )
