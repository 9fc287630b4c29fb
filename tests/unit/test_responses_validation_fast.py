"""`plainly_valid_item` is the Responses validation's quick yes for common input items: it must never accept an
item that `validate_item` (the checks with paths) refuses, and it must say yes to what Codex CLI sends by the
hundred."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.responses.validate import plainly_valid_item, validate_input, validate_item

MISSING = object()
TEXTS: tuple[Any, ...] = ("hi", "", 3, None, MISSING)
PART_TYPES: tuple[Any, ...] = ("input_text", "output_text", "refusal", "input_image", "other", None, MISSING, ["x"])


def _item(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not MISSING}


def _items() -> list[Any]:
    items: list[Any] = ["text", 3, None, [], {}]
    for role, kind in itertools.product(
        ("user", "assistant", "system", "developer", "robot", 1, MISSING), ("message", MISSING, None, 5)
    ):
        items.append(_item(type=kind, role=role, content="hi"))
        items.append(_item(type=kind, role=role, content=MISSING))
        items.append(_item(type=kind, role=role, content=7))
        for part_type, text in itertools.product(PART_TYPES, TEXTS):
            items.append(_item(type=kind, role=role, content=[_item(type=part_type, text=text)]))
            items.append(
                _item(
                    type=kind,
                    role=role,
                    content=[{"type": "input_text", "text": "a"}, _item(type=part_type, text=text)],
                )
            )
        items.append(_item(type=kind, role=role, content=["bare"]))
    for call_id, name, arguments, namespace in itertools.product(TEXTS, TEXTS, TEXTS, TEXTS):
        items.append(_item(type="function_call", call_id=call_id, name=name, arguments=arguments, namespace=namespace))
    for call_id, output in itertools.product(TEXTS, (*TEXTS, [{"type": "input_text", "text": "x"}], [{"type": "x"}])):
        items.append(_item(type="function_call_output", call_id=call_id, output=output))
    for encrypted in (*TEXTS, {"x": 1}):
        items.append(_item(type="reasoning", encrypted_content=encrypted, summary=[]))
    items.append({"type": "item_reference", "id": "x"})
    items.append({"type": "mcp_list_tools", "server_label": "s"})
    return items


def test_the_quick_yes_never_accepts_what_the_full_checks_refuse() -> None:
    accepted = 0
    for item in _items():
        try:
            validate_item(item, "input[0]")
        except InvalidRequest:
            valid = False
        else:
            valid = True
        if plainly_valid_item(item):
            assert valid, item
            accepted += 1
    assert accepted > 50  # the common shapes do take the quick road


@pytest.mark.parametrize(
    "item",
    [
        {"role": "user", "content": "fix the tests"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Done.", "annotations": []}],
        },
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"cmd":["ls"]}'},
        {"type": "function_call_output", "call_id": "c1", "output": "a\nb"},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
    ],
)
def test_what_coding_agents_send_takes_the_quick_road(item: dict[str, Any]) -> None:
    assert plainly_valid_item(item)


def test_a_refused_item_is_named_by_its_path() -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_input([{"role": "user", "content": "a"}, {"type": "function_call", "call_id": "c", "name": 3}])
    assert caught.value.param == "input[1].name"
