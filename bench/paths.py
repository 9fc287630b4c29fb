"""The paths `make bench` measures: each a gateway request (frontend, model, so provider) and the direct
call to the same fake upstream in that upstream's own format, with what a good answer must contain.

`fast` is the OpenAI fast path (chat completions to an OpenAI model: the body is relayed). The others are
translated: the request is a short chat with two tools, in the frontend's format, and the fake upstream
answers with the same text in every format (fake_upstream.ANSWER), so each answer's content can be checked.
Every path also streams: the same request with `"stream": true` (Gemini's direct call on its stream route),
read in the format the client gets (streams.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from fake_upstream import ANSWER
from loadgen import request_body
from streams import STREAM_FORMATS

SYSTEM: Final = "You are a concise assistant for a team of backend engineers. Use the tools when they help."
USER: Final = "Explain in three sentences what a load balancer does and why it helps."
# Two tools, as in bench/translated.py, with the descriptions and schemas a real client sends.
TOOLS: Final[list[dict[str, Any]]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current local time in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
                "required": ["city"],
            },
        },
    },
]
RESPONSES_TOOLS: Final = [{"type": "function", **tool["function"]} for tool in TOOLS]
ANTHROPIC_TOOLS: Final = [
    {
        "name": tool["function"]["name"],
        "description": tool["function"]["description"],
        "input_schema": tool["function"]["parameters"],
    }
    for tool in TOOLS
]
CHAT_MESSAGES: Final = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]

MODELS: Final = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
}


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": CHAT_MESSAGES, "tools": TOOLS, "temperature": 0.2, "max_tokens": 256}


def _anthropic(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 256,
        "system": SYSTEM,
        "tools": ANTHROPIC_TOOLS,
        "temperature": 0.2,
        "messages": [{"role": "user", "content": USER}],
    }


def _converse() -> dict[str, Any]:
    """The same chat in Bedrock's Converse shape (the model is in the URL)."""
    return {
        "messages": [{"role": "user", "content": [{"text": USER}]}],
        "system": [{"text": SYSTEM}],
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": tool["function"]["name"],
                        "description": tool["function"]["description"],
                        "inputSchema": {"json": tool["function"]["parameters"]},
                    }
                }
                for tool in TOOLS
            ]
        },
        "inferenceConfig": {"temperature": 0.2, "maxTokens": 256},
    }


def _gemini() -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": USER}]}],
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": tool["function"]["name"],
                        "description": tool["function"]["description"],
                        "parameters": tool["function"]["parameters"],
                    }
                    for tool in TOOLS
                ]
            }
        ],
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 256},
    }


# How to find the answer text in each format (for the correctness check before measuring).
def _chat_text(answer: Any) -> Any:
    return answer["choices"][0]["message"]["content"]


def _messages_text(answer: Any) -> Any:
    return next(block["text"] for block in answer["content"] if block["type"] == "text")


def _gemini_text(answer: Any) -> Any:
    return answer["candidates"][0]["content"]["parts"][0]["text"]


def _converse_text(answer: Any) -> Any:
    return answer["output"]["message"]["content"][0]["text"]


def _responses_text(answer: Any) -> Any:
    message = next(item for item in answer["output"] if item["type"] == "message")
    return next(part["text"] for part in message["content"] if part["type"] == "output_text")


# Byte markers of a good answer: the load generator checks them instead of parsing (it shares a core).
CHAT_OK: Final = (b'"chat.completion"', b'"finish_reason":"stop"')
MESSAGE_OK: Final = (b'"type":"message"', b'"stop_reason":"end_turn"')
GEMINI_OK: Final = (b'"finishReason":"STOP"',)
RESPONSE_OK: Final = (b'"object":"response"', b'"status":"completed"')
CONVERSE_OK: Final = (b'"stopReason":"end_turn"',)


@dataclass(frozen=True, slots=True)
class Side:
    """One end of a path: where to POST, what, and how to recognise a good answer."""

    route: str  # path on the gateway or the fake upstream
    body: bytes
    expect: tuple[bytes, ...]
    text: Callable[[Any], Any]  # the answer's text, for the check before measuring
    # Bytes only the right upstream's answer leads to (its prompt token count, which each fake sets apart),
    # also checked before measuring: proof that the gateway called the provider the path names.
    marker: bytes = b""
    stream_body: bytes = b""  # the same request, streamed
    stream_format: str = "chat"  # the wire format of the stream this side answers with
    stream_route: str | None = None  # where the stream request goes, when not `route`

    def __post_init__(self) -> None:
        if self.stream_format not in STREAM_FORMATS:
            raise ValueError(f"unknown stream format {self.stream_format!r}")


