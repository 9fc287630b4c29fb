"""Every door that names a model hands the pipeline a model call, and the pipeline conducts each the same way
(pipeline.serve): the caller's key is checked (a wrong one refused), the virtual key's model list applies, a
repeat is answered from the cache where the route caches, admission refuses past the key's rate limit, the
attempt reaches the upstream, and the call is settled in the ledger. One table, one row per frontend family,
each driven by its official client (raw sockets for the Responses WebSocket, as its own tests do)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import anthropic
import httpx
import ollama
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp
from tests.integration.test_audio import FILE

MASTER = "master-key-of-the-conductor-test-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
WRONG = "bg-not-a-key-of-this-gateway"
TIMEOUT = 10
# Opts every request into the cache (response_cache.py): routes that cache then answer a repeat from it.
CACHE = {"x-babelgate-cache-ttl": "60"}
# The SDK's sync client opens its socket without the context manager websockets 17 prefers.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@dataclass(frozen=True)
class Seen:
    """What one request came back with: its status, and the cache's header (None where there is none)."""

    status: int
    cache: str | None = None


def _openai(gateway: RunningApp, key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=TIMEOUT, default_headers=CACHE
    )


def _openai_seen(request: Callable[[openai.OpenAI], Any], gateway: RunningApp, key: str) -> Seen:
    with _openai(gateway, key) as client:
        try:
            raw = request(client)
        except openai.APIStatusError as error:
            return Seen(error.status_code)
    return Seen(raw.status_code, raw.headers.get("x-babelgate-cache"))


def chat(gateway: RunningApp, key: str, word: str) -> Seen:
    return _openai_seen(
        lambda c: c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": word}]
        ),
        gateway,
        key,
    )


def completions(gateway: RunningApp, key: str, word: str) -> Seen:
    return _openai_seen(
        lambda c: c.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt=word), gateway, key
    )


def embeddings(gateway: RunningApp, key: str, word: str) -> Seen:
    return _openai_seen(
        lambda c: c.embeddings.with_raw_response.create(model="text-embedding-3-small", input=word), gateway, key
    )


def images(gateway: RunningApp, key: str, word: str) -> Seen:
    return _openai_seen(lambda c: c.images.with_raw_response.generate(model="gpt-image-1", prompt=word), gateway, key)


def audio(gateway: RunningApp, key: str, word: str) -> Seen:
    return _openai_seen(
        lambda c: c.audio.transcriptions.with_raw_response.create(model="whisper-1", file=FILE, prompt=word),
        gateway,
        key,
    )


def responses(gateway: RunningApp, key: str, word: str) -> Seen:
    return _openai_seen(lambda c: c.responses.with_raw_response.create(model="gpt-4o-mini", input=word), gateway, key)


def responses_websocket(gateway: RunningApp, key: str, word: str) -> Seen:
    """One response on a connection of its own: an `error` event's status, else 200 once it completed."""
    url = gateway.url.replace("http://", "ws://") + "/v1/responses"
    headers = {"Authorization": f"Bearer {key}", **CACHE}
    with connect(url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
        # A key refused at connect gets its `error` event and the close at once, maybe before this is sent.
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps({"type": "response.create", "model": "gpt-4o-mini", "input": word}))
        while True:
            event = json.loads(ws.recv(timeout=TIMEOUT))
            if event["type"] == "error":
                return Seen(event["status"])
            if event["type"] == "response.completed":
                return Seen(200)


def _anthropic_seen(
    client: anthropic.Anthropic | anthropic.AnthropicBedrock | anthropic.AnthropicVertex, word: str
) -> Seen:
    with client:
        try:
            raw = client.messages.with_raw_response.create(
                model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": word}]
            )
        except anthropic.APIStatusError as error:
            return Seen(error.status_code)
    return Seen(raw.status_code, raw.headers.get("x-babelgate-cache"))


def messages(gateway: RunningApp, key: str, word: str) -> Seen:
    client = anthropic.Anthropic(
        base_url=gateway.url, api_key=key, max_retries=0, timeout=TIMEOUT, default_headers=CACHE
    )
    return _anthropic_seen(client, word)


def bedrock(gateway: RunningApp, key: str, word: str) -> Seen:
    client = anthropic.AnthropicBedrock(
        base_url=gateway.url, api_key=key, aws_region="us-east-1", max_retries=0, timeout=TIMEOUT, default_headers=CACHE
    )
    return _anthropic_seen(client, word)


def vertex(gateway: RunningApp, key: str, word: str) -> Seen:
    client = anthropic.AnthropicVertex(
        base_url=gateway.url + "/v1",
        region="us-east5",
        project_id="babelgate-test",
        access_token=key,
        max_retries=0,
        timeout=TIMEOUT,
        default_headers=CACHE,
    )
    return _anthropic_seen(client, word)


