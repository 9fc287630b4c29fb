"""Ollama's error format (`{"error": "<message>"}`, in the client's language) and the checks of Ollama bodies
(frontends/ollama/validate.py), which name Ollama's own paths."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from babelgate.errors import InvalidRequest, ModelNotFound, UpstreamTimeout
from babelgate.frontends.ollama.validate import validate_chat, validate_embed, validate_generate, validate_show
from babelgate.frontends.ollama.wire import encode_error
from babelgate.i18n import _catalog
from tests.ollama_spec import violations


def test_error_body_is_ollamas_with_the_localized_message() -> None:
    error = ModelNotFound(model="llama9", providers="openai", param="model")
    english = orjson.loads(encode_error(error, "en"))
    assert english == {
        "error": "The model 'llama9' does not exist or is not served by any enabled provider. "
        "Enabled providers: openai."
    }
    assert violations(english, "error") == []
    german = orjson.loads(encode_error(error, "de"))
    assert set(german) == {"error"} and german["error"] != english["error"] and "llama9" in german["error"]


def test_upstream_message_is_relayed() -> None:
    error = UpstreamTimeout(provider="anthropic", phase="read", raw_message="upstream says: slow down")
    assert orjson.loads(encode_error(error, "en")) == {"error": "upstream says: slow down"}


@pytest.mark.parametrize(
    "key",
    [
        "ollama_unmatched_tool_message",
        "ollama_image_format",
        "ollama_images_role",
        "ollama_raw_unsupported",
        "ollama_suffix_unsupported",
        "ollama_context_unsupported",
    ],
)
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_ollama_message_exists_and_names_its_parameter(key: str, language: str) -> None:
    message = orjson.loads(encode_error(InvalidRequest(key, param="messages[1].images[0]"), language))["error"]
    assert message != key, f"{key} is missing from locales/{language}.json"
    template = _catalog(language)[key]
    assert "{param}" in template or key.endswith("_unsupported")


CHAT_BAD: list[tuple[dict[str, Any], str, str]] = [
    ({}, "missing_field", "model"),
    ({"model": 3}, "wrong_type", "model"),
    ({"model": "m", "messages": {"role": "user"}}, "wrong_type", "messages"),
    ({"model": "m", "messages": ["hi"]}, "wrong_type", "messages[0]"),
    ({"model": "m", "messages": [{"content": "hi"}]}, "missing_field", "messages[0].role"),
    ({"model": "m", "messages": [{"role": "developer", "content": "hi"}]}, "invalid_value", "messages[0].role"),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        "wrong_type",
        "messages[0].content",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x", "images": "abc"}]},
        "wrong_type",
        "messages[0].images",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": "x", "images": [None]}]},
        "wrong_type",
        "messages[0].images[0]",
    ),
    (
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}]},
        "wrong_type",
        "messages[0].tool_calls[0].function.name",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}],
        },
        "wrong_type",
        "messages[0].tool_calls[0].function.arguments",
    ),
    (
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"name": "f"}]}]},
        "wrong_type",
        "messages[0].tool_calls[0].function",
    ),
    ({"model": "m", "tools": {"type": "function"}}, "wrong_type", "tools"),
    ({"model": "m", "stream": "yes"}, "wrong_type", "stream"),
    ({"model": "m", "think": 1}, "wrong_type", "think"),
    ({"model": "m", "format": "xml"}, "invalid_value", "format"),
    ({"model": "m", "options": []}, "wrong_type", "options"),
    ({"model": "m", "options": {"temperature": "hot"}}, "wrong_type", "options.temperature"),
    ({"model": "m", "options": {"temperature": 3}}, "out_of_range", "options.temperature"),
    ({"model": "m", "options": {"top_k": 1.5}}, "wrong_type", "options.top_k"),
    ({"model": "m", "options": {"top_k": -1}}, "out_of_range", "options.top_k"),
    ({"model": "m", "options": {"num_predict": 0}}, "out_of_range", "options.num_predict"),
    ({"model": "m", "options": {"seed": True}}, "wrong_type", "options.seed"),
    ({"model": "m", "options": {"stop": [1]}}, "wrong_type", "options.stop"),
    ({"model": "m", "top_logprobs": 50}, "out_of_range", "top_logprobs"),
]


@pytest.mark.parametrize(("body", "key", "param"), CHAT_BAD)
def test_chat_body_checks(body: dict[str, Any], key: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_chat(body)
    assert (caught.value.message_key, caught.value.param) == (key, param)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "prompt": 3}, "prompt"),
        ({"model": "m", "system": ["x"]}, "system"),
        ({"model": "m", "raw": "true"}, "raw"),
        ({"model": "m", "images": [3]}, "images[0]"),
        ({"model": "m", "context": ["a"]}, "context"),
    ],
)
def test_generate_body_checks(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_generate(body)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("body", "legacy", "param"),
    [
        ({"model": "e"}, False, "input"),
        ({"model": "e", "input": [1, 2]}, False, "input"),
        ({"model": "e", "input": "a", "dimensions": 0}, False, "dimensions"),
        ({"model": "e", "input": "a", "truncate": 1}, False, "truncate"),
        ({"model": "e", "prompt": ["a"]}, True, "prompt"),
    ],
)
def test_embed_body_checks(body: dict[str, Any], legacy: bool, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_embed(body, legacy=legacy)
    assert caught.value.param == param


def test_valid_bodies_pass() -> None:
    validate_chat(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "u", "images": ["aGk="]},
                {
                    "role": "assistant",
                    "content": "",
                    "thinking": "t",
                    "tool_calls": [{"id": "c", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}}],
                },
                {"role": "tool", "content": "r", "tool_name": "f", "tool_call_id": "c"},
            ],
            "tools": [],
            "format": {"type": "object"},
            "options": {"temperature": 1, "stop": "x", "num_predict": -1, "num_ctx": 4096, "mirostat": None},
            "stream": False,
            "think": "high",
            "keep_alive": "5m",
            "logprobs": True,
            "top_logprobs": 3,
        }
    )
    validate_generate({"model": "m", "prompt": "p", "suffix": "", "images": ["aGk="], "raw": False, "context": [1]})
    validate_embed({"model": "e", "input": ["a", "b"], "truncate": False, "dimensions": 4}, legacy=False)
    assert validate_show({"name": "old-client"}) == "old-client"
    assert validate_show({"model": "m", "verbose": True}) == "m"