@dataclass(frozen=True, slots=True)
class BenchPath:
    name: str
    title: str
    gateway: Side
    direct: Side
    streams: bool = True  # every path has stream runs; a path without them would set False
    # Whether the fixed base (bench/fixed_base.py) is measured on it too: not where the path needs config that only
    # the working tree has (a routed model, virtual keys and limits).
    base: bool = True


def _dumps(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def _side(
    route: str,
    body: dict[str, Any],
    expect: tuple[bytes, ...],
    text: Callable[[Any], Any],
    marker: bytes,
    stream_format: str,
    stream_route: str | None = None,
) -> Side:
    """A side whose stream request is its request with `"stream": true`, or (with `stream_route`, Gemini)
    the same body on the stream route."""
    stream_body = body if stream_route is not None else {**body, "stream": True}
    return Side(route, _dumps(body), expect, text, marker, _dumps(stream_body), stream_format, stream_route)


_GEMINI_ROUTE: Final = f"/v1beta/models/{MODELS['gemini']}"
_VERTEX_ROUTE: Final = f"/v1/publishers/google/models/{MODELS['gemini']}"
# The gateway's Vertex door, as google-genai in Vertex mode writes its URL (the SDK's default version).
_VERTEX_DOOR: Final = f"/v1beta1/projects/bench/locations/us-central1/publishers/google/models/{MODELS['openai']}"
_OPENAI_DIRECT: Final = _side(
    "/v1/chat/completions", _chat(MODELS["openai"]), CHAT_OK, _chat_text, b'"prompt_tokens":42,', "chat"
)
# Gemini's own route: the direct call of the Gemini paths, and the gateway's on the Gemini API's native road.
_GEMINI_DIRECT: Final = _side(
    f"{_GEMINI_ROUTE}:generateContent",
    _gemini(),
    GEMINI_OK,
    _gemini_text,
    b'"promptTokenCount":98,',
    "gemini",
    f"{_GEMINI_ROUTE}:streamGenerateContent?alt=sse",
)
_FAST: Final = Side("/v1/chat/completions", request_body(False), CHAT_OK, _chat_text, b"", request_body(True), "chat")


# A 2 KB prompt of an engineer's question (prose, numbers, a bit of code, a URL, no personal data): what the
# guardrails' detectors read on the `guarded` path, and its unguarded twin `long-prompt`.
LONG_PROMPT: Final = (
    "Our service runs 12 replicas across 3 regions behind a load balancer; in March 2024 we moved from version "
    "2.3.1 to 2.4.0 and p99 latency rose from 180 ms to 240 ms at 1,500 requests per second. The handler is "
    "`def handle(event): return {'status': 200, 'items': fetch(event['id'])}` and the dashboard is at "
    "https://example.com/dash/latency?range=7d. What should we look at first, and why? "
) * 6


def _prompted(model: str, stream: bool = False) -> bytes:
    body = orjson.loads(request_body(stream, model=model))
    body["messages"][-1]["content"] = LONG_PROMPT[:2048]
    return orjson.dumps(body)


def _long_prompt(model: str) -> Side:
    """The fast path's request with a 2 KB prompt, to a model of the bench's config or the environment."""
    return Side(
        "/v1/chat/completions", _prompted(model), CHAT_OK, _chat_text, b"", _prompted(model, stream=True), "chat"
    )


def _configured(model: str) -> Side:
    """The fast path's request to a model of the bench's config (processes.BENCH_CONFIG)."""
    return Side(
        "/v1/chat/completions",
        request_body(False, model=model),
        CHAT_OK,
        _chat_text,
        b"",
        request_body(True, model=model),
        "chat",
    )


PATHS: Final[dict[str, BenchPath]] = {
    path.name: path
    for path in (
        BenchPath("fast", "OpenAI fast path: chat completions → OpenAI (gpt-4o-mini, no tools)", _FAST, _FAST),
        # The fast path through the router: a model with two deployments and a fallback (processes.BENCH_CONFIG).
        BenchPath(
            "routed",
            "OpenAI fast path, routed: two deployments and a fallback (gpt-4o-mini)",
            _configured("routed"),
            _FAST,
            base=False,
        ),
        # The fast path with every governance feature on: a virtual key with rpm, tpm, requests-at-once limits
        # and a budget, its team's limits and budget, the model's limits and price (processes.BENCH_CONFIG;
        # counted in Redis with --redis), the ledger and metrics (always on). Its key is created at start.
        BenchPath(
            "governed",
            "OpenAI fast path, governed: a virtual key's, its team's and the model's limits and budgets, "
            "prices, ledger, metrics (gpt-4o-mini)",
            _configured("governed"),
            _FAST,
            base=False,
        ),
        # The governed path's request by a JWT caller: a token of the bench's identity provider
        # (bench/jwt_issuer.py) for a user of team `bench`, verified once and then found in the gateway's cache;
        # the same team limits and budget, the model's limits, ledger and metrics as the governed path.
        BenchPath(
            "jwt",
            "OpenAI fast path, governed, by a JWT caller of the company's identity provider (gpt-4o-mini)",
            _configured("governed"),
            _FAST,
            base=False,
        ),
        # The fast path with a 2 KB prompt, and the same request to a model whose every request and answer pass
        # the built-in PII detectors (all seven, masking: processes.BENCH_CONFIG): what the guardrails cost.
        BenchPath(
            "long-prompt",
            "OpenAI fast path, a 2 KB prompt (gpt-4o-mini)",
            _long_prompt(MODELS["openai"]),
            _long_prompt(MODELS["openai"]),
            base=False,
        ),
        BenchPath(
            "guarded",
            "OpenAI fast path, a 2 KB prompt, PII guardrails masking input and output (gpt-4o-mini)",
            _long_prompt("guarded"),
            _long_prompt(MODELS["openai"]),
            # Its streams' text is the same, cut at other places (each guardrail's window holds back the word
            # being written), which the stream check's chunk-by-chunk comparison would refuse: requests only.
            streams=False,
            base=False,
        ),
        BenchPath(
            "anthropic",
            f"Chat completions → Anthropic ({MODELS['anthropic']}, two tools); direct: /v1/messages",
            _side(
                "/v1/chat/completions", _chat(MODELS["anthropic"]), CHAT_OK, _chat_text, b'"prompt_tokens":412,', "chat"
            ),
            _side(
                "/v1/messages",
                _anthropic(MODELS["anthropic"]),
                MESSAGE_OK,
                _messages_text,
                b'"input_tokens":412,',
                "anthropic",
            ),
        ),
        BenchPath(
            "gemini",
            f"Chat completions → Gemini ({MODELS['gemini']}, two tools); direct: generateContent",
            _side("/v1/chat/completions", _chat(MODELS["gemini"]), CHAT_OK, _chat_text, b'"prompt_tokens":98,', "chat"),
            _GEMINI_DIRECT,
        ),
        # The clouds: Gemini on Vertex, the Gemini path's request and translation at Vertex's URLs
        # and key; and a deployment on Azure, the fast path's relay at Azure's URL with its `api-key` header.
        BenchPath(
            "vertex",
            f"Chat completions → Gemini on Vertex AI ({MODELS['gemini']}, two tools); direct: Vertex generateContent",
            _side("/v1/chat/completions", _chat("vertex-gemini"), CHAT_OK, _chat_text, b'"prompt_tokens":98,', "chat"),
            _side(
                f"{_VERTEX_ROUTE}:generateContent",
                _gemini(),
                GEMINI_OK,
                _gemini_text,
                b'"promptTokenCount":98,',
                "gemini",
                f"{_VERTEX_ROUTE}:streamGenerateContent?alt=sse",
            ),
            base=False,
        ),
        BenchPath(
            "azure",
            "OpenAI fast path to an Azure OpenAI deployment (v1 API, api-key); direct: /openai/v1/chat/completions",
            _configured("azure-gpt"),
            Side(
                "/openai/v1/chat/completions", request_body(False), CHAT_OK, _chat_text, b"", request_body(True), "chat"
            ),
            base=False,
        ),
        # Claude on Bedrock, signed with SigV4: the Anthropic path's request and translation through
        # InvokeModel, its stream in event-stream frames. Direct: the same answer as Anthropic's /v1/messages
        # (the fake gives Bedrock's routes Anthropic's answer; its own cost is what the direct column shows).
        BenchPath(
            "bedrock",
            "Chat completions → Claude on AWS Bedrock (InvokeModel, SigV4, two tools); direct: /v1/messages",
            _side(
                "/v1/chat/completions", _chat("bedrock-claude"), CHAT_OK, _chat_text, b'"prompt_tokens":412,', "chat"
            ),
            _side(
                "/v1/messages",
                _anthropic(MODELS["anthropic"]),
                MESSAGE_OK,
                _messages_text,
                b'"input_tokens":412,',
                "anthropic",
            ),
            base=False,
        ),
        BenchPath(
            "mistral",
            f"Chat completions → Mistral ({MODELS['mistral']}, two tools); direct: Mistral chat",
            _side(
                "/v1/chat/completions", _chat(MODELS["mistral"]), CHAT_OK, _chat_text, b'"prompt_tokens":131,', "chat"
            ),
            _side(
                "/mistral/v1/chat/completions",
                _chat(MODELS["mistral"]),
                CHAT_OK,
                _chat_text,
                b'"prompt_tokens":131,',
                "chat",
            ),
        ),
        BenchPath(
            "responses",
            f"Responses API (stored) → OpenAI chat ({MODELS['openai']}, two tools); direct: OpenAI chat",
            _side(
                "/v1/responses",
                {
                    "model": MODELS["openai"],
                    "instructions": SYSTEM,
                    "input": USER,
                    "tools": RESPONSES_TOOLS,
                    "temperature": 0.2,
                    "max_output_tokens": 256,
                },
                RESPONSE_OK,
                _responses_text,
                b'"input_tokens":42,',
                "responses",
            ),
            _OPENAI_DIRECT,
        ),
        # The Gemini API frontend: translated onto an OpenAI model, judged against the Messages
        # frontend's translated path; and native to Gemini (the body relayed), judged against the fast path.
        BenchPath(
            "gemini-api",
            f"Gemini API frontend → OpenAI chat ({MODELS['openai']}, two tools); direct: OpenAI chat",
            _side(
                f"/v1beta/models/{MODELS['openai']}:generateContent",
                _gemini(),
                GEMINI_OK,
                _gemini_text,
                b'"promptTokenCount":42,',
                "gemini",
                f"/v1beta/models/{MODELS['openai']}:streamGenerateContent?alt=sse",
            ),
            _OPENAI_DIRECT,
            base=False,
        ),
        # The same request at Vertex AI's paths (google-genai with `vertexai=True`): the Gemini API frontend's
        # handlers behind Vertex's URL, judged against the Gemini API door.
        BenchPath(
            "vertex-door",
            f"Vertex AI's generateContent door → OpenAI chat ({MODELS['openai']}, two tools); direct: OpenAI chat",
            _side(
                f"{_VERTEX_DOOR}:generateContent",
                _gemini(),
                GEMINI_OK,
                _gemini_text,
                b'"promptTokenCount":42,',
                "gemini",
                f"{_VERTEX_DOOR}:streamGenerateContent?alt=sse",
            ),
            _OPENAI_DIRECT,
            base=False,
        ),
        # Bedrock's Converse frontend translated onto the same OpenAI model: judged against the Gemini API door's
        # path (gemini-api) in the same run. Its stream (`converse-stream`, the same body) is an AWS event stream.
        BenchPath(
            "converse",
            f"Bedrock Converse frontend → OpenAI chat ({MODELS['openai']}, two tools); direct: OpenAI chat",
            _side(
                f"/model/{MODELS['openai']}/converse",
                _converse(),
                CONVERSE_OK,
                _converse_text,
                b'"inputTokens":42,',
                "converse",
                f"/model/{MODELS['openai']}/converse-stream",
            ),
            _OPENAI_DIRECT,
            base=False,
        ),
        BenchPath(
            "gemini-native",
            f"Gemini API frontend → Gemini, relayed ({MODELS['gemini']}, two tools); direct: generateContent",
            _GEMINI_DIRECT,
            _GEMINI_DIRECT,
            base=False,
        ),
        BenchPath(
            "messages",
            f"Anthropic Messages frontend → OpenAI chat ({MODELS['openai']}, two tools); direct: OpenAI chat",
            _side(
                "/v1/messages",
                _anthropic(MODELS["openai"]),
                MESSAGE_OK,
                _messages_text,
                b'"input_tokens":42,',
                "anthropic",
            ),
            _OPENAI_DIRECT,
        ),
    )
}


def parse_paths(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if names == ("all",):
        return tuple(PATHS)
    unknown = [name for name in names if name not in PATHS]
    if unknown or not names:
        raise ValueError(f"unknown path(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(PATHS)} or all")
    return names


def answer_problem(side: Side, data: bytes) -> str | None:
    """Whether a whole answer (parsed) carries the fake upstream's text; None when it does."""
    try:
        text = side.text(orjson.loads(data))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, StopIteration) as exc:
        return f"no answer text ({type(exc).__name__}): {data[:300]!r}"
    if text != ANSWER:
        return f"the text differs from the upstream's: {data[:300]!r}"
    if side.marker not in data:
        return f"not the expected upstream's answer (no {side.marker!r}): {data[:300]!r}"
    return None
