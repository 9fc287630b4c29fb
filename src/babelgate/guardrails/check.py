"""One request's guardrails at work: its texts checked before any upstream call, its answer's before the client
sees it, and what each guardrail decided, for the ledger and the metrics.

The texts are found by the door's paths (paths.py) in the door's own JSON, and masked in place there, so the
attempts send what the guardrails let through and the client gets its answer in its own format. A reversible mask
(`<EMAIL_1>`) is undone in the answer: the model never sees the original, the client gets it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from babelgate.errors import GuardrailBlocked
from babelgate.guardrails.guardrail import Guardrail, Stage, Verdict
from babelgate.guardrails.masking import Vault, mask
from babelgate.guardrails.paths import Path, Slot, slots


class Decisions:
    """What each guardrail did for one request (name → the strongest action it took: block > mask > log >
    allow), and the vault of its reversible masks."""

    __slots__ = ("actions", "counted", "vault")

    def __init__(self) -> None:
        self.actions: dict[str, str] = {}
        self.counted: list[tuple[str, str, str]] = []  # (name, stage, action): for the metric
        self.vault: Vault | None = None

    def note(self, name: str, stage: str, action: str) -> None:
        self.counted.append((name, stage, action))
        if _RANK.get(action, 0) >= _RANK.get(self.actions.get(name, ""), -1):
            self.actions[name] = action

    def ledger_value(self) -> str:
        """The ledger's `guardrails` column: each guardrail's action, as JSON."""
        return orjson.dumps(self.actions).decode()

    def vault_for(self) -> Vault:
        vault = self.vault
        if vault is None:
            vault = self.vault = Vault()
        return vault


_RANK = {"allow": 0, "failed_open": 1, "log": 2, "mask": 3, "block": 4}


async def check(
    guards: Sequence[Guardrail],
    stage: Stage,
    document: Any,
    where: tuple[Path, ...],
    decisions: Decisions,
    model: str,
    key_id: str | None,
) -> bool:
    """Runs every guardrail of `stage` over the texts of `document` at `where`: raises GuardrailBlocked for the
    first that blocks, masks in place for those that mask. Answers whether any text changed."""
    found = slots(document, where)
    if not found:
        return False
    changed = False
    externals = []
    for guard in guards:
        if stage not in guard.stages:
            continue
        if guard.finder is None:
            externals.append(guard)
            continue
        changed = _local(guard, stage, found, decisions) or changed
    if externals:
        changed = await _externals(externals, stage, found, decisions, model, key_id) or changed
    return changed


def _local(guard: Guardrail, stage: Stage, found: list[Slot], decisions: Decisions) -> bool:
    finder = guard.finder
    assert finder is not None
    changed = False
    hit = False
    for holder, key in found:
        text = holder[key]
        findings = finder.find(text)
        if not findings:
            continue
        hit = True
        if guard.action == "block":
            decisions.note(guard.name, stage, "block")
            raise GuardrailBlocked(guard.name, stage)
        if guard.action == "mask":
            vault = decisions.vault_for() if guard.mask_style == "reversible" else None
            holder[key] = mask(text, findings, guard.mask_style, vault)
            changed = True
    decisions.note(guard.name, stage, guard.action if hit else "allow")
    return changed


async def _externals(
    guards: list[Guardrail], stage: Stage, found: list[Slot], decisions: Decisions, model: str, key_id: str | None
) -> bool:
    """The external checkers, all at once (each within its timeout), over the texts as the local ones left them."""
    texts = [holder[key] for holder, key in found]
    verdicts = await asyncio.gather(*(_ask(guard, texts, stage, model, key_id) for guard in guards))
    changed = False
    for guard, verdict in zip(guards, verdicts, strict=True):
        if verdict.failed:
            if not guard.fail_open:
                decisions.note(guard.name, stage, "block")
                raise GuardrailBlocked(guard.name, stage)
            decisions.note(guard.name, stage, "failed_open")
            continue
        if verdict.action == "allow":
            decisions.note(guard.name, stage, "allow")
            continue
        if guard.action == "log":  # the checker's opinion is recorded, nothing else
            decisions.note(guard.name, stage, "log")
            continue
        if verdict.action == "block" or verdict.texts is None or guard.action == "block":
            decisions.note(guard.name, stage, "block")
            raise GuardrailBlocked(guard.name, stage)
        for (holder, key), text in zip(found, verdict.texts, strict=False):
            if holder[key] != text:
                holder[key] = text
                changed = True
        decisions.note(guard.name, stage, "mask")
    return changed


async def _ask(guard: Guardrail, texts: list[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
    external = guard.external
    assert external is not None
    try:
        return await asyncio.wait_for(external.check(texts, stage, model, key_id), guard.timeout)
    except (TimeoutError, OSError, ValueError) as error:
        return Verdict("allow", reason=f"{type(error).__name__}: {error}", failed=True)


def restore(document: Any, where: tuple[Path, ...], decisions: Decisions) -> bool:
    """Puts back what reversible masks hid, in the answer's texts; answers whether any changed."""
    vault = decisions.vault
    if vault is None:
        return False
    changed = False
    for holder, key in slots(document, where):
        text = holder[key]
        restored = vault.restore(text)
        if restored != text:
            holder[key] = restored
            changed = True
    return changed
