"""`/api/generate` with `raw` or `suffix` (frontends/ollama/completions.py), golden: the legacy completions body,
and legacy answers and chunks as canonical ones, down to the Ollama objects they make."""

from __future__ import annotations

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.ollama.completions import chunk_from_wire, legacy_body, response_from_wire
from babelgate.frontends.ollama.stream import OllamaStreamEncoder
from babelgate.frontends.ollama.translate import encode_generate
from babelgate.frontends.ollama.wire import Durations
from babelgate.schema.chat import AssistantMessage, Choice, Usage
from babelgate.schema.chunks import ChunkChoice, Delta
from tests.ollama_spec import assert_valid, assert_valid_stream
from tests.unit.test_ollama_stream import CLOCK

AT = "2026-01-02T03:04:05Z"


def test_raw_prompt_with_options() -> None:
    body, adjusted = legacy_body(
        {
            "model": "instruct",
            "prompt": "<s>[INST] Hi [/INST]",
            "raw": True,
            "options": {"num_predict": 8, "stop": ["</s>"], "num_ctx": 2048},
        },
        stream=False,
    )
    assert body == {"model": "instruct", "prompt": "<s>[INST] Hi [/INST]", "max_tokens": 8, "stop": ["</s>"]}
    assert adjusted == ["options.num_ctx=dropped"]


def test_suffix_streamed_and_what_has_no_legacy_field() -> None:
    body, adjusted = legacy_body(
        {
            "model": "coder",
            "prompt": "def f(",
            "suffix": "    return x",
            "system": "s",
            "format": "json",
            "think": False,
            "template": "",
            "keep_alive": "1m",
        },
        stream=True,
    )
    assert body == {
        "model": "coder",
        "prompt": "def f(",
        "suffix": "    return x",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert adjusted == ["system=dropped", "format=dropped"]


@pytest.mark.parametrize(("field", "value"), [("images", ["aGk="]), ("context", [1])])
def test_images_and_context_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        legacy_body({"model": "m", "prompt": "x", "raw": True, field: value}, stream=False)
    assert caught.value.param == field


def test_legacy_answer() -> None:
    response = response_from_wire(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "instruct",
            "choices": [{"text": "Hello!", "index": 0, "logprobs": None, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }
    )
    assert response.choices == [Choice(0, AssistantMessage(content="Hello!"), "length")]
    assert response.usage == Usage(5, 2, 7)
    out = encode_generate(response, model="instruct", at=AT, durations=Durations(10, 1, 0, 9))
    assert (out["response"], out["done_reason"], out["eval_count"]) == ("Hello!", "length", 2)
    assert_valid(out, "generate")


def test_legacy_chunks_through_the_encoder() -> None:
    wire_chunks = [
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
            "usage": None,
        },
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        },
        {
            "id": "c",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        },
    ]
    chunks = [chunk_from_wire(payload) for payload in wire_chunks]
    assert chunks[0].choices == [ChunkChoice(0, Delta(content="Hel"), None)]
    assert chunks[1].choices == [ChunkChoice(0, Delta(content=None), "stop")]
    encoder = OllamaStreamEncoder("m", CLOCK, provider="p", generate=True)
    objects = [item for chunk in chunks for item in encoder.objects(chunk, AT)]
    objects += encoder.last_objects(AT, Durations(10, 1, 4, 5))
    assert_valid_stream(objects, "generate_stream")
    assert [item["response"] for item in objects] == ["Hel", ""]
    assert (objects[-1]["prompt_eval_count"], objects[-1]["eval_count"]) == (5, 1)
