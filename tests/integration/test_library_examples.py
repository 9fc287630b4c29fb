"""The hook examples of docs/library.md, run as they are written there: a tenant-aware
authentication hook and a personal-data redaction hook, behind the official clients; and the hooks'
view of streams (`on_stream_chunk`) and of usage (`on_complete`) on every road."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from babelgate.hooks import Completion, Hook, RequestContext
from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI, text_stream
from tests.fakes.scripted import Reply
from tests.integration.test_virtual_keys import MASTER, _create

LIBRARY = Path(__file__).resolve().parents[2] / "docs" / "library.md"


def example(name: str) -> list[Hook]:
    """The hooks the example's code block gives `create_app`."""
    text = LIBRARY.read_text()
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert match is not None, f"no example {name!r} in docs/library.md"
    namespace: dict[str, Any] = {"config": None, "create_app": lambda config, hooks: list(hooks)}
    exec(compile(match.group(1), f"docs/library.md ({name})", "exec"), namespace)
    return namespace["app"]  # type: ignore[no-any-return]


def test_the_tenant_example_refuses_what_a_tenant_may_not_use(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(env={"BABELGATE_MASTER_KEY": MASTER}, hooks=tuple(example("tenant-auth")))
    search, ads, stray = (_create(gateway, **fields)["key"] for fields in ({"team": "search"}, {"team": "ads"}, {}))
    chat = {"messages": [{"role": "user", "content": "Hi"}]}
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=search, max_retries=0, timeout=60) as client:
        assert client.chat.completions.create(model="gpt-4o-mini", **chat).choices[0].message.content  # type: ignore[call-overload]
        with pytest.raises(openai.PermissionDeniedError) as refused:
            client.chat.completions.create(model="gpt-4o", **chat)  # type: ignore[call-overload]
    assert refused.value.status_code == 403
    assert "Tenant 'search' may not use model 'gpt-4o'; it may use: gpt-4o-mini." in refused.value.message
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=ads, max_retries=0, timeout=60) as client:
        client.chat.completions.create(model="gpt-4o", **chat)  # type: ignore[call-overload]
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=stray, max_retries=0, timeout=60) as client,
        pytest.raises(openai.PermissionDeniedError, match="no known tenant"),
    ):
        client.chat.completions.create(model="gpt-4o-mini", **chat)  # type: ignore[call-overload]
    # Refused requests never reached the upstream.
    assert [r.json["model"] for r in upstream.received if r.path.endswith("/chat/completions")] == [
        "gpt-4o-mini",
        "gpt-4o",
    ]


def test_the_redaction_example_keeps_personal_data_from_every_provider(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url},
        hooks=tuple(example("pii-redaction")),
    )
    said = "Mail jane.doe+work@example.co.uk or call +33 1 23 45 67 89 about order 42."
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[  # type: ignore[arg-type]
                {"role": "system", "content": "Support desk: write to help@example.com."},
                {"role": "user", "content": [{"type": "text", "text": said}]},
            ],
        )
    sent = upstream.received[-1].json["messages"]
    assert sent[1]["content"][0]["text"] == "Mail [email] or call [phone] about order 42."
    assert sent[0]["content"] == "Support desk: write to help@example.com."  # only what users write
    # An Anthropic client, on a translated road (Messages → OpenAI): the same hook covers it.
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=60) as claude:
        claude.messages.create(model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": said}])
    assert upstream.received[-1].json["messages"][-1]["content"] == "Mail [email] or call [phone] about order 42."
    # The native road (Messages → Claude) relays the body unchanged: no typed request, no redaction,
    # as docs/library.md says.
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=60) as claude:
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": said}])
    assert "jane.doe" in str(anthropic_upstream.received[-1].json["messages"])


class Observer(Hook):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.completions: list[tuple[str, Completion]] = []

    async def on_stream_chunk(self, context: RequestContext, data: bytes) -> None:
        self.chunks.append(data)

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.completions.append((context.route, completion))


class Broken(Hook):
    async def on_stream_chunk(self, context: RequestContext, data: bytes) -> None:
        raise RuntimeError("a hook's own bug")


def test_stream_chunks_are_seen_as_they_go_and_a_failing_hook_breaks_nothing(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    observer = Observer()
    gateway = make_gateway(hooks=(Broken(), observer))
    upstream.script(Reply(stream=text_stream(["Hel", "lo"], include_usage=True)))
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert answer.status_code == 200
    assert b"".join(observer.chunks) == answer.content  # every byte the client got, in order
    assert any(b'"Hel"' in chunk for chunk in observer.chunks)
    assert upstream.received[-1].json.get("stream") is True  # still the byte-forwarding road


ROADS: list[tuple[str, str, dict[str, Any]]] = [
    ("chat", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}),
    (
        "chat stream",
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
    ),
    ("responses", "/v1/responses", {"model": "gpt-4o-mini", "input": "Hi", "store": False}),
    ("responses stream", "/v1/responses", {"model": "gpt-4o-mini", "input": "Hi", "stream": True, "store": False}),
    (
        "messages",
        "/v1/messages",
        {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]},
    ),
    ("completions", "/v1/completions", {"model": "gpt-4o-mini", "prompt": "Hi"}),
    ("embeddings", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "Hi"}),
    (
        "ollama chat",
        "/api/chat",
        {"model": "gpt-4o-mini", "stream": False, "messages": [{"role": "user", "content": "Hi"}]},
    ),
    ("ollama stream", "/api/chat", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}),
]


@pytest.mark.parametrize(("road", "path", "body"), ROADS, ids=[road for road, _, _ in ROADS])
def test_on_complete_has_the_usage_on_every_road(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, road: str, path: str, body: dict[str, Any]
) -> None:
    observer = Observer()
    gateway = make_gateway(hooks=(observer,))
    if body.get("stream") is True or road == "ollama stream":
        upstream.script(Reply(stream=text_stream(["Hel", "lo"], include_usage=True)))
    answer = httpx.post(gateway.url + path, json=body, headers={"anthropic-version": "2023-06-01"})
    assert answer.status_code == 200, answer.text
    deadline = 50
    while not observer.completions and deadline:
        deadline -= 1
        httpx.get(gateway.url + "/health")  # on_complete runs after the answer is out
    ((_, completion),) = observer.completions
    assert completion.status == 200 and completion.usage is not None
    assert completion.usage.prompt_tokens > 0, road
