"""A fake OpenAI-compatible upstream on 127.0.0.1, scriptable per test.

It answers in OpenAI's wire format (the shapes of `openai.types.chat.ChatCompletion` and
`ChatCompletionChunk`; `tests/fakes/test_openai_upstream.py` checks that with the SDK's own
types), records what it received, and can be told to fail: an error status with a body and
headers, a slow first byte, a stream that stalls or breaks mid-way, garbage.

It also serves the legacy `/v1/completions` (and DeepSeek's `/beta/completions`), checking each
request against the spec's `CreateCompletionRequest` and answering `text_completion` objects, JSON
or SSE, the way OpenAI does (`echo`, `n`, list prompts and `logprobs` included).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import orjson
from aiohttp import web

from tests.fakes import images, openai_audio
from tests.fakes.openai_batches import BatchApi
from tests.fakes.openai_spec import spec_violations
from tests.fakes.scripted import Received, Reply, ScriptedStreams


def completion(
    text: str | None = "Hello!",
    *,
    model: str = "gpt-4o-mini",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    **message_fields: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, **message_fields}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": usage
        or {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": "fp_fake",
    }


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chunk(
    delta: dict[str, Any], *, finish_reason: str | None = None, model: str = "gpt-4o-mini", usage: bool = False
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage:
        payload["usage"] = None
    return payload


def usage_chunk(prompt: int = 9, completion_tokens: int = 3, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


def text_stream(pieces: list[str], *, include_usage: bool = False) -> list[dict[str, Any]]:
    events = [chunk({"role": "assistant", "content": ""}, usage=include_usage)]
    events += [chunk({"content": piece}, usage=include_usage) for piece in pieces]
    events.append(chunk({}, finish_reason="stop", usage=include_usage))
    if include_usage:
        events.append(usage_chunk())
    return events


def tool_call_stream(calls: list[tuple[str, str, list[str]]]) -> list[dict[str, Any]]:
    """Streamed tool calls as OpenAI sends them: id/name on the first fragment of each call."""
    events = [chunk({"role": "assistant", "content": None})]
    for index, (call_id, name, fragments) in enumerate(calls):
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                    ]
                }
            )
        )
        for fragment in fragments:
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    events.append(chunk({}, finish_reason="tool_calls"))
    return events


def text_completion(
    texts: str | list[str] = "Hello!",
    *,
    model: str = "gpt-3.5-turbo-instruct",
    finish_reason: str = "stop",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A legacy `text_completion` object (OAI `CreateCompletionResponse`), one choice per text."""
    texts = [texts] if isinstance(texts, str) else texts
    return {
        "id": "cmpl-fake123",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
            for index, text in enumerate(texts)
        ],
        "usage": usage or {"prompt_tokens": 5, "completion_tokens": 2 * len(texts), "total_tokens": 5 + 2 * len(texts)},
    }