def gemini(gateway: RunningApp, key: str, word: str) -> Seen:
    options = gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=TIMEOUT * 1000, headers=CACHE)
    with genai.Client(api_key=key, http_options=options) as client:
        try:
            answer = client.models.generate_content(model="gpt-4o-mini", contents=word)
        except genai_errors.APIError as error:
            return Seen(error.code)
    assert answer.sdk_http_response is not None and answer.sdk_http_response.headers is not None
    return Seen(200, answer.sdk_http_response.headers.get("x-babelgate-cache"))


def ollama_chat(gateway: RunningApp, key: str, word: str) -> Seen:
    headers = {"Authorization": f"Bearer {key}", **CACHE}
    with ollama.Client(host=gateway.url, timeout=TIMEOUT, headers=headers) as client:
        try:
            client.chat(model="gpt-4o-mini", messages=[{"role": "user", "content": word}], stream=False)
        except ollama.ResponseError as error:
            return Seen(error.status_code)
    return Seen(200)


@dataclass(frozen=True)
class Door:
    ask: Callable[[RunningApp, str, str], Seen]  # (gateway, key, a word that makes the request its own)
    model: str  # what the caller's key may use
    route: str  # the ledger's name for the route of a success
    caches: bool  # a repeat is answered from the cache (the route hands the pipeline its body's bytes)
    usage: bool = True  # the upstream's answer reports tokens (a transcription by whisper-1 does not)
    refusals: frozenset[int] = frozenset({401, 403, 429})  # the refusals the ledger keeps under `route`


# Where the path names the model and its method (`{model}:generateContent`, `/model/{id}/invoke`), a wrong key is
# refused before the method is read: its row is under the door's name (`gemini`), not the method's.
ON_THE_METHOD: Final = frozenset({403, 429})
DOORS = {
    "openai chat": Door(chat, "gpt-4o-mini", "chat.completions", caches=True),
    "openai completions": Door(completions, "gpt-3.5-turbo-instruct", "completions", caches=True),
    "openai embeddings": Door(embeddings, "text-embedding-3-small", "embeddings", caches=True),
    "openai images": Door(images, "gpt-image-1", "images.generations", caches=False),
    "openai audio": Door(audio, "whisper-1", "audio.transcriptions", caches=False, usage=False),
    "responses http": Door(responses, "gpt-4o-mini", "responses.create", caches=False),
    # A key is checked once, when the socket connects: a wrong one is no response, and no ledger row.
    "responses websocket": Door(
        responses_websocket, "gpt-4o-mini", "responses.websocket", caches=False, refusals=ON_THE_METHOD
    ),
    "anthropic messages": Door(messages, "gpt-4o-mini", "messages.create", caches=True),
    "bedrock invoke": Door(bedrock, "gpt-4o-mini", "bedrock.invoke", caches=True, refusals=ON_THE_METHOD),
    "vertex raw predict": Door(vertex, "gpt-4o-mini", "vertex.raw_predict", caches=True, refusals=ON_THE_METHOD),
    "gemini api": Door(gemini, "gpt-4o-mini", "gemini.generateContent", caches=True, refusals=ON_THE_METHOD),
    "ollama": Door(ollama_chat, "gpt-4o-mini", "ollama.chat", caches=False),
}


def _upstream_calls(upstream: FakeOpenAI) -> int:
    """The model calls that reached the upstream (its model listings left out)."""
    return len([r for r in upstream.received if r.method == "POST"])


def _admin(gateway: RunningApp, method: str, path: str, body: Any = None) -> Any:
    with httpx.Client(timeout=TIMEOUT) as client:
        answer = client.request(method, gateway.url + path, json=body, headers=ADMIN)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_each_door_s_model_call_is_conducted_the_same_way(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, door: Door, no_aws_environment: None
) -> None:
    gateway = make_gateway(env={"BABELGATE_MASTER_KEY": MASTER})
    elsewhere = _admin(gateway, "POST", "/admin/keys", {"models": ["some-other-model"]})["key"]
    limited = _admin(gateway, "POST", "/admin/keys", {"models": [door.model], "rpm": 1})["key"]

    assert door.ask(gateway, WRONG, "a").status == 401  # the access check
    assert door.ask(gateway, elsewhere, "a").status == 403  # the key's model list
    assert _upstream_calls(upstream) == 0

    first = door.ask(gateway, limited, "a")
    assert first.status == 200 and _upstream_calls(upstream) == 1  # the attempt reached the upstream
    again = door.ask(gateway, limited, "a")
    if door.caches:
        assert first.cache == "miss" and again == Seen(200, "hit")  # the cache answers before admission
        assert door.ask(gateway, limited, "b").status == 429  # admission: the key's one request a minute is used
    else:
        assert again.status == 429
    assert _upstream_calls(upstream) == 1

    # Settled: the ledger has the success (with its usage) and each refusal.
    rows = _admin(gateway, "GET", "/admin/usage?group_by=route,status")["data"]
    by_status = {row["status"]: row for row in rows if row["route"] == door.route}
    success = by_status.pop(200)
    assert success["requests"] == (2 if door.caches else 1) and success["cache_hits"] == (1 if door.caches else 0)
    assert success["prompt_tokens"] > 0 or not door.usage
    assert by_status.keys() == door.refusals, rows
