"""Session affinity's parts: what names a session in each API's body and headers (routing/affinity.py),
the policy from config, and the pins (routing/pins.py): TTL, bound, what is published."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.config.models import AffinityConfig, RoutingConfig
from babelgate.routing.affinity import SESSION_HEADERS, AffinityPolicy
from babelgate.routing.pins import Pins
from babelgate.routing.registry import RoutingPolicy

ALL = AffinityPolicy.merged(AffinityConfig(), None)
assert ALL is not None


def _headers(**values: str) -> Any:
    table = {name.replace("_dash_", "-").encode(): value.encode() for name, value in values.items()}
    return table.get


def _label(
    policy: AffinityPolicy, body: dict[str, Any] | None, header: Any = None, key: str = "k", model: str = "m"
) -> str | None:
    session = policy.session(body, header or _headers(), key, model)
    return session.label if session is not None else None


def test_off_unless_configured_and_off_again_with_no_keys() -> None:
    assert RoutingPolicy.merged(RoutingConfig(), None).affinity is None
    assert AffinityPolicy.merged(None, None) is None
    assert AffinityPolicy.merged(AffinityConfig(), AffinityConfig(keys=())) is None
    on = RoutingPolicy.merged(RoutingConfig(affinity=AffinityConfig(ttl=60)), None).affinity
    assert on is not None and on.keys == ("prompt_cache_key", "session_header", "user", "prefix") and on.ttl == 60


def test_a_model_overrides_the_server_key_by_key() -> None:
    server = AffinityConfig(ttl=600, headers=("X-Ticket",))
    policy = AffinityPolicy.merged(server, AffinityConfig(keys=("user",)))
    assert policy is not None
    assert policy.keys == ("user",) and policy.ttl == 600
    assert policy.headers == (*SESSION_HEADERS, b"x-ticket")
    # A model can turn it on where the server has none.
    alone = RoutingPolicy.merged(RoutingConfig(), RoutingConfig(affinity=AffinityConfig(keys="prefix"))).affinity
    assert alone is not None and alone.keys == ("prefix",)


def test_the_first_configured_key_found_names_the_session() -> None:
    body = {"prompt_cache_key": "pck", "user": "u1", "messages": [{"role": "user", "content": "hi"}]}
    by_key = _label(ALL, body)
    assert by_key == _label(ALL, {"prompt_cache_key": "pck"})  # the rest of the body does not matter
    assert by_key != _label(ALL, {"user": "pck"})  # the kind is part of the name
    header = _headers(x_dash_claude_dash_code_dash_session_dash_id="abc")
    assert _label(ALL, {"user": "u1"}, header) == _label(ALL, {}, header)  # a session header before `user`
    users = AffinityPolicy.merged(AffinityConfig(keys=("user", "session_header")), None)
    assert users is not None and _label(users, {"user": "u1"}, header) == _label(users, {"user": "u1"})
    assert _label(ALL, {}) is None  # nothing to go by


@pytest.mark.parametrize(
    "body",
    [
        {"user": "dev@example.com"},
        {"safety_identifier": "dev@example.com"},
    ],
)
def test_user_fields_of_openai(body: dict[str, Any]) -> None:
    users = AffinityPolicy.merged(AffinityConfig(keys=("user",)), None)
    assert users is not None
    assert _label(users, body) == _label(users, {"user": "dev@example.com"})


def test_anthropic_metadata_user_id_and_no_raw_value_out() -> None:
    users = AffinityPolicy.merged(AffinityConfig(keys=("user",)), None)
    assert users is not None
    session = users.session({"metadata": {"user_id": "alice@example.com"}}, _headers(), "key1", "claude")
    assert session is not None
    assert len(session.label) == 16 and int(session.label, 16) >= 0
    assert "alice" not in session.key and "alice" not in session.label
    assert session.label == _label(users, {"user": "alice@example.com"})


def test_codex_and_configured_headers() -> None:
    codex = _headers(session_id="0199-abcd", conversation_id="0199-abcd")
    assert _label(ALL, {}, codex) is not None
    current = _headers(session_dash_id="0199-abcd", thread_dash_id="0199-abcd")  # Codex 0.169
    assert _label(ALL, {}, current) is not None
    configured = AffinityPolicy.merged(AffinityConfig(headers=("X-Ticket",), keys=("session_header",)), None)
    assert configured is not None
    assert _label(configured, {}, _headers(x_dash_ticket="T-1")) is not None
    assert _label(ALL, {}, _headers(x_dash_ticket="T-1")) is None  # not a known one unless configured


def test_tenancy_and_model_are_in_the_pin_not_in_the_label() -> None:
    body = {"prompt_cache_key": "same"}
    one = ALL.session(body, _headers(), "key-a", "coder")
    assert one is not None
    for key, model in (("key-b", "coder"), ("key-a", "other"), (None, "coder")):
        other = ALL.session(body, _headers(), key, model)
        assert other is not None and other.key != one.key and other.label == one.label


PREFIX = AffinityPolicy.merged(AffinityConfig(keys=("prefix",)), None)
assert PREFIX is not None


def test_prefix_of_a_chat_conversation_is_stable_as_it_grows() -> None:
    system = {"role": "system", "content": "You are terse."}
    first = {"role": "user", "content": "Fix the test."}
    turn1 = {"messages": [system, first], "tools": [{"type": "function", "function": {"name": "sh"}}]}
    turn3 = {
        **turn1,
        "messages": [system, first, {"role": "assistant", "content": "Done."}, {"role": "user", "content": "More."}],
    }
    assert _label(PREFIX, turn1) == _label(PREFIX, turn3)
    assert _label(PREFIX, turn1) != _label(PREFIX, {**turn1, "tools": []})
    other = {**turn1, "messages": [system, {"role": "user", "content": "Another task."}]}
    assert _label(PREFIX, turn1) != _label(PREFIX, other)


def test_prefix_of_a_messages_conversation_ignores_moving_cache_marks() -> None:
    def block(text: str, marked: bool) -> dict[str, Any]:
        return {"type": "text", "text": text, **({"cache_control": {"type": "ephemeral"}} if marked else {})}

    system = [block("You are Claude Code.", True)]
    turn1 = {"system": system, "messages": [{"role": "user", "content": [block("Fix it.", True)]}]}
    turn2 = {
        "system": system,
        "messages": [
            {"role": "user", "content": [block("Fix it.", False)]},
            {"role": "assistant", "content": [block("Fixed.", False)]},
            {"role": "user", "content": [block("Thanks.", True)]},
        ],
    }
    assert _label(PREFIX, turn1) == _label(PREFIX, turn2)
    assert _label(PREFIX, turn1) != _label(PREFIX, {**turn1, "system": [block("Another prompt.", True)]})


def test_prefix_of_responses_and_gemini_bodies() -> None:
    responses = {"instructions": "Be brief.", "input": "Hello"}
    assert _label(PREFIX, responses) != _label(PREFIX, {**responses, "instructions": "Be long."})
    items = {"instructions": "Be brief.", "input": [{"role": "user", "content": "Hello"}]}
    grown = {**items, "input": [*items["input"], {"type": "function_call_output", "call_id": "c", "output": "ok"}]}
    assert _label(PREFIX, items) == _label(PREFIX, grown)
    gemini = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
    }
    more = {**gemini, "contents": [*gemini["contents"], {"role": "model", "parts": [{"text": "Hello"}]}]}
    assert _label(PREFIX, gemini) is not None and _label(PREFIX, gemini) == _label(PREFIX, more)
    assert _label(PREFIX, {"messages": []}) is None and _label(PREFIX, None) is None


# -- pins ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Heard:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, float]] = []

    def pin_changed(self, key: str, deployment: str, until: float) -> None:
        self.changes.append((key, deployment, until))


def test_a_pin_slides_with_use_and_ends_after_its_ttl() -> None:
    clock = Clock()
    pins = Pins(clock=clock)
    pins.keep("s", "east/m", 10)
    clock.now += 9
    assert pins.get("s") == "east/m"
    pins.keep("s", "east/m", 10)  # used again: ten more seconds from now
    clock.now += 9
    assert pins.get("s") == "east/m"
    clock.now += 1.5
    assert pins.get("s") is None and len(pins) == 0


def test_pins_are_bounded_least_recently_used_first() -> None:
    pins = Pins(limit=2, clock=Clock())
    pins.keep("a", "x", 10)
    pins.keep("b", "x", 10)
    pins.keep("a", "y", 10)
    pins.keep("c", "x", 10)
    assert pins.get("b") is None and pins.get("a") == "y" and pins.get("c") == "x"


def test_what_the_other_instances_hear() -> None:
    clock, heard = Clock(), Heard()
    pins = Pins(clock=clock)
    pins.shared = heard
    pins.keep("s", "east/m", 100)
    assert heard.changes == [("s", "east/m", 1100.0)]
    clock.now += 10
    pins.keep("s", "east/m", 100)  # a refresh well within what they know: not sent
    assert len(heard.changes) == 1
    clock.now += 45
    pins.keep("s", "east/m", 100)  # less than half the TTL they know is left: sent again
    assert heard.changes[-1] == ("s", "east/m", 1155.0)
    pins.keep("s", "west/m", 100)  # moved: sent at once
    assert heard.changes[-1] == ("s", "west/m", 1155.0)


def test_learning_from_other_instances() -> None:
    clock = Clock()
    pins = Pins(clock=clock)
    pins.learn("s", "east/m", 900.0)  # already over
    assert pins.get("s") is None
    pins.learn("s", "east/m", 1100.0)
    pins.learn("s", "east/m", 1050.0)  # an older refresh of the same pin
    clock.now = 1075.0
    assert pins.get("s") == "east/m"
    pins.learn("s", "west/m", 1200.0)  # moved elsewhere
    assert pins.get("s") == "west/m"
