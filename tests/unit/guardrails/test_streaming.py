"""A streamed text through the window and the restorer, cut at every place and at random: the releases joined
are the text, the findings are a whole-text scan's, and prose is released as it comes (only the word being
written is held)."""

from __future__ import annotations

import random

import pytest

from babelgate.guardrails.findings import Finding
from babelgate.guardrails.masking import REDACTED, Vault, mask
from babelgate.guardrails.paths import paths, slots, texts
from babelgate.guardrails.pii import ENTITIES, scanner
from babelgate.guardrails.window import StreamWindow

TEXT = (
    "Mail ada@example.com or call +44 20 7946 0958. The card 4111 1111 1111 1111 was charged; the key "
    "sk-proj-A1b2C3d4E5f6G7h8I9j0A1b2C3d4E5f6 leaked from 10.0.12.7.\n-----BEGIN PRIVATE KEY-----\nMIIEvQ\n"
    "-----END PRIVATE KEY-----\nThat is all."
)


def _stream(text: str, cuts: list[int]) -> tuple[str, list[tuple[str, str]]]:
    window = StreamWindow(scanner(ENTITIES))
    out, found = "", []
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    for released in [*(window.push(piece) for piece in pieces), window.close()]:
        found += [(f.entity, released.text[f.start : f.end]) for f in released.findings]
        out += released.text
    return out, found


WHOLE = [(f.entity, TEXT[f.start : f.end]) for f in scanner(ENTITIES).find(TEXT)]


def test_the_whole_text_holds_each_entity() -> None:
    assert [entity for entity, _ in WHOLE] == ["email", "phone", "credit_card", "secret", "ip", "secret"]


@pytest.mark.parametrize("cut", range(1, len(TEXT)))
def test_a_text_cut_in_two_anywhere_gives_the_whole_text_s_findings(cut: int) -> None:
    assert _stream(TEXT, [cut]) == (TEXT, WHOLE)


@pytest.mark.parametrize("seed", range(40))
def test_a_text_cut_at_random_gives_the_whole_text_s_findings(seed: int) -> None:
    chance = random.Random(seed)
    cuts = sorted(chance.sample(range(1, len(TEXT)), chance.randint(2, 60)))
    assert _stream(TEXT, cuts) == (TEXT, WHOLE)


def test_prose_is_released_as_it_comes() -> None:
    window = StreamWindow(scanner(ENTITIES))
    released = window.push("The answer is that the build failed twice ")
    assert released.text == "The answer is that the build failed twice "
    assert window.push("yester").text == ""  # a word being written could still become an address or a key
    assert window.push("day, sorry.").text == "yesterday, "  # `sorry.` could still be an address's start
    assert window.close().text == "sorry."


def test_masks_in_each_style_and_the_vault_gives_the_values_back() -> None:
    text = "ada@example.com wrote to bob@example.com and again to ada@example.com"
    findings = scanner(["email"]).find(text)
    assert mask(text, findings, "redact") == f"{REDACTED} wrote to {REDACTED} and again to {REDACTED}"
    assert mask(text, findings, "placeholder") == "<EMAIL> wrote to <EMAIL> and again to <EMAIL>"
    vault = Vault()
    masked = mask(text, findings, "reversible", vault)
    assert masked == "<EMAIL_1> wrote to <EMAIL_2> and again to <EMAIL_1>"
    assert vault.restore(masked) == text
    assert vault.restore("<EMAIL_3> and <PHONE_1> are not ours") == "<EMAIL_3> and <PHONE_1> are not ours"


@pytest.mark.parametrize("cut", range(1, 40))
def test_a_placeholder_split_across_pieces_is_restored(cut: int) -> None:
    vault = Vault()
    vault.placeholder("email", "ada@example.com")
    text = "Dear <EMAIL_1>, a < b and <EMAIL_1>."
    restorer = vault.restorer()
    out = restorer.push(text[:cut]) + restorer.push(text[cut:]) + restorer.close()
    assert out == "Dear ada@example.com, a < b and ada@example.com."


def test_paths_find_texts_in_every_shape_and_skip_the_rest() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "image_url", "image_url": {}}]},
            {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": '{"a": "three"}'}}]},
            {"role": "user", "content": 5},
        ],
        "input": {"nested": ["four", {"deep": "five"}]},
    }
    where = paths(
        "messages.*.content", "messages.*.content.*.text", "messages.*.tool_calls.*.function.arguments", "input.**"
    )
    assert texts(body, where) == ["one", "two", '{"a": "three"}', "four", "five"]
    for holder, key in slots(body, where):
        holder[key] = holder[key].upper()
    assert body["messages"][1]["content"][0]["text"] == "TWO" and body["input"]["nested"][1]["deep"] == "FIVE"
    assert texts({"messages": "not a list"}, where) == []


def test_overlapping_findings_keep_the_earlier_then_the_longer() -> None:
    found = scanner(["secret"]).find("sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345")
    assert found == [Finding("secret", 0, 45)]
