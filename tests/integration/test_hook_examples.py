"""The stream-watching hook example of docs/library.md, run as it is written there, behind the
official clients (the tenant and redaction examples: test_library_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openai
import pytest

from babelgate.frontends.openai_chat import routes as chat_completions
from babelgate.hooks import Hook
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.ollama_helpers import ollama_client
from tests.integration.test_virtual_keys import MASTER, _create

LIBRARY = Path(__file__).resolve().parents[2] / "docs" / "library.md"
USER = [{"role": "user", "content": "Hi"}]


def example(name: str) -> Hook:
    """The one hook the example's code block gives `create_app`."""
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", LIBRARY.read_text(), re.S)
    assert match is not None, f"no example {name!r} in docs/library.md"
    namespace: dict[str, Any] = {"config": None, "create_app": lambda config, hooks: list(hooks)}
    exec(compile(match.group(1), f"docs/library.md ({name})", "exec"), namespace)
    (hook,) = namespace["app"]
    assert isinstance(hook, Hook)
    return hook


def test_the_stream_timer_example_times_each_stream_once_by_tenant(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def typed_road(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the example took chat off the byte-forwarding fast path")

    timer = example("first-piece-timer")
    assert not timer.needs_typed_request and timer.observes_chunks
    monkeypatch.setattr(chat_completions, "request_from_wire", typed_road)
    gateway = make_gateway(env={"BABELGATE_MASTER_KEY": MASTER}, hooks=(timer,))
    search = _create(gateway, team="search")["key"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=search, max_retries=0, timeout=60) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "Hi"}]
        )
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "Hello!"
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])  # no stream
    with ollama_client(gateway, headers={"authorization": f"Bearer {search}"}) as ollama:
        assert (
            "".join(part.message.content or "" for part in ollama.chat(model="gpt-4o-mini", messages=USER, stream=True))
            == "Hello!"
        )
    seconds = timer.seconds  # type: ignore[attr-defined]
    assert list(seconds) == ["search"] and len(seconds["search"]) == 2  # one per stream, none for the answer
    assert all(0 < value < 5 for value in seconds["search"])
