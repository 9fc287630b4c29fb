"""The Gemini API's native road reads a whole answer's usage and finish reason without parsing the rest
(providers/gemini/relay.py `whole`, through transport.skim); whatever skim does not take is parsed whole
and read as before. Both readings must agree on every answer."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.base import CallNotes
from babelgate.providers.gemini.relay import account, whole


class _Answered:
    """An upstream response whose body has arrived whole (what `whole` reads first)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def read_now(self) -> bytes:
        return self.body


def _usage(**extra: Any) -> dict[str, Any]:
    return {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17, **extra}


ANSWERS: list[dict[str, Any]] = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "Grüße, 世界"}]}, "finishReason": "STOP"}]},
    {
        "candidates": [
            {
                "content": {"parts": [{"text": "x"}, {"functionCall": {"name": "f", "args": {}}}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": _usage(thoughtsTokenCount=3),
    },
    {"candidates": [{"finishReason": "MAX_TOKENS"}], "usageMetadata": _usage()},
    {"candidates": [{"content": None, "finishReason": "SAFETY"}], "usageMetadata": None},
    {"candidates": [], "usageMetadata": _usage(promptTokensDetails=[{"modality": "TEXT", "tokenCount": 12}])},
    {"usageMetadata": _usage()},
    {},
    {"candidates": [{"content": {"parts": [{"functionCall": None}]}, "finishReason": "STOP"}]},
    # Shapes the skim does not take, parsed whole instead.
    {"candidates": [{"content": {"parts": ["not an object"]}}, 3], "usageMetadata": _usage()},
    {"candidates": {"not": "a list"}, "usageMetadata": _usage()},
    {"error": "a string, not an error object", "usageMetadata": _usage()},
]


@pytest.mark.parametrize("answer", ANSWERS)
async def test_whole_reads_what_a_full_parse_reads(answer: dict[str, Any]) -> None:
    raw = orjson.dumps(answer)
    notes, expected = CallNotes(), CallNotes()
    account(answer, expected)
    relayed = await whole(cast(UpstreamResponse, _Answered(raw)), provider="gemini", notes=notes, scrub=str)
    assert relayed == raw
    assert (notes.usage, notes.finish_reason, notes.completed) == (expected.usage, expected.finish_reason, True)


async def test_function_calls_finish_as_tool_calls() -> None:
    notes = CallNotes()
    await whole(cast(UpstreamResponse, _Answered(orjson.dumps(ANSWERS[1]))), provider="gemini", notes=notes, scrub=str)
    assert notes.finish_reason == "tool_calls"
    assert notes.usage is not None and (notes.usage.prompt_tokens, notes.usage.completion_tokens) == (12, 8)


async def test_an_error_object_is_the_upstream_error() -> None:
    raw = orjson.dumps({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
    with pytest.raises(GatewayError) as caught:
        await whole(cast(UpstreamResponse, _Answered(raw)), provider="gemini", notes=CallNotes(), scrub=str)
    assert caught.value.status == 503


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"candidates": [{"content": {"parts": [{"text": "caf\xe9"}]}}]}', "the body is not JSON"),
        (b'{"candidates": [{"content": {"parts": [{"text": "x"}]}]}', "the body is not JSON"),
        (b"[1]", "the body is not a JSON object"),
    ],
)
async def test_a_body_that_is_not_an_answer_is_a_protocol_error(raw: bytes, detail: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        await whole(cast(UpstreamResponse, _Answered(raw)), provider="gemini", notes=CallNotes(), scrub=str)
    assert caught.value.params == {"provider": "gemini", "detail": detail}


def test_the_usual_answers_are_skimmed_not_parsed() -> None:
    """The answers above before the shapes it does not take are read by the skim (the road's cheap reading)."""
    from babelgate.providers.gemini.relay import _ANSWER
    from babelgate.providers.transport import skim

    skimmed = [skim(orjson.dumps(answer), _ANSWER) for answer in ANSWERS]
    assert [read is not None and not read.error for read in skimmed] == [True] * 8 + [False] * 3
