"""A model's defaults and overrides on a request a frontend decoded straight into a `ChatRequest`
(`prepare.with_settings`) mean exactly what they mean on a chat body (`Deployment.apply_to_body`, then the
chat road's validation and decoding): the same request comes out either way, and a setting the chat road
refuses is refused with the same error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.frontends.prepare import with_settings
from babelgate.providers.openai.translate import request_from_wire
from babelgate.routing.registry import Deployment

JSON = dict[str, Any]
TURNS = [{"role": "user", "content": "Hi"}]


def _deployment(defaults: JSON, overrides: JSON) -> Deployment:
    return Deployment("m", None, "up", defaults, overrides)  # type: ignore[arg-type]


def _both_ways(body: JSON, defaults: JSON, overrides: JSON) -> None:
    deployment = _deployment(defaults, overrides)
    on_body = copy.deepcopy(body)
    deployment.apply_to_body(on_body)
    validate_chat_body(on_body)
    expected = request_from_wire(on_body)
    request = request_from_wire(copy.deepcopy(body))
    with_settings(request, deployment)
    assert request == expected


@pytest.mark.parametrize(
    ("client", "defaults", "overrides"),
    [
        ({}, {"temperature": 0.2, "max_tokens": 50}, {}),
        ({"temperature": 0.9}, {"temperature": 0.2}, {}),
        ({"temperature": 0.9}, {}, {"temperature": 0.2}),
        ({"max_completion_tokens": 10}, {"max_tokens": 50}, {}),
        ({"max_completion_tokens": 10}, {}, {"max_tokens": 50}),
        ({}, {"max_completion_tokens": 50}, {}),
        ({}, {}, {"max_completion_tokens": 50}),
        ({"top_k": 3}, {"top_k": 40, "seed": 7}, {}),
        ({}, {"top_k": 40}, {"top_k": 41}),
        ({"seed": 1}, {"random_seed": 9}, {}),
        ({}, {}, {"random_seed": 9}),
        ({}, {"stop": "END", "reasoning_effort": "low", "parallel_tool_calls": False}, {"user": "ops"}),
        ({}, {"response_format": {"type": "json_object"}}, {}),
        ({}, {}, {"tool_choice": "none", "metadata": {"team": "a"}}),
        ({"stream": True}, {"stream": False, "presence_penalty": 1}, {"model": "other", "frequency_penalty": -1}),
    ],
)
def test_settings_on_a_decoded_request_mean_what_they_mean_on_a_chat_body(
    client: JSON, defaults: JSON, overrides: JSON
) -> None:
    body = {"model": "m", "messages": TURNS, **client}
    if any(name in {"stream", "model"} for name in [*defaults, *overrides]):
        # The frontend decides streaming and the client names the model: those two are not settings here
        # (on a chat body an override of `model` was never read either: the route had already chosen).
        deployment = _deployment(defaults, overrides)
        request = request_from_wire(copy.deepcopy(body))
        with_settings(request, deployment)
        assert (request.model, request.stream, request.presence_penalty, request.frequency_penalty) == (
            "m",
            True,
            1,
            -1,
        )
        return
    _both_ways(body, defaults, overrides)


def test_a_setting_the_chat_road_refuses_is_refused_by_name() -> None:
    request = request_from_wire({"model": "m", "messages": TURNS})
    with pytest.raises(InvalidRequest) as caught:
        with_settings(request, _deployment({"temperature": 5}, {}))
    assert (caught.value.message_key, caught.value.param) == ("out_of_range", "temperature")
