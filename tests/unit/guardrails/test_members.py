"""The C reader of a JSON object's members (`_members.c`), by which `Where.raw_texts` finds an answer's texts in its
bytes: on every document it reads the same values as msgspec's reading (which it falls back to), and it gives up
where only a parser could answer rightly."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from babelgate.frontends.anthropic_messages.routes import TEXTS as MESSAGES
from babelgate.frontends.gemini.routes import TEXTS as GEMINI
from babelgate.frontends.openai_chat.routes import TEXTS as CHAT
from babelgate.frontends.responses.texts import TEXTS as RESPONSES
from babelgate.guardrails import paths as paths_module
from babelgate.guardrails.paths import MEMBERS, Where, paths
from tests.services import unavailable


@pytest.fixture(autouse=True)
def _built() -> None:
    """Each test needs the reader, which an install without a C compiler does not build: it skips then, or fails
    under BABELGATE_REQUIRE_SERVICES=1 (CI)."""
    if MEMBERS is None:
        unavailable("the JSON members' reader was not built: no C compiler at install (gcc; then make install)")


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


def test_a_key_written_with_an_escape_is_read_by_msgspec() -> None:
    found = paths("message.content").raw_texts(b'{"message":{"cont\\u0065nt":"ada@example.com"}}')
    assert found == [b'"ada@example.com"']


def test_the_reader_refuses_what_it_cannot_take() -> None:
    assert MEMBERS is not None
    with pytest.raises(TypeError):
        MEMBERS("text", 0, (b"a",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MEMBERS(b"{}", 0, ("a",))  # type: ignore[arg-type]
    assert MEMBERS(b"{}", 0, tuple(b"k%d" % n for n in range(17))) is None  # more keys than a step has


def test_an_answer_is_read_without_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast way is the one taken: a chat completion's texts are found with no decoder made."""

    def no_decoder(at: object) -> object:
        raise AssertionError("msgspec's reading was used")

    monkeypatch.setattr(paths_module, "_lean_shape", no_decoder)
    answer = {"id": "chatcmpl-1", "choices": [{"message": {"content": "hi"}}], "usage": {"total_tokens": 3}}
    found = paths("choices.*.message.content", "usage.total_tokens").raw_texts(orjson.dumps(answer))
    assert found == [b'[{"message":{"content":"hi"}}]']
