"""One request's guardrails at work: its texts checked before any upstream call, its answer's before the client
sees it, and what each guardrail decided, for the ledger and the metrics.

The texts are found by the door's paths (paths.py) in the door's own JSON, and masked in place there, so the
attempts send what the guardrails let through and the client gets its answer in its own format. A reversible mask
(`<EMAIL_1>`) is undone in the answer: the model never sees the original, the client gets it back.

External input checkers marked `parallel` are not waited for before the upstream call: `parallel` starts them over
the texts as the others left them, and the conductor waits for their verdict before the answer goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import orjson

from babelgate.errors import GuardrailBlocked
from babelgate.guardrails.guardrail import Guardrail, Stage, Verdict
from babelgate.guardrails.masking import Vault, mask
from babelgate.guardrails.paths import Slot, Where

log = logging.getLogger("babelgate.guardrails")


class Decisions:
    """What each guardrail did for one request (name → the strongest action it took: block > mask > log >
    allow), and the vault of its reversible masks."""

    __slots__ = ("actions", "checks", "counted", "vault")

    def __init__(self) -> None:
        self.actions: dict[str, str] = {}
        self.counted: list[tuple[str, str, str]] = []  # (name, stage, action): for the metric
        self.checks: list[tuple[str, float, float]] = []  # (stage, started, ended) by perf_counter: for the trace
        self.vault: Vault | None = None

    def note(self, name: str, stage: str, action: str) -> None:
        self.counted.append((name, stage, action))
        held = self.actions.get(name)
        if held is None or (held != action and _RANK[action] > _RANK[held]):
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
    where: Where,
    decisions: Decisions,
    model: str,
    key_id: str | None,
) -> bool:
    """Runs every guardrail of `stage` over the texts of `document` at `where`: raises GuardrailBlocked for the
    first that blocks, masks in place for those that mask. Answers whether any text changed."""
    found = where.slots(document)
    if not found:
        return False
    started = perf_counter()
    try:
        # The local guardrails here, the external ones together after them: a request or answer whose guardrails
        # are all local (the built-in detectors, `regex`, `words`) awaits nothing.
        changed = False
        externals = []
        for guard in guards:
            if not _inline(guard, stage):
                continue
            if guard.finder is None:
                externals.append(guard)
                continue
            changed = _local(guard, stage, found, decisions) or changed
        if externals:
            changed = await _externals(externals, stage, found, decisions, model, key_id) or changed
        return changed
    finally:
        decisions.checks.append((stage, started, perf_counter()))


def all_local(guards: Sequence[Guardrail], stage: Stage) -> bool:
    """Whether every guardrail that checks `stage` inline is a local one (no external checker): only those can
    let a document through from its bytes (`cleared`), so a caller need not read them for anything else."""
    for guard in guards:  # noqa: SIM110  (a loop, not `all` over a generator: one frame less every guarded answer)
        if guard.finder is None and _inline(guard, stage):
            return False
    return True


def cleared(guards: Sequence[Guardrail], stage: Stage, raw: bytes, decisions: Decisions) -> bool:
    """Whether the guardrails of `stage` are seen to let every text of the JSON `raw` through, unchanged, without
    parsing it: each is a local one that reads JSON's bytes (`clean_json`) and finds nothing there. `raw` is a
    whole document (a request's body) or the values that hold a document's texts, joined by commas (an answer's:
    `Where.raw_texts`). When so, their `allow`s are noted and the check's time, as `check` would; when not,
    `check` looks at each text."""
    if len(raw) > RAW_BOUND:
        return False
    started = perf_counter()
    chosen = []
    for guard in guards:
        if not _inline(guard, stage):
            continue
        finder = guard.finder
        if finder is None or not finder.clean_json(raw):
            return False
        chosen.append(guard)
    for guard in chosen:
        decisions.note(guard.name, stage, "allow")
    decisions.checks.append((stage, started, perf_counter()))
    return True


# Above this size a request's texts are read parsed: its bytes may be mostly something else (an image or audio in
# base64), which the finders would read for nothing.
RAW_BOUND = 32 * 1024


def _inline(guard: Guardrail, stage: Stage) -> bool:
    """Whether `guard` checks `stage` before the request goes on (a `parallel` input checker runs beside it)."""
    return stage in guard.stages and not (guard.parallel and stage == "input")


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


def parallel(
    guards: Sequence[Guardrail],
    document: Any,
    where: Where,
    decisions: Decisions,
    model: str,
    key_id: str | None,
) -> asyncio.Task[bool] | None:
    """The `parallel` input checkers started over the request's texts as they are now (after the others' masks),
    to run while the upstream answers; the task raises GuardrailBlocked for the first that blocks. None: there
    are none, or no texts."""
    chosen = [guard for guard in guards if guard.parallel and "input" in guard.stages]
    texts = [holder[key] for holder, key in where.slots(document)] if chosen else []
    if not texts:
        return None
    found: list[Slot] = [(texts, number) for number in range(len(texts))]  # a copy: nothing here changes the request
    task = asyncio.create_task(_externals(chosen, "input", found, decisions, model, key_id))
    task.add_done_callback(_seen)
    return task


def _seen(task: asyncio.Task[bool]) -> None:
    """A verdict nobody waits for any more (the upstream failed first) is read here: the loop need not report it."""
    if not task.cancelled():
        task.exception()


async def check_whole(
    guards: Sequence[Guardrail], texts: list[str], decisions: Decisions, model: str, key_id: str | None
) -> None:
    """The external output checkers over a streamed answer's texts, whole, at its end: raises GuardrailBlocked.
    What they would mask has already gone out, so a mask is recorded as `log`."""
    chosen = [guard for guard in guards if guard.external is not None and "output" in guard.stages]
    if chosen and texts:
        found: list[Slot] = [(texts, number) for number in range(len(texts))]
        await _externals(chosen, "output", found, decisions, model, key_id, can_mask=False)


async def _externals(
    guards: list[Guardrail],
    stage: Stage,
    found: list[Slot],
    decisions: Decisions,
    model: str,
    key_id: str | None,
    *,
    can_mask: bool = True,
) -> bool:
    """The external checkers, all at once (each within its timeout), over the texts as the local ones left them."""
    texts = [holder[key] for holder, key in found]
    verdicts = await asyncio.gather(*(_ask(guard, texts, stage, model, key_id) for guard in guards))
    changed = False
    for guard, verdict in zip(guards, verdicts, strict=True):
        if verdict.failed:
            log.warning("guardrail %s (%s) failed: %s", guard.name, stage, verdict.reason)
            if not guard.fail_open:
                decisions.note(guard.name, stage, "block")
                raise GuardrailBlocked(guard.name, stage)
            decisions.note(guard.name, stage, "failed_open")
            continue
        if verdict.action == "allow":
            decisions.note(guard.name, stage, "allow")
            continue
        if verdict.reason:
            log.info("guardrail %s (%s): %s %s", guard.name, stage, verdict.action, verdict.reason)
        if guard.action == "log" or (not can_mask and guard.action == "mask" and verdict.action == "mask"):
            decisions.note(guard.name, stage, "log")  # the checker's opinion is recorded, nothing else
            continue
        if verdict.action == "block" or guard.action == "block" or (verdict.texts is None and not verdict.findings):
            decisions.note(guard.name, stage, "block")
            raise GuardrailBlocked(guard.name, stage)
        replacements = verdict.texts if verdict.texts is not None else _masked(guard, texts, verdict, decisions)
        for (holder, key), text in zip(found, replacements, strict=False):
            if holder[key] != text:
                holder[key] = text
                changed = True
        decisions.note(guard.name, stage, "mask")
    return changed


def _masked(guard: Guardrail, texts: list[str], verdict: Verdict, decisions: Decisions) -> list[str]:
    """Each text with the places the checker found masked in the guardrail's style (a reversible one in the
    request's vault, so that the answer gets the originals back)."""
    vault = decisions.vault_for() if guard.mask_style == "reversible" else None
    findings = verdict.findings or ()
    return [
        mask(text, found, guard.mask_style, vault) if found else text
        for text, found in zip(texts, [*findings, *[()] * (len(texts) - len(findings))], strict=False)
    ]


async def _ask(guard: Guardrail, texts: list[str], stage: Stage, model: str, key_id: str | None) -> Verdict:
    external = guard.external
    assert external is not None
    try:
        return await asyncio.wait_for(external.check(texts, stage, model, key_id), guard.timeout)
    except TimeoutError:
        return Verdict("allow", reason=f"no answer within {guard.timeout} s", failed=True)
    except Exception as error:  # whatever went wrong, the checker did not answer: its `fail` decides
        return Verdict("allow", reason=f"{type(error).__name__}: {error}", failed=True)


def restore(document: Any, where: Where, decisions: Decisions) -> bool:
    """Puts back what reversible masks hid, in the answer's texts; answers whether any changed."""
    vault = decisions.vault
    if vault is None:
        return False
    changed = False
    for holder, key in where.slots(document):
        text = holder[key]
        restored = vault.restore(text)
        if restored != text:
            holder[key] = restored
            changed = True
    return changed
