"""The rate limiter's `x-ratelimit-*` lines are `CheckedLines`: made only of pieces checked where they were made
(its templates when the module loads, its reset texts when first written, numbers by `%d`), which the server of
`babelgate serve` writes without another pass over them. So every way the limiter writes them must give safe lines."""

from __future__ import annotations

import pytest

from babelgate.errors import RateLimitExceeded
from babelgate.governance import rate_limits
from babelgate.governance.rate_limits import Limits, RateLimiter, Scope, reset_bytes
from babelgate.headers import LINES, CheckedLines, lines_are_safe, pairs


def written_lines(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [value for name, value in headers if name == LINES]


async def test_an_admission_writes_checked_safe_lines_for_both_units() -> None:
    limiter = RateLimiter()
    headers: list[tuple[bytes, bytes]] = []
    await limiter.admit(
        [Scope("key", "k1", Limits(rpm=10**9, tpm=10**12)), Scope("team", "t", Limits(rpm=5))], 40, headers
    )
    lines = written_lines(headers)
    assert len(lines) == 1  # both units in one piece: the first scope limits both
    assert all(piece.__class__ is CheckedLines and lines_are_safe(piece) for piece in lines)
    assert pairs(headers) == [
        (b"x-ratelimit-limit-requests", b"1000000000"),
        (b"x-ratelimit-remaining-requests", b"999999999"),
        (b"x-ratelimit-reset-requests", b"1m0s"),
        (b"x-ratelimit-limit-tokens", b"1000000000000"),
        (b"x-ratelimit-remaining-tokens", b"999999999960"),
        (b"x-ratelimit-reset-tokens", b"1m0s"),
    ]


async def test_each_unit_is_written_by_the_first_scope_that_limits_it() -> None:
    limiter = RateLimiter()
    headers: list[tuple[bytes, bytes]] = []
    key, team, model = Limits(tpm=1000), Limits(rpm=5, tpm=10), Limits(rpm=7)
    scopes = [Scope("key", "k1", key), Scope("team", "t", team), Scope("model", "m", model)]
    await limiter.admit(scopes, 40, headers)
    lines = written_lines(headers)
    assert len(lines) == 2  # the key's tokens, the team's requests (not its tokens: the key wrote those)
    assert all(piece.__class__ is CheckedLines and lines_are_safe(piece) for piece in lines)
    assert [pair for pair in pairs(headers) if pair[0].startswith(b"x-ratelimit-limit")] == [
        (b"x-ratelimit-limit-tokens", b"1000"),
        (b"x-ratelimit-limit-requests", b"5"),
    ]


async def test_a_refusal_writes_checked_safe_lines_too() -> None:
    limiter = RateLimiter()
    scope = Scope("key", "k1", Limits(rpm=1))
    await limiter.admit([scope], 1)
    headers: list[tuple[bytes, bytes]] = []
    with pytest.raises(RateLimitExceeded):
        await limiter.admit([scope], 1, headers)
    lines = written_lines(headers)
    assert lines and all(piece.__class__ is CheckedLines and lines_are_safe(piece) for piece in lines)
    assert (b"x-ratelimit-remaining-requests", b"0") in pairs(headers)


async def test_a_refusal_for_tokens_still_says_what_remains_of_the_requests() -> None:
    limiter = RateLimiter()
    scope = Scope("key", "k1", Limits(rpm=10, tpm=100))
    await limiter.admit([scope], 90)
    headers: list[tuple[bytes, bytes]] = []
    with pytest.raises(RateLimitExceeded):
        await limiter.admit([scope], 20, headers)
    lines = written_lines(headers)
    assert len(lines) == 2 and all(piece.__class__ is CheckedLines and lines_are_safe(piece) for piece in lines)
    written = dict(pairs(headers))
    assert (written[b"x-ratelimit-remaining-requests"], written[b"x-ratelimit-remaining-tokens"]) == (b"8", b"10")


@pytest.mark.parametrize("seconds", [0.0, 0.0004, 0.25, 0.999, 1.0, 59.2, 60.0, 61.5, 3599.9, 86_400.0])
def test_every_reset_text_is_letters_and_digits(seconds: float) -> None:
    """What lets a reset text into checked lines without a look at the lines (`reset_bytes` refuses any other)."""
    assert reset_bytes(seconds).isalnum()


def test_the_templates_filled_with_any_numbers_are_safe_lines() -> None:
    for template in (rate_limits._REQUEST_LINES, rate_limits._TOKEN_LINES):
        for limit, remaining in ((0, 0), (10**12, -1), (1, 10**18)):
            filled = rate_limits._with_limit(template, limit) % (remaining, reset_bytes(61.5))
            assert lines_are_safe(filled)
    both = Scope("key", "k1", Limits(rpm=10**12, tpm=1)).lines[2]  # both units' lines, as one scope writes them
    assert lines_are_safe(both % (-1, reset_bytes(0.25), 10**18, reset_bytes(61.5)))
