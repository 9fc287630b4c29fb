"""A logged request's capture made into its Exchange (conversation/build.py) and who the log covers
(conversation/log.py): content cut at max_bytes, values a reversible mask gave back masked again, an answer that
does not parse still logged, secrets scrubbed from the stored row."""

from __future__ import annotations

from typing import Any

import orjson

from babelgate.config.content import ContentLogConfig
from babelgate.conversation.build import STATS, build
from babelgate.conversation.log import ConversationLog
from babelgate.conversation.store_log import row_of
from babelgate.frontends.openai_chat.conversation import CODEC
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.guardrails.masking import Vault
from babelgate.observability.logging import Scrubber
from babelgate.pipeline import Body

STATS_VALUES: dict[str, Any] = {
    "request_id": "req_1",
    "started": 1.0,
    "route": "chat.completions",
    "model": "gpt",
    "provider": "openai",
    "upstream_model": "gpt-4o",
    "status": 200,
    "stream": False,
    "elapsed": 0.5,
    "ttft": None,
    "error_code": None,
    "key_id": "k",
    "team": "t",
    "user": "u",
    "end_user": None,
    "session": None,
    "prompt_tokens": 3,
    "completion_tokens": 4,
    "cost": 0.01,
    "guardrails": {"emails": "mask"},
}


def capture(document: Any, answer: list[bytes], *, cut: bool = False, hide: Any = None) -> tuple[Any, ...]:
    return (CODEC, document, answer, cut, hide, *(STATS_VALUES[name] for name in STATS))


def chat(text: str) -> bytes:
    return orjson.dumps(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    )


def test_the_stats_and_the_messages() -> None:
    body = Body(orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}))
    body.take()  # an attempt took the parsed body: its bytes are still what was sent
    exchange = build(capture(body, [chat("hello")]), 1024)
    assert exchange.request_id == "req_1" and exchange.cost == 0.01 and exchange.guardrails == {"emails": "mask"}
    assert exchange.input == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert exchange.output == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}
    ]
    assert exchange.truncated is False


def test_content_is_cut_at_max_bytes() -> None:
    document = {"messages": [{"role": "system", "content": "s" * 100}, {"role": "user", "content": "u" * 2000}]}
    exchange = build(capture(document, [chat("a" * 500)]), 1024)
    assert exchange.system == [{"type": "text", "content": "s" * 100}]
    assert exchange.input[0]["parts"] == [{"type": "text", "content": "u" * 924}]
    assert exchange.output[0]["parts"] == [] and exchange.truncated is True
    assert build(capture(document, [chat("a")], cut=True), 10_000).truncated is True  # the answer's copy was cut


def test_reversibly_masked_values_are_masked_again_and_a_broken_answer_is_still_logged() -> None:
    vault = Vault()
    placeholder = vault.placeholder("email", "ada@example.com")
    document = {"messages": [{"role": "user", "content": f"mail {placeholder}"}]}
    exchange = build(capture(document, [chat("wrote to ada@example.com")], hide=vault.hide), 4096)
    assert exchange.output[0]["parts"] == [{"type": "text", "content": f"wrote to {placeholder}"}]
    broken = build(capture(document, [b'{"choices": [{"index": 0, "message": {"content": "cut'], hide=None), 4096)
    assert broken.input == exchange.input and broken.output == []


def test_the_stored_row_is_scrubbed() -> None:
    secret = "sk-upstream-secret-value-0123456789"
    document = {"messages": [{"role": "user", "content": f"my key is {secret}"}]}
    exchange = build(capture(document, [chat(f"echo {secret}")]), 4096)
    row = row_of(exchange, Scrubber([secret]))
    assert secret not in "".join(str(value) for value in row)
    assert orjson.loads(row[6])["preview"].startswith("my key is ")


def test_who_the_log_covers() -> None:
    everyone = ConversationLog(ContentLogConfig(enabled=True), [])
    assert everyone.covers(None, None) and everyone.covers("k", None)
    named = ConversationLog(ContentLogConfig(enabled=True, keys=("k1",), teams=("search",)), [])
    assert named.covers("k1", None)
    assert named.covers("k2", VirtualKey(id="k2", salt="", digest="", created_at=0, team="search"))
    assert not named.covers("k2", VirtualKey(id="k2", salt="", digest="", created_at=0, team="ads"))
    assert not named.covers(None, None)


def test_the_queue_is_bounded_and_drops_the_oldest() -> None:
    counted: list[None] = []
    queue = ConversationLog(ContentLogConfig(enabled=True), [], limit=2, count_drop=lambda: counted.append(None))
    for number in range(3):  # no running loop: nothing is built, the queue only fills
        queue.capture(capture({"messages": [{"role": "user", "content": str(number)}]}, []))
    assert queue.dropped == 1 and len(counted) == 1  # the metric's count too
    built = [build(captured, 1024).input[0]["parts"][0]["content"] for captured in queue._queue]
    assert built == ["1", "2"]
