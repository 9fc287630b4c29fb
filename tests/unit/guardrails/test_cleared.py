"""A request's body cleared from its bytes (`cleared`): only when every guardrail of the stage is a built-in
detector that finds nothing there; each then noted `allow`, as a parsed check would."""

from __future__ import annotations

import asyncio

import orjson

from babelgate.guardrails.check import RAW_BOUND, Decisions, check, cleared
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.paths import paths
from babelgate.guardrails.patterns import RegexDetector
from babelgate.guardrails.pii import ENTITIES, scanner
from babelgate.guardrails.scanner import Scanner

PII = Guardrail("pii", frozenset({"input", "output"}), "mask", finder=scanner(ENTITIES))
SECRETS = Guardrail("secrets", frozenset({"input"}), "block", finder=scanner(["secret"]))
REGEX = Guardrail("codes", frozenset({"input"}), "block", finder=Scanner([RegexDetector("codes", [r"PRJ-\d+"])]))
TEXTS = paths("messages.*.content")


def _body(content: str, **fields: object) -> bytes:
    return orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **fields})


def test_a_clean_body_is_cleared_and_each_guardrail_noted() -> None:
    decisions = Decisions()
    assert cleared([PII, SECRETS], "input", _body("What is a load balancer?\nIn 2 lines."), decisions)
    assert decisions.actions == {"pii": "allow", "secrets": "allow"}
    assert [stage for stage, _, _ in decisions.checks] == ["input"]


def test_what_only_a_parsed_check_can_settle_is_not_cleared() -> None:
    for guards, body in [
        ([PII], _body("Mail ada@example.com")),  # a finding
        ([PII], _body("hello", user="ada@example.com")),  # a finding outside the texts: read parsed, to be sure
        ([PII], _body("caf\u00e9 at 12:30")),  # not ASCII
        ([PII], _body("x" * RAW_BOUND)),  # too large to be worth it
        ([PII, REGEX], _body("What is a load balancer?")),  # an operator's pattern
    ]:
        decisions = Decisions()
        assert not cleared(guards, "input", body, decisions), body[:80]
        assert decisions.actions == {} and decisions.checks == []


def test_a_body_not_cleared_is_masked_by_the_parsed_check() -> None:
    body = _body("my key is\nsk-proj-A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6 and mail ada@example.com")
    decisions = Decisions()
    assert not cleared([PII], "input", body, decisions)
    document = orjson.loads(body)
    assert asyncio.run(check([PII], "input", document, TEXTS, decisions, "gpt-4o-mini", None))
    masked = document["messages"][0]["content"]
    assert "sk-proj" not in masked and "ada@example.com" not in masked
    assert decisions.actions == {"pii": "mask"}


def test_a_scanner_made_later_makes_its_detectors_once_at_its_first_use() -> None:
    made: list[int] = []

    def later() -> list[RegexDetector]:
        made.append(1)
        return [RegexDetector("codes", [r"PRJ-\d+"])]

    codes = Scanner(later=later)
    assert made == []
    assert not codes.clean_json(b'{"content": "see PRJ-12"}')
    assert [(found.start, found.end) for found in codes.find("PRJ-7 and PRJ-88")] == [(0, 5), (10, 16)]
    assert codes.longest == Scanner([RegexDetector("codes", [r"PRJ-\d+"])]).longest
    assert codes.pending("PRJ-") >= 0
    assert made == [1]
