"""Bad input never becomes a 500: mutated chat bodies either fail validation with InvalidRequest,
or pass and then decode and re-encode without error (the typed path trusts validation)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.openai.translate import request_from_wire, to_wire
from tests.mutations import mutate, paths

VALID: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}},
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}},
    "stream": True,
    "stream_options": {"include_usage": True},
    "stop": ["\n"],
    "temperature": 0.5,
    "max_completion_tokens": 10,
    "metadata": {"k": "v"},
}
ODD_VALUES: list[Any] = [None, True, 0, -1, 2.5, 1e300, "", "x", [], [None], {}, {"type": None}, [{"type": "text"}]]


@pytest.mark.parametrize("seed", range(8))
def test_mutated_bodies_never_crash_the_typed_path(seed: int) -> None:
    validate_chat_body(copy.deepcopy(VALID))  # the base is valid
    rng = random.Random(seed)
    places = paths(VALID)
    for _ in range(400):
        body = VALID
        for _ in range(rng.randint(1, 3)):
            body = mutate(body, rng.choice(places), rng.choice(ODD_VALUES))
        try:
            validate_chat_body(body)
        except InvalidRequest as error:
            assert error.param, f"an InvalidRequest without param for {body}"
            continue
        to_wire(request_from_wire(body), "gpt-4o")
