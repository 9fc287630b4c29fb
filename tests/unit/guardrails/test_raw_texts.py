"""A document's texts read from its bytes (`Where.raw_texts`): what holds them, taken whole, so that a reader of
those bytes sees every text a parsed walk finds; the C reader of an object's members and msgspec's reading alike;
and an answer cleared that way goes out as the upstream wrote it."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
import pytest

from babelgate.answer import Answer
from babelgate.answer_guard import guarded_answer
from babelgate.frontends.anthropic_messages.routes import TEXTS as MESSAGES
from babelgate.frontends.gemini.routes import TEXTS as GEMINI
from babelgate.frontends.openai_chat.routes import TEXTS as CHAT
from babelgate.frontends.responses.texts import TEXTS as RESPONSES
from babelgate.guardrails import paths as paths_module
from babelgate.guardrails.check import Decisions
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.paths import MEMBERS, Where, paths, texts
from babelgate.guardrails.pii import ENTITIES, scanner
from tests.services import unavailable

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1732000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": 'A "quoted" answer\nover two lines',
                "refusal": None,
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"city":"Paris"}'}}],
            },
            "finish_reason": "stop",
        },
        {"index": 1, "message": {"role": "assistant", "content": None, "refusal": "I cannot."}},
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 5},
}

SAME_AS_PARSED = [
    (CHAT.output, ANSWER),
    (CHAT.output, {"choices": {"a": {"message": {"content": "values of an object"}}}}),
    (CHAT.output, {"choices": [None, {"message": None}, {"message": {"content": 42}}]}),
    (CHAT.output, {"choices": [{"message": {"content": {"nested": "not a text here"}}}]}),
    (CHAT.output, {"object": "list"}),
    (MESSAGES.output, {"content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "input": {"q": "x"}}]}),
    (RESPONSES.output, {"output": [{"content": [{"type": "output_text", "text": "hi"}]}]}),
    (GEMINI.output, {"candidates": [{"content": {"parts": [{"text": "hi"}, {"functionCall": {"args": {"a": 1}}}]}}]}),
    (paths("a.*.b", "a.*.c.*"), {"a": {"x": {"b": "1", "c": ["2", 3, None, "4"]}, "y": None}}),
    (paths("a.**", "a.b"), {"a": {"b": "1", "c": {"d": ["2", {"e": "3"}], "f": 4}}}),
    (paths("a.*.**"), {"a": [None, 5, "s", {"k": "v"}, ["w"]]}),
    (paths("a", "a.**"), {"a": "s"}),
    (paths("a", "a.**"), {"a": {"k": ["v"]}}),
]


@pytest.mark.parametrize(("where", "document"), SAME_AS_PARSED)
def test_every_text_a_parsed_walk_finds_is_in_the_bytes_read(where: Where, document: object) -> None:
    raw = orjson.dumps(document)
    found = where.raw_texts(raw)
    assert found is not None
    read = _strings([orjson.loads(bytes(holder)) for holder in found])
    for text in texts(orjson.loads(raw), where):
        assert text in read
    assert all(bytes(holder) in raw for holder in found)


def _strings(values: list[object]) -> list[str]:
    """Every string of `values` and below them (an object's keys included)."""
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            out += [*value.keys(), *_strings(list(value.values()))]
        elif isinstance(value, list):
            out += _strings(value)
    return out


def test_the_objects_on_the_way_are_read_for_their_keys_and_the_rest_is_taken_whole() -> None:
    raw = orjson.dumps(ANSWER)
    found = CHAT.output.raw_texts(raw)
    assert found is not None and [bytes(holder) for holder in found] == [orjson.dumps(ANSWER["choices"])]
    ollama = paths("message.content", "message.tool_calls.*.function.arguments.**", "response")
    document = {"model": "llama3.2", "created_at": "2024-07-18T10:00:00Z", "message": {"content": "hi"}, "done": True}
    found = ollama.raw_texts(orjson.dumps(document))
    assert found is not None and [bytes(holder) for holder in found] == [b'"hi"']


def test_nothing_is_read_where_no_text_can_be() -> None:
    assert CHAT.output.raw_texts(b'{"id":"x","choices":null}') == []
    assert CHAT.output.raw_texts(b'{"choices":"a string where a list was"}') == []
    assert paths("a.b", "c").raw_texts(b'{"a":{"b":null},"c":12}') == []
    assert paths("a.b", "c").raw_texts(b'{"a":{"b":{"x":"not at a path"}},"c":[]}') == []


def test_of_a_key_given_twice_the_last_is_read_as_a_client_reads_it() -> None:
    found = paths("message.content").raw_texts(b'{"message":{"content":"clean","content":"ada@example.com"}}')
    assert found is not None and [bytes(text) for text in found] == [b'"ada@example.com"']


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"choices":[{"message":{"content":"cut',
        b'[{"choices":[]}]',
        b'{"choices":[],"usage":"cut',
    ],
)
def test_a_document_that_is_not_json_or_not_the_paths_shape_is_left_to_the_parse(raw: bytes) -> None:
    assert CHAT.output.raw_texts(raw) is None


PII = Guardrail("pii", frozenset({"input", "output"}), "mask", finder=scanner(ENTITIES))


def _document(content: str) -> dict[str, object]:
    return {**ANSWER, "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def _answered(content: str) -> tuple[bytes, Decisions]:
    document = _document(content)
    answer = Answer(orjson.dumps(document), None)
    decisions = Decisions()
    guarded = asyncio.run(guarded_answer(answer, CHAT, [PII], decisions, "gpt-4o-mini", None))
    return guarded.body, decisions


def test_a_clean_answer_goes_out_as_written_and_its_guardrail_is_noted() -> None:
    text = "A load balancer spreads requests across 3 servers."
    body, decisions = _answered(text)
    assert body == orjson.dumps(_document(text))
    assert decisions.actions == {"pii": "allow"}
    assert [stage for stage, _, _ in decisions.checks] == ["output"]


def test_an_answer_with_a_finding_in_its_text_is_masked() -> None:
    body, decisions = _answered("Write to ada@example.com or call +1 415 555 0132.")
    content = orjson.loads(body)["choices"][0]["message"]["content"]
    assert "ada@example.com" not in content and "555 0132" not in content
    assert decisions.actions == {"pii": "mask"}


@pytest.fixture
def _reader() -> None:
    """The C reader's tests need it, which an install without a C compiler does not build: they skip then, or
    fail under BABELGATE_REQUIRE_SERVICES=1 (CI)."""
    if MEMBERS is None:
        unavailable("the JSON members' reader was not built: no C compiler at install (gcc; then make install)")


# The C reader of a JSON object's members (`_members.c`), by which `raw_texts` finds an answer's texts: on every
# document it reads the same values as msgspec's reading (which it falls back to), and it gives up where only a
# parser could answer rightly.
WHERES = [
    CHAT.output,
    MESSAGES.output,
    GEMINI.output,
    RESPONSES.output,
    paths("a.*.b", "a.*.c.*"),
    paths("a.b", "c"),
    paths("a.b.c", "a.d"),
    paths("message.content", "message.tool_calls.*.function.arguments.**", "response"),
]
KEYS = ["a", "b", "c", "d", "choices", "message", "content", "text", "output", "candidates", "parts", "response", "x"]
SCALARS: list[Any] = [None, 1, -2.5e3, True, False, "s", 'q"uo\\te', "", "\u00e9", "a\nb", "}", "{", "]", '\\"']


def _value(rnd: random.Random, depth: int) -> Any:
    chance = rnd.random()
    if depth > 3 or chance < 0.3:
        return rnd.choice(SCALARS)
    if chance < 0.6:
        return [_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    return {rnd.choice(KEYS): _value(rnd, depth + 1) for _ in range(rnd.randrange(5))}


def _msgspec_reads(where: Where, raw: bytes, monkeypatch: pytest.MonkeyPatch) -> list[bytes] | None:
    with monkeypatch.context() as patched:
        patched.setattr(paths_module, "MEMBERS", None)
        return where.raw_texts(raw)


@pytest.mark.usefixtures("_reader")
def test_the_reader_finds_what_msgspec_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random documents (blanks between tokens, a key given twice, strings of quotes, escapes and brackets), every
    door's answer paths and a few others."""
    rnd = random.Random(11)
    for _ in range(3_000):
        document = {rnd.choice(KEYS): _value(rnd, 0) for _ in range(rnd.randrange(6))}
        raw = orjson.dumps(document if rnd.random() < 0.9 else _value(rnd, 0))
        if rnd.random() < 0.3:
            raw = raw.replace(b",", b" ,\t").replace(b":", b" :\r\n ")
        if rnd.random() < 0.1 and raw.startswith(b"{") and len(raw) > 2:
            raw = raw[:-1] + b',"' + rnd.choice(KEYS).encode() + b'":"again"}'
        for where in WHERES:
            assert where.raw_texts(raw) == _msgspec_reads(where, raw, monkeypatch), (where.paths, raw)


@pytest.mark.usefixtures("_reader")
@pytest.mark.parametrize(
    ("raw", "values"),
    [
        (b'{"a":1,"b":"x"}', [b"1", b'"x"', None]),
        (b' {\n "b" : [1, "]"] , "a":{"c":"}"}}', [b'{"c":"}"}', b'[1, "]"]', None]),
        (b'{"a":"one","a":"two"}', [b'"two"', None, None]),  # a client reads the last
        (b'{"c":"\\"quoted\\" \\\\"}', [None, None, b'"\\"quoted\\" \\\\"']),
        (b"{}", [None, None, None]),
    ],
)
def test_each_key_s_value_is_found_whole(raw: bytes, values: list[bytes | None]) -> None:
    assert MEMBERS is not None
    spans = MEMBERS(raw, 0, (b"a", b"b", b"c"))
    assert spans is not None
    found = [raw[begin:end] if begin >= 0 else None for begin, end in zip(spans[::2], spans[1::2], strict=True)]
    assert found == values


@pytest.mark.usefixtures("_reader")
@pytest.mark.parametrize(
    "raw",
    [
        b'{"\\u0061":"a key written with an escape"}',
        b'["not an object"]',
        b'{"a":"cut',
        b'{"a" 1}',
        b'{"a":[1,2}',
        b"",
    ],
)
def test_it_gives_up_where_a_parser_must_answer(raw: bytes) -> None:
    assert MEMBERS is not None
    assert MEMBERS(raw, 0, (b"a",)) is None


@pytest.mark.usefixtures("_reader")
def test_a_key_written_with_an_escape_is_read_by_msgspec() -> None:
    found = paths("message.content").raw_texts(b'{"message":{"cont\\u0065nt":"ada@example.com"}}')
    assert found == [b'"ada@example.com"']


@pytest.mark.usefixtures("_reader")
def test_the_reader_refuses_what_it_cannot_take() -> None:
    assert MEMBERS is not None
    with pytest.raises(TypeError):
        MEMBERS("text", 0, (b"a",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MEMBERS(b"{}", 0, ("a",))  # type: ignore[arg-type]
    assert MEMBERS(b"{}", 0, tuple(b"k%d" % n for n in range(17))) is None  # more keys than a step has


@pytest.mark.usefixtures("_reader")
def test_an_answer_is_read_without_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast way is the one taken: a chat completion's texts are found with no decoder made."""

    def no_decoder(at: object) -> object:
        raise AssertionError("msgspec's reading was used")

    monkeypatch.setattr(paths_module, "_lean_shape", no_decoder)
    answer = {"id": "chatcmpl-1", "choices": [{"message": {"content": "hi"}}], "usage": {"total_tokens": 3}}
    found = paths("choices.*.message.content", "usage.total_tokens").raw_texts(orjson.dumps(answer))
    assert found == [b'[{"message":{"content":"hi"}}]']
