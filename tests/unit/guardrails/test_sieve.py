"""The PII sieve (`_sieve.c`): where it says a text holds no candidate, RE2 finds none there, for every family, at
every place a candidate can sit in its blocks of 64 bytes; and most text a person writes passes it unread by RE2."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys

import orjson
import pytest

from babelgate.guardrails.pii import ENTITIES
from babelgate.guardrails.pii.candidates import FAMILIES, SIEVE, SIEVE_BITS, SIEVE_JSON, PiiScanner, _spans
from tests.services import unavailable


@pytest.fixture(autouse=True)
def _built() -> None:
    """Each test needs the sieve, which an install without a C compiler does not build: it skips then, or fails
    under BABELGATE_REQUIRE_SERVICES=1 (CI), where a missing sieve would be a thinner run."""
    if SIEVE is None:
        unavailable("the PII sieve was not built: no C compiler at install (gcc; then make install)")


ALL = PiiScanner(ENTITIES)
# One candidate (or more) of each family, and of the JSON reader's own marks.
CANDIDATES = [
    "ada@example.com",
    "-----BEGIN RSA PRIVATE KEY-----",
    "sk-proj-abcdefghijklmnopqrstuvwx",
    "xoxb-1234567890",
    "AKIAABCDEFGHIJKLMNOP",
    "eyJhbGciOiJI.eyJzdWIiOiIx.c2lnbmF0dXJl",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "2001:db8::1",
    "fe80::",
    "+44 20 7946 0958",
    "(415) 555-0132",
    "4111 1111 1111 1111",
    "123-45-6789",
    "192.168.10.1",
    "1 2 3 4",
    "(0) 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9",
    "\\u00e9",
    "caf\u00e9",
]
# What a sieve that says "maybe" to everything would not pass.
CLEAN = [
    "Our service runs 12 replicas across 3 regions; in March 2024 p99 rose from 180 ms to 240 ms at 1,500 rps. "
    "The handler is `def handle(event): return {'status': 200}` at https://example.com/dash?range=7d. Why?",
    "What is a load balancer?\nIn 2 lines, please.",
    "Note: the build at 10:42 failed; rerun with `make test` (exit 2). Price: $1,299.00 per seat, 30 days.",
    "",
]


def _body(content: str) -> bytes:
    return orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})


def _holds(scanner: PiiScanner, data: bytes) -> bool:
    """Whether RE2 finds a candidate of the JSON reader (a byte that is not ASCII, a `\\u`) in `data`."""
    assert scanner._json is not None
    return bool(_spans(scanner._json, data))


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_a_candidate_is_seen_at_every_place_in_a_block(candidate: str) -> None:
    raw = candidate.encode()
    for offset in range(0, 140):
        data = b"w " * (offset // 2) + b"w" * (offset % 2) + b" " + raw + b" end"
        assert _holds(ALL, data)
        assert SIEVE is not None and SIEVE(data, ALL._kinds | SIEVE_JSON), (offset, data)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_where_the_sieve_says_no_re2_finds_nothing_for_each_family(family: str) -> None:
    """Random texts of the bytes the candidates are made of, each family's reader against its sieve alone."""
    entities = next(iter(FAMILIES[family][1]))
    scanner = PiiScanner([entities])
    kinds = sum(SIEVE_BITS[name] for name in scanner.families) | SIEVE_JSON
    alphabet = "aZ09 ()+.-_@:\\uBEGINAKIskxoeyJf\u00e9"
    rnd = random.Random(family)
    passed = 0
    for _ in range(20_000):
        data = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 150))).encode()
        assert SIEVE is not None
        if not SIEVE(data, kinds):
            passed += 1
            assert not _holds(scanner, data), data
    assert passed > 0  # the sieve said no to some: the comparison was made


def test_text_a_person_writes_passes_unread() -> None:
    for text in CLEAN:
        assert SIEVE is not None
        assert not SIEVE(text.encode(), ALL._kinds)
        assert not SIEVE(_body(text), ALL._kinds | SIEVE_JSON)
        assert ALL.clean_json(_body(text))


def test_findings_are_the_same_with_and_without_the_sieve() -> None:
    without = PiiScanner(ENTITIES)
    without._sieve = None
    rnd = random.Random(7)
    words = [*CANDIDATES, *CLEAN[0].split(), "12:30", "v2.3.1", "ID 42", "\n", "1,500"]
    for _ in range(3_000):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 12)))
        assert ALL.find(text) == without.find(text), text
        assert ALL.clean_json(_body(text)) == without.clean_json(_body(text)), text


def test_the_sieve_refuses_what_is_not_bytes() -> None:
    assert SIEVE is not None
    with pytest.raises(TypeError):
        SIEVE("text", 1)  # type: ignore[arg-type]


def test_the_classifiers_answer_alike() -> None:
    """The classifier chosen at import (AVX2 where the processor has it) against SSE2's and the table's, which a
    processor without either runs, on the same texts."""
    script = (
        "import random, sys\n"
        "from babelgate.guardrails.pii import _sieve\n"
        "rnd = random.Random(3)\n"
        "alphabet = 'aZ09 ()+.-_@:\\\\uBEGINAKIskxoeyJf\\u00e9'\n"
        "texts = [''.join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 300))).encode() for _ in range(5000)]\n"
        "print(_sieve.classifier, ''.join('1' if _sieve.may_hold(t, 127) else '0' for t in texts))\n"
    )
    answers = {}
    for env in ({}, {"BABELGATE_SIEVE_CLASSIFIER": "sse2"}, {"BABELGATE_SIEVE_CLASSIFIER": "table"}):
        done = subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        name, bits = done.stdout.split()
        answers[name] = bits
    assert "table" in answers and ("sse2" in answers or platform.machine() not in ("x86_64", "AMD64"))
    assert len(set(answers.values())) == 1
    assert "0" in next(iter(answers.values())) and "1" in next(iter(answers.values()))
