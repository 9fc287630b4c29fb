"""A batch whose every chunk is recorded is finished once, by the holder of its finishing chunk (engine.py): an
OpenAI batch gets its output file (the lines answered with a 2xx) and its error file (the others, and the lines its
window closed on), in OpenAI's batch output format, written page by page so a large batch never sits in memory; a
Messages batch's results are read from the lines' outcomes when asked for (frontends/batches/)."""

from __future__ import annotations

import secrets
import time
from typing import Any, Final, Protocol

import orjson

from babelgate.frontends.batches.files import DAY, OUTPUT_DAYS, OUTPUT_PURPOSE, new_file_id
from babelgate.store.batch_records import BatchStore, FileRecord, Outcome
from babelgate.store.file_contents import ContentWriter, FileContents


class Keeping(Protocol):
    """Where a batch's records and its files' contents are kept: what finishing it needs of the engine."""

    @property
    def store(self) -> BatchStore: ...

    @property
    def contents(self) -> FileContents: ...


PAGE: Final = 1000  # outcomes read at a time
# The statuses of a batch being finished: no instance claims its lines any more (not live), the one that moved it
# there writes its files. The API shows the second as `cancelling` until it is `cancelled`.
FINALIZING: Final = "finalizing"
CANCEL_FINALIZING: Final = "cancel_finalizing"


async def finish(engine: Keeping, batch_id: str) -> None:
    """Called by the holder of the batch's finishing chunk once every line is recorded (engine.py); one that
    takes over from a crashed finisher redoes what it had not done."""
    store = engine.store
    for _ in range(2):  # a cancel may come between the read and the move: then it is finished as cancelled
        batch = await store.get_batch(batch_id)
        if batch is None:
            return
        if batch.status in ("cancelling", CANCEL_FINALIZING):
            await store.set_status(batch_id, CANCEL_FINALIZING, since=("cancelling", CANCEL_FINALIZING), body={})
            ended, stamp = "cancelled", "cancelled_at"
            break
        if batch.status not in ("in_progress", "validating", FINALIZING):
            return
        moved = await store.set_status(
            batch_id,
            FINALIZING,
            since=("in_progress", "validating", FINALIZING),
            body={"finalizing_at": batch.body.get("finalizing_at") or int(time.time())},
        )
        if moved:
            ended, stamp = ("expired", "expired_at") if batch.expired > 0 else ("completed", "completed_at")
            break
    else:
        return
    body: dict[str, Any] = {stamp: int(time.time())}
    if batch.api == "openai":
        body |= await _write_files(engine, batch_id, batch.owner, batch.team)
    else:
        body["ended_at"] = int(time.time())
    await store.set_status(batch_id, ended, since=(FINALIZING, CANCEL_FINALIZING), body=body)


async def _write_files(engine: Keeping, batch_id: str, owner: str | None, team: str | None) -> dict[str, Any]:
    """The output and error files, each made only when it has a line."""
    output = _File(engine, f"{batch_id}_output.jsonl")
    errors = _File(engine, f"{batch_id}_error.jsonl")
    after = -1
    while True:
        page = await engine.store.outcomes(batch_id, after, PAGE)
        for outcome in page:
            if outcome.kind == "canceled":
                continue
            target = output if outcome.succeeded else errors
            target.add(output_line(outcome))
        await output.write_out()
        await errors.write_out()
        if len(page) < PAGE:
            break
        after = page[-1].line
    return {
        "output_file_id": await output.commit(owner, team),
        "error_file_id": await errors.commit(owner, team),
    }


def output_line(outcome: Outcome) -> bytes:
    """A line of OpenAI's batch output format: `{id, custom_id, response: {status_code, request_id, body}, error}`."""
    line_id = f"batch_req_{secrets.token_hex(12)}"
    if outcome.kind == "expired":
        error = {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        }
        return orjson.dumps({"id": line_id, "custom_id": outcome.custom_id, "response": None, "error": error}) + b"\n"
    try:
        body: Any = orjson.Fragment(outcome.body) if outcome.body else {}
        orjson.loads(outcome.body or b"{}")
    except orjson.JSONDecodeError:
        body = outcome.body.decode("utf-8", "replace")
    response = {"status_code": outcome.status, "request_id": outcome.request_id, "body": body}
    return orjson.dumps({"id": line_id, "custom_id": outcome.custom_id, "response": response, "error": None}) + b"\n"


class _File:
    def __init__(self, engine: Keeping, filename: str) -> None:
        self.engine = engine
        self.filename = filename
        self.id = new_file_id()
        self.lines: list[bytes] = []
        self.writer: ContentWriter | None = None
        self.size = 0

    def add(self, line: bytes) -> None:
        self.lines.append(line)

    async def write_out(self) -> None:
        if not self.lines:
            return
        if self.writer is None:
            self.writer = self.engine.contents.writer(self.id)
        data, self.lines = b"".join(self.lines), []
        self.size += len(data)
        await self.writer.append(data)

    async def commit(self, owner: str | None, team: str | None) -> str | None:
        if self.writer is None:
            return None
        await self.writer.commit()
        now = int(time.time())
        await self.engine.store.put_file(
            FileRecord(self.id, owner, team, OUTPUT_PURPOSE, self.filename, self.size, now, now + OUTPUT_DAYS * DAY)
        )
        return self.id
