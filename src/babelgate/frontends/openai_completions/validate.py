"""Validation of a legacy completions body (docs/decisions.md, "What the gateway checks"), and what the translated road
refuses.

`validate_completion_body` runs on both roads: the types of the fields the gateway reads, and the
ranges OpenAI documents for the sampling fields that become chat fields on the translated road.
`validate_translatable` refuses, by name, what a chat upstream cannot do faithfully; the native
road passes those fields to an upstream that implements them.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.body_schema import INTEGER, MODEL, OBJECT, STRING, any_of, array, number, obj
from babelgate.frontends.openai_completions.wire import JSON
from babelgate.frontends.openai_validation import Bound, expect_number, expect_object, expect_ranges, require_model

# name → (low, high) inclusive, per OAI CreateCompletionRequest.
NUMBERS: Final[dict[str, tuple[Bound, Bound]]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
INTEGERS: Final[dict[str, tuple[int, int]]] = {
    "n": (1, 128),
    "max_tokens": (0, 2**31 - 1),  # 0 is legal: with `echo`, it asks for the prompt alone
}
# OpenAI caps these at 5 and 20, but compatible servers allow more (vLLM: logprobs up to its
# `max_logprobs`, 20 by default); the upstream that implements them judges the size.
OPEN_INTEGERS: Final = ("logprobs", "best_of")
BOOLEANS: Final = ("stream", "echo")
STRINGS: Final = ("suffix", "user")
PROMPT_SHAPES: Final = "a string, an array of strings, an array of token ids or an array of token-id arrays"
ERROR_CODE: Final = "unsupported_parameter"  # OpenAI's code for a parameter a model does not take


def validate_completion_body(body: JSON) -> None:
    require_model(body)
    if "prompt" not in body:
        raise InvalidRequest("missing_field", param="prompt")
    _prompt(body["prompt"])
    for name in BOOLEANS:
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            raise InvalidRequest("wrong_type", param=name, expected="a boolean")
    for name in STRINGS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest("wrong_type", param=name, expected="a string")
    expect_ranges(body, NUMBERS, INTEGERS)
    for name in OPEN_INTEGERS:
        if body.get(name) is not None:
            expect_number(body[name], name, 0, 2**31 - 1, integer=True)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InvalidRequest("wrong_type", param="seed", expected="an integer")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not _strings(stop):
        raise InvalidRequest("wrong_type", param="stop", expected="a string or an array of strings")
    options = body.get("stream_options")
    if options is not None:
        include = expect_object(options, "stream_options").get("include_usage")
        if include is not None and not isinstance(include, bool):
            raise InvalidRequest("wrong_type", param="stream_options.include_usage", expected="a boolean")


def validate_translatable(body: JSON, model: str) -> None:
    """What answering through chat cannot do faithfully (`model` is the client's name for it)."""
    prompt = body.get("prompt")
    if prompt is None:
        # The legacy default prompt is the document separator `<|endoftext|>`, a token of OpenAI's
        # own tokenizers that no chat upstream reads as such.
        raise InvalidRequest("missing_field", param="prompt")
    if isinstance(prompt, list):
        if not prompt:
            raise InvalidRequest("completions_empty_prompt", param="prompt")
        if not isinstance(prompt[0], str):
            raise InvalidRequest("completions_token_prompt", param="prompt", code=ERROR_CODE, model=model)
    if body.get("suffix"):
        raise InvalidRequest("completions_suffix", param="suffix", code=ERROR_CODE, model=model)
    if body.get("logprobs") is not None:
        raise InvalidRequest("completions_logprobs", param="logprobs", code=ERROR_CODE, model=model)
    best_of = body.get("best_of")
    if best_of is not None and best_of != (body.get("n") or 1):
        raise InvalidRequest("completions_best_of", param="best_of", code=ERROR_CODE, model=model)
    if body.get("max_tokens") == 0:
        raise InvalidRequest("completions_max_tokens_zero", param="max_tokens", code=ERROR_CODE, model=model)


def _prompt(prompt: Any) -> None:
    """The four shapes of OAI `CreateCompletionRequest.prompt` (or null, which the spec allows)."""
    if prompt is None or isinstance(prompt, str):
        return
    if isinstance(prompt, list):
        if _strings(prompt) or _tokens(prompt):
            return
        if prompt and all(isinstance(item, list) and _tokens(item) for item in prompt):
            return
    raise InvalidRequest("wrong_type", param="prompt", expected=PROMPT_SHAPES)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _tokens(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(item, int) and not isinstance(item, bool) for item in value)


COMPLETION_BODY: Final = obj(
    ("model", "prompt"),
    booleans=BOOLEANS,
    strings=STRINGS,
    numbers=NUMBERS,
    integers=INTEGERS,
    properties={
        "model": MODEL,
        "seed": INTEGER,
        "stream_options": OBJECT,
        "prompt": any_of(STRING, array(STRING), array(INTEGER), array(array(INTEGER))),
        "stop": any_of(STRING, array(STRING), {"type": "null"}),
        **{name: number(0, 2**31 - 1, integer=True) for name in OPEN_INTEGERS},
    },
)
