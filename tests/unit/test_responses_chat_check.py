"""The Responses road decodes straight into a chat request (translate.chat_request, turn.prepare), without
the chat validation behind it: the Responses validation provably refuses everything the chat validation
would find in the request written as a chat body, and what the Responses validation has not seen is
checked where it comes in (the model's defaults and overrides by prepare.with_settings, the stored items
of earlier turns by turn.stored_conversation)."""

from __future__ import annotations

import copy
import random
from types import SimpleNamespace
from typing import Any

import pytest

from babelgate.config import ProviderConfig, ServerConfig
from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.responses import turn
from babelgate.frontends.responses.translate import chat_request, normalize_input
from babelgate.frontends.responses.validate import validate_create_body, validate_translatable
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.translate import request_from_wire, to_wire
from babelgate.routing.registry import Deployment
from babelgate.store import StoredResponse
from tests.mutations import mutate, paths
from tests.unit.test_responses_validate import ODD_VALUES, VALID

JSON = dict[str, Any]

# Bodies that between them reach every field the chat validation reads.
BASES: list[JSON] = [
    {**VALID, "presence_penalty": 0.5, "frequency_penalty": -0.5, "user": "u-1"},
    {
        "model": "gpt-test",
        "input": "Hi",
        "instructions": "Be brief.",
        "tool_choice": {"type": "function", "name": "f"},
        "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}],
        "text": {"format": {"type": "json_object"}},
        "max_output_tokens": 1,
        "temperature": 2,
        "top_p": 0,
    },
]
# Values at and past the edges of the chat validation's own checks.
EDGE_VALUES: list[Any] = [
    *ODD_VALUES,
    3,
    -3,
    2**31,
    "none",
    "auto",
    "required",
    "ftp://x.test/a.png",
    "data:image/png;base64,AAAA",
    "bad name",
    {"type": "object"},
    {"type": "string"},
]


def responses_checks_pass(body: JSON) -> JSON | None:
    """The chat request turn.prepare decodes from `body` with no earlier turns, as a chat body (which reads
    back as the same request), or None when the Responses validation (or the decoding itself) refuses `body`."""
    try:
        validate_create_body(body)
        validate_translatable(body)
        request = chat_request(body, [], normalize_input(body.get("input")), [])[0]
    except InvalidRequest:
        return None
    chat = to_wire(request, request.model)
    assert request_from_wire(chat) == request
    return chat


def assert_chat_validation_passes(body: JSON) -> bool:
    """True when `body` passed the Responses validation (and then, necessarily, the chat validation)."""
    chat = responses_checks_pass(copy.deepcopy(body))
    if chat is None:
        return False
    try:
        validate_chat_body(chat)
    except InvalidRequest as error:  # pragma: no cover - the failure these tests exist to catch
        pytest.fail(f"the chat validation refused ({error.param}) what the Responses validation let through: {body}")
    return True


@pytest.mark.parametrize("base", range(len(BASES)))
def test_every_single_change_that_passes_the_responses_validation_passes_the_chat_validation(base: int) -> None:
    passed = sum(
        assert_chat_validation_passes(mutate(BASES[base], path, value))
        for path in paths(BASES[base])
        for value in EDGE_VALUES
    )
    assert passed > 0


@pytest.mark.parametrize("base", range(len(BASES)))
@pytest.mark.parametrize("seed", range(4))
def test_combined_changes_that_pass_the_responses_validation_pass_the_chat_validation(base: int, seed: int) -> None:
    rng = random.Random(seed)
    places = paths(BASES[base])
    passed = 0
    for _ in range(300):
        body = BASES[base]
        for _ in range(rng.randint(2, 3)):
            body = mutate(body, rng.choice(places), rng.choice(EDGE_VALUES))
        passed += assert_chat_validation_passes(body)
    assert passed > 0  # the mutations reach bodies that pass


PROVIDER = build_provider("local", ProviderConfig(base_url="http://127.0.0.1:1/v1"), ServerConfig(), UpstreamClient())
RUNTIME: Any = SimpleNamespace(hooks=(), typed_hooks=())


def deployment(**settings: Any) -> Deployment:
    return Deployment("m", PROVIDER, "m-up", **settings)


@pytest.mark.parametrize(
    "settings", [{"defaults": {"top_p": 5}}, {"overrides": {"top_p": 5}}], ids=["defaults", "overrides"]
)
async def test_the_models_defaults_and_overrides_are_validated(settings: JSON) -> None:
    body = {"model": "m", "input": "Hi"}
    request = chat_request(body, [], normalize_input("Hi"), [])[0]
    with pytest.raises(InvalidRequest) as caught:
        await prepared_request(RUNTIME, deployment(**settings), request, stream=False, context=None, notes=CallNotes())
    assert caught.value.param == "top_p"


async def test_stored_items_of_earlier_turns_are_checked_as_they_are_read() -> None:
    # A stored call whose id is no string: nothing this request's validation sees, so reading it must.
    stored = StoredResponse(
        id="resp_1",
        created_at=0,
        expires_at=None,
        response={"output": []},
        input_items=[],
        conversation=[{"type": "function_call", "call_id": 7, "name": "f", "arguments": "{}"}],
    )

    async def lookup(response_id: str) -> StoredResponse | None:
        return stored if response_id == "resp_1" else None

    body = {"model": "m", "input": "Hi", "previous_response_id": "resp_1"}
    validate_create_body(body)
    with pytest.raises(InvalidRequest) as caught:
        await turn.prepare(
            RUNTIME,
            body,
            deployment(),
            lookup,
            language="en",
            context=None,
            notes=CallNotes(),
            stream=False,
            owner=None,
        )
    assert caught.value.param == "previous_response_id.items[0].call_id"
