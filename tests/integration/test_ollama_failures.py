"""Failures on Ollama's API: every error is Ollama's `{"error": "…"}` (in the client's language, with the
gateway's status), an upstream failure before the first line is an HTTP error, one after it the stream's last
line; and the hooks and accounting see Ollama requests like any other."""

from __future__ import annotations

import httpx
import ollama
import pytest

from babelgate.hooks import Completion, Hook, RequestContext
from babelgate.schema.chat import ChatRequest, Message
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, chunk, text_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.integration.ollama_helpers import get, last_json, ollama_client, post, stream
from tests.ollama_spec import assert_valid, assert_valid_stream
from tests.waiting import eventually

USER = {"role": "user", "content": "Hi"}


def test_unknown_model_is_404_streamed_or_not(gateway: RunningApp) -> None:
    with ollama_client(gateway) as client:
        for streamed in (True, False):
            with pytest.raises(ollama.ResponseError) as caught:
                result = client.chat(model="llama9", messages=[USER], stream=streamed)
                list(result) if streamed else None  # type: ignore[call-overload]
            assert caught.value.status_code == 404 and "llama9" in caught.value.error
    response = post(gateway, "/api/chat", {"model": "llama9", "messages": [USER]})
    assert response.headers["content-type"] == "application/json"
    assert_valid(response.json(), "error")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"model": "gpt-4o-mini", "messages": [{"content": "Hi"}]}', "messages[0].role"),
        # Roles that are not strings, hashable or not (a list once reached a set lookup: a 500).
        (b'{"model": "gpt-4o-mini", "messages": [{"role": ["user"], "content": "Hi"}]}', "messages[0].role"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": {"a": 1}, "content": "Hi"}]}', "messages[0].role"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": 7, "content": "Hi"}]}', "messages[0].role"),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "options": {"top_k": "x"}}',
            "options.top_k",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x", "images": ["%%%"]}]}',
            "messages[0].images[0]",
        ),
    ],
)
def test_bad_bodies_are_400_in_ollamas_format(gateway: RunningApp, body: bytes, fragment: str) -> None:
    response = post(gateway, "/api/chat", None, content=body)
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and fragment in response.json()["error"]


def test_errors_speak_the_clients_language(gateway: RunningApp) -> None:
    english = post(gateway, "/api/chat", {"model": 3})
    german = post(gateway, "/api/chat", {"model": 3}, headers={"Accept-Language": "de-DE"})
    assert german.status_code == english.status_code == 400
    assert german.json()["error"] != english.json()["error"]


def test_wrong_method_is_405_in_ollamas_format(gateway: RunningApp) -> None:
    response = get(gateway, "/api/chat")
    assert response.status_code == 405
    assert_valid(response.json(), "error")


def test_upstream_failure_before_the_stream_is_an_http_error(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=429,
            json={"error": {"message": "slow down", "type": "rate_limit_error"}},
            headers={"Retry-After": "7"},
        )
    )
    response = post(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER]})
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")
    assert_valid(response.json(), "error")
    upstream.script(Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    with ollama_client(gateway) as client, pytest.raises(ollama.ResponseError) as caught:
        list(client.chat(model="gpt-4o-mini", messages=[USER], stream=True))
    assert caught.value.status_code == 502


def test_upstream_failure_mid_stream_is_the_last_line(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=text_stream(["a", "b", "c", "d"]), drop_after=3))  # type: ignore[arg-type]
    response, objects = stream(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER]})
    assert response.status_code == 200
    assert_valid_stream(objects, "chat_stream")
    assert [item.get("message", {}).get("content") for item in objects[:-1]] == ["a", "b"]
    assert set(objects[-1]) == {"error"}
    upstream.script(
        Reply(
            stream=[
                chunk({"role": "assistant", "content": "x"}),
                {"error": {"message": "overloaded", "type": "server_error"}},
            ]
        )
    )
    with ollama_client(gateway) as client, pytest.raises(ollama.ResponseError) as caught:
        list(client.generate(model="gpt-4o-mini", prompt="Hi", stream=True))
    assert "overloaded" in caught.value.error


def test_malformed_streamed_tool_arguments_end_the_stream_with_an_error(
    gateway: RunningApp, upstream: FakeOpenAI
) -> None:
    upstream.script(
        Reply(
            stream=[
                chunk({"role": "assistant", "content": "Checking."}),
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"cut'},
                            }
                        ]
                    }
                ),
                chunk({}, finish_reason="tool_calls"),
            ]
        )
    )
    _, objects = stream(gateway, "/api/chat", {"model": "gpt-4o-mini", "messages": [USER]})
    assert objects[0]["message"]["content"] == "Checking."
    assert "JSON object" in objects[-1]["error"]


def test_embeddings_on_a_provider_that_has_none_is_a_clear_400(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": "sk-ant-unused", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    for path, body in (
        ("/api/embed", {"model": "claude-sonnet-4-5", "input": "x"}),
        ("/api/embeddings", {"model": "claude-sonnet-4-5", "prompt": "x"}),
    ):
        response = post(gateway, path, body)
        assert response.status_code == 400
        assert response.json() == {"error": "Provider 'anthropic' does not support embeddings."}


class Recorder(Hook):
    def __init__(self) -> None:
        self.seen: list[ChatRequest] = []
        self.completions: list[tuple[RequestContext, Completion]] = []

    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        self.seen.append(request)
        request.messages.insert(0, Message(role="system", content="Be kind."))
        return request

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append((context, completion))


def test_hooks_and_accounting_see_ollama_requests(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    hook = Recorder()
    gateway = make_gateway(hooks=(hook,))
    with ollama_client(gateway) as client:
        list(client.chat(model="gpt-4o-mini", messages=[USER], stream=True))
        client.generate(model="gpt-4o-mini", prompt="Hi", stream=False)
    assert last_json(upstream, "/chat/completions")["messages"][0] == {"role": "system", "content": "Be kind."}
    assert eventually(lambda: len(hook.completions) == 2)
    [(chat_context, chat_done), (generate_context, generate_done)] = hook.completions
    assert (chat_context.route, chat_context.stream, chat_context.provider) == ("ollama.chat", True, "openai")
    assert (generate_context.route, generate_context.stream) == ("ollama.generate", False)
    assert chat_done.status == 200 and chat_done.usage is not None and chat_done.usage.completion_tokens == 3
    assert generate_done.finish_reason == "stop"
    metrics = get(gateway, "/metrics").text
    assert 'route="ollama.chat"' in metrics and 'route="ollama.generate"' in metrics


def test_unknown_api_routes_answer_in_ollamas_format(gateway: RunningApp) -> None:
    response = httpx.post(gateway.url + "/api/pull", json={"model": "x"}, timeout=10)
    assert response.status_code == 404 and response.json() == {"error": "There is no route POST /api/pull."}
