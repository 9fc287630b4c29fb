"""What a `mask` guardrail puts in place of what it found: `[REDACTED]`, a placeholder naming the kind
(`<EMAIL>`), or a numbered one (`<EMAIL_1>`) a `Vault` can undo in the answer. Placeholders hold no character
JSON escapes, so they survive inside a tool call's arguments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from babelgate.guardrails.findings import Finding

REDACTED: Final = "[REDACTED]"
_NOT_NAME: Final = re.compile(r"[^A-Z0-9]+")


def label(entity: str) -> str:
    """A placeholder's name for an entity: `credit_card` → `CREDIT_CARD`."""
    return _NOT_NAME.sub("_", entity.upper()).strip("_") or "TEXT"


def mask(text: str, findings: Sequence[Finding], style: str, vault: Vault | None = None) -> str:
    """`text` with each finding (sorted, not overlapping) replaced in `style`; `reversible` needs the vault."""
    out = []
    at = 0
    for finding in findings:
        out.append(text[at : finding.start])
        if style == "redact":
            out.append(REDACTED)
        elif style == "reversible":
            assert vault is not None, "a reversible mask needs the request's vault"
            out.append(vault.placeholder(finding.entity, text[finding.start : finding.end]))
        else:
            out.append(f"<{label(finding.entity)}>")
        at = finding.end
    out.append(text[at:])
    return "".join(out)


class Vault:
    """One request's reversible placeholders: the same value gets the same placeholder in all its texts."""

    __slots__ = ("_by_value", "_originals", "_pattern", "longest")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self.longest = 0

    def placeholder(self, entity: str, value: str) -> str:
        found = self._by_value.get((entity, value))
        if found is None:
            name = label(entity)
            number = sum(1 for kind, _ in self._by_value if label(kind) == name) + 1
            found = self._by_value[entity, value] = f"<{name}_{number}>"
            self._originals[found] = value
            self.longest = max(self.longest, len(found))
            self._pattern = None
        return found

    def restore(self, text: str) -> str:
        """`text` with this vault's placeholders put back (anything else that looks like one is left alone)."""
        if not self._originals or text.find("<") < 0:
            return text
        pattern = self._pattern
        if pattern is None:
            pattern = self._pattern = re.compile("|".join(map(re.escape, self._originals)))
        return pattern.sub(lambda match: self._originals[match.group()], text)

    def restorer(self) -> Restorer:
        return Restorer(self)

    def hide(self, text: str) -> str:
        """`text` with this vault's values masked again (the conversation log keeps the answer as the model gave
        it, not as the client got it back)."""
        for value, placeholder in sorted(
            ((value, placeholder) for (_, value), placeholder in self._by_value.items()), key=lambda pair: -len(pair[0])
        ):
            text = text.replace(value, placeholder)
        return text


class Restorer:
    """A vault's restore over a text that arrives in pieces: a placeholder split across pieces is still put
    back; text that cannot begin one goes out at once."""

    __slots__ = ("_held", "_vault")

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._held = ""

    def push(self, piece: str) -> str:
        text = self._held + piece
        cut = text.rfind("<")
        # Held from the last `<` when what follows it could still grow into a placeholder.
        if cut >= 0 and text.find(">", cut) < 0 and len(text) - cut < self._vault.longest:
            self._held = text[cut:]
            text = text[:cut]
        else:
            self._held = ""
        return self._vault.restore(text)

    def close(self) -> str:
        held, self._held = self._held, ""
        return self._vault.restore(held)
