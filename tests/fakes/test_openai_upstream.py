"""Self-test of the fake: what it sends must parse with the official SDK's own response types."""

from __future__ import annotations

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fakes.openai_upstream import completion, text_stream, tool_call, tool_call_stream


def test_fake_completions_are_valid_sdk_objects() -> None:
    plain = ChatCompletion.model_validate(completion("Hi"))
    assert plain.choices[0].message.content == "Hi"
    tools = ChatCompletion.model_validate(completion(None, tool_calls=[tool_call("c", "f", "{}")]))
    assert tools.choices[0].finish_reason == "tool_calls"


def test_fake_stream_events_are_valid_sdk_chunks() -> None:
    events = text_stream(["a", "b"], include_usage=True) + tool_call_stream([("c", "f", ["{", "}"])])
    chunks = [ChatCompletionChunk.model_validate(event) for event in events]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert any(c.usage is not None and c.choices == [] for c in chunks)