def completion_chunk(
    text: str,
    *,
    index: int = 0,
    finish_reason: str | None = None,
    model: str = "gpt-3.5-turbo-instruct",
    usage: bool = False,
) -> dict[str, Any]:
    """One streamed legacy completion chunk: the same shape as the whole answer, with a text delta."""
    payload: dict[str, Any] = {
        "id": "cmpl-fake123",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage:
        payload["usage"] = None
    return payload


def completion_stream(
    pieces: list[str], *, choices: int = 1, include_usage: bool = False, finish_reason: str = "stop"
) -> list[dict[str, Any]]:
    events = [completion_chunk(piece, index=index, usage=include_usage) for piece in pieces for index in range(choices)]
    events += [
        completion_chunk("", index=index, finish_reason=finish_reason, usage=include_usage) for index in range(choices)
    ]
    if include_usage:
        events.append(
            {
                "id": "cmpl-fake123",
                "object": "text_completion",
                "created": 1_700_000_000,
                "model": "gpt-3.5-turbo-instruct",
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            }
        )
    return events


def _prompts(prompt: Any) -> list[str | list[int]]:
    """A legacy `prompt` as its list of prompts (a token array is one prompt)."""
    if prompt is None or isinstance(prompt, str):
        return [prompt or ""]
    if prompt and all(isinstance(item, int) for item in prompt):
        return [prompt]
    return list(prompt)


def _default_text(prompt: int, choice: int) -> str:
    return "Hello!" if (prompt, choice) == (0, 0) else f"Hello {prompt}.{choice}!"


def _logprobs(text: str, offset: int, top: int) -> dict[str, Any]:
    """Legacy log probabilities for `text` taken as one token."""
    return {
        "tokens": [text],
        "token_logprobs": [-0.25],
        "top_logprobs": [{text: -0.25} if top else {}],
        "text_offset": [offset],
    }


# Sampling fields of other APIs that OpenAI's chat endpoint refuses outright (its spec leaves extra fields
# open, so the spec check alone would let them through).
UNRECOGNIZED: Final = ("top_k",)


def _unrecognized(body: Any) -> web.Response | None:
    """OpenAI's 400 for a field it does not know, in its words."""
    found = next((name for name in UNRECOGNIZED if isinstance(body, dict) and name in body), None)
    if found is None:
        return None
    error = {
        "message": f"Unrecognized request argument supplied: {found}",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    return web.json_response({"error": error}, status=400)


class FakeOpenAI(ScriptedStreams):
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        # What the gateway sent that the official spec would refuse; the tests' fixture fails on any.
        self.spec_violations: list[str] = []
        self.models: list[dict[str, Any]] = [
            {"id": "gpt-4o-mini", "object": "model", "created": 1_700_000_000, "owned_by": "system"},
            {"id": "gpt-4o", "object": "model", "created": 1_700_000_000, "owned_by": "system"},
        ]
        self.models_status = 200
        self.stream_closed_at: float | None = None
        # Answers chat requests when nothing is scripted (scripted replies are taken in arrival
        # order, which concurrent requests do not fix); None: the default "Hello!".
        self.chat_responder: Callable[[dict[str, Any]], Reply] | None = None
        # Chat answers wait here until every party is in: a test that needs requests in flight together
        # (on one fake or several sharing it) gets exactly that, where a delay only makes it likely.
        self.chat_barrier: asyncio.Barrier | None = None
        self.batch_api = BatchApi(self)  # /v1/files and /v1/batches
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self.replies.clear()
        self.responder = None
        self.received.clear()
        self.spec_violations.clear()
        self.stream_closed_at = None
        self.models_status = 200
        self.chat_responder = None
        self.chat_barrier = None
        self.batch_api.reset()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)  # OpenAI's own Responses API (native road)
        app.router.add_post("/v1/responses/input_tokens", self._input_tokens)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/images/generations", functools.partial(images.openai_generations, self))
        app.router.add_post("/v1/images/edits", functools.partial(images.openai_edits, self))
        app.router.add_post("/v1/completions", self._completions)  # the legacy API (native road)
        app.router.add_post("/beta/completions", self._completions)  # DeepSeek's FIM beta
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/api/tags", self._tags)  # Ollama's native listing
        openai_audio.mount(self, app)  # /v1/audio/transcriptions, /translations, /speech
        self.batch_api.mount(app, "/v1")
        await self.serve(app)

    async def _models(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.method, request.path, dict(request.headers), None))
        if self.models_status != 200:
            return web.json_response({"error": {"message": "nope", "type": "server_error"}}, status=self.models_status)
        return web.json_response({"object": "list", "data": self.models})

    async def _tags(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.method, request.path, dict(request.headers), None))
        return web.json_response(
            {
                "models": [
                    {
                        "name": "llama3.2:latest",
                        "model": "llama3.2:latest",
                        "modified_at": "2025-01-01T00:00:00Z",
                        "size": 2019393189,
                        "digest": "a80c4f17acd5",
                        "details": {"family": "llama"},
                    }
                ]
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        self.spec_violations += spec_violations(body)
        refused = _unrecognized(body)
        if refused is not None:
            return refused
        reply = self.next_reply(body, request.path)
        if reply is None:
            reply = self.chat_responder(body) if self.chat_responder is not None else self._default(body)
        if self.chat_barrier is not None:
            await asyncio.wait_for(self.chat_barrier.wait(), 20)  # bounded: a party that never comes fails the test
        return await self._answer(request, reply)

    async def _answer(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        """A reply as chat and legacy completions send it: JSON, or SSE frames ending in `[DONE]`."""
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        if reply.stream is None:
            data = reply.body if reply.body is not None else orjson.dumps(reply.json)
            return web.Response(
                status=reply.status,
                body=data,
                headers=reply.headers,
                content_type="application/json" if reply.body is None else None,
            )
        return await self.write_stream(
            request,
            reply,
            frame=lambda event: b"data: " + orjson.dumps(event) + b"\n\n",
            headers={"Content-Type": "text/event-stream"},
            done_frame=b"data: [DONE]\n\n",
        )

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        """Scripted replies first; by default one choice per prompt and `n` ("Hello!" for the first,
        "Hello p.i!" for the others), honouring `echo`, `logprobs`, `stream` and `include_usage`."""
        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        self.spec_violations += spec_violations(body, "CreateCompletionRequest")
        reply = self.replies.popleft() if self.replies else self._default_completion(body)
        return await self._answer(request, reply)

    def _default_completion(self, body: dict[str, Any]) -> Reply:
        prompts, n, model = _prompts(body.get("prompt")), body.get("n") or 1, body.get("model", "")
        echo, top = body.get("echo") is True, body.get("logprobs")
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        choices: list[dict[str, Any]] = []
        for number, prompt in enumerate(prompts):
            echoed = prompt if echo and isinstance(prompt, str) else ""
            for index in range(n):
                text = _default_text(number, index)
                choices.append(
                    {
                        "text": echoed + text,
                        "index": number * n + index,
                        "logprobs": _logprobs(text, len(echoed), top) if top is not None else None,
                        "finish_reason": "stop",
                    }
                )
        usage = {
            "prompt_tokens": 5 * len(prompts),
            "completion_tokens": 2 * len(choices),
            "total_tokens": 5 * len(prompts) + 2 * len(choices),
        }
        if not body.get("stream"):
            return Reply(
                json={
                    "id": "cmpl-fake123",
                    "object": "text_completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": choices,
                    "usage": usage,
                }
            )
        events: list[dict[str, Any] | bytes] = []
        for choice in choices:  # each choice's text in two pieces, then its end
            text, index = choice["text"], choice["index"]
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                events.append(completion_chunk(piece, index=index, model=model, usage=include))
            events.append(completion_chunk("", index=index, finish_reason="stop", model=model, usage=include))
        if include:
            events.append(
                {
                    "id": "cmpl-fake123",
                    "object": "text_completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        return Reply(stream=events)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        """Replies must be scripted: the native road relays whatever OpenAI says, byte for byte."""
        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        self.spec_violations += spec_violations(body, "CreateResponse")
        reply = self.replies.popleft()
        if reply.stream is None:
            return web.Response(status=reply.status, body=orjson.dumps(reply.json), content_type="application/json")
        return await self.write_stream(
            request,
            reply,
            headers={"Content-Type": "text/event-stream"},
            frame=lambda event: b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n",
        )

    async def _input_tokens(self, request: web.Request) -> web.Response:
        """`{"object": "response.input_tokens", "input_tokens": n}`, n the words of the body's texts; the body's
        fields checked against the SDK's `InputTokenCountParams`."""
        from openai.types.responses import InputTokenCountParams

        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        self.spec_violations += [
            f"input_tokens: unknown field {name}" for name in body if name not in InputTokenCountParams.__annotations__
        ]
        words = len(orjson.dumps(body.get("input")).decode().split())
        return web.json_response({"object": "response.input_tokens", "input_tokens": words})

    async def _embeddings(self, request: web.Request) -> web.Response:
        """Scripted replies first; by default one 3-number vector per input, derived from the input."""
        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        self.spec_violations += spec_violations(body, "CreateEmbeddingRequest")
        if self.replies:
            reply = self.replies.popleft()
            return web.Response(status=reply.status, body=orjson.dumps(reply.json), content_type="application/json")
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": index, "embedding": [float(len(str(text))), 0.5, -0.25]}
            for index, text in enumerate(inputs)
        ]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 2 * len(inputs), "total_tokens": 2 * len(inputs)},
            }
        )

    def _default(self, body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return Reply(stream=text_stream(["Hel", "lo", "!"], include_usage=include))  # type: ignore[arg-type]
        return Reply(json=completion("Hello!", model=body.get("model", "gpt-4o-mini")))
