"""Every client a test makes says how long it waits: the official SDKs wait up to ten minutes by default
(openai, anthropic) or forever (google-genai, ollama), so on a slow machine one lost answer would hang the
suite instead of failing the test that lost it."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# The constructors whose default wait is long or unbounded, by the name they are called by.
CLIENTS = frozenset(
    {
        "OpenAI",
        "AsyncOpenAI",
        "Anthropic",
        "AsyncAnthropic",
        "AnthropicBedrock",
        "AsyncAnthropicBedrock",
        "AnthropicVertex",
        "AsyncAnthropicVertex",
        "HttpOptions",  # google-genai's; its Client takes its timeout from these
        "ollama.Client",
        "ollama.AsyncClient",
        "httpx.Client",
        "httpx.AsyncClient",
    }
)


def _called(node: ast.Call) -> str:
    name = ast.unparse(node.func)
    short = name.rsplit(".", 1)[-1]
    return name if name in CLIENTS else short if short in CLIENTS and not short.endswith("Client") else ""


def _without_timeout(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and _called(node):
            keywords = {keyword.arg for keyword in node.keywords}
            if "timeout" not in keywords and None not in keywords:  # None: **options, checked where they are made
                found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno} {ast.unparse(node.func)}(…)")
    return found


def test_every_client_a_test_makes_has_an_explicit_timeout() -> None:
    missing = [place for path in sorted(TESTS.rglob("*.py")) for place in _without_timeout(path)]
    assert missing == [], "clients without an explicit timeout:\n" + "\n".join(missing)
