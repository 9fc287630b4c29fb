"""The audit log: every admin action (who, when, what, on what, what changed, from which address), kept
in the store (documents of kind `audit`, like virtual keys: memory, SQLite or PostgreSQL), written in
the background, never in the admin request's path, and read by `GET /admin/audit`.

Never a secret in it: a change's values go through `redacted` (fields whose names say secret, key,
token or password are masked, and so is any string that looks like a gateway key `bg-…` or a
provider key `sk-…`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.audit")
KIND: Final = "audit"
FLUSH_SECONDS: Final = 0.2
RETRY_SECONDS: Final = 2.0
QUEUE_LIMIT: Final = 10_000
MASK: Final = "***"
_SECRET_NAME: Final = re.compile(r"secret|password|token|api_key|^key$|private", re.IGNORECASE)
_SECRET_VALUE: Final = re.compile(r"\b(bg|sk|sk-ant|pk|rk)-[A-Za-z0-9_\-]{8,}")


def redacted(value: Any, name: str = "") -> Any:
    """`value` with every secret masked (by its field's name, or by its look)."""
    if name and _SECRET_NAME.search(name) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, dict):
        return {str(k): redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(lambda found: found.group(1) + "-" + MASK, value)
    return value


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """What differs between two views of a thing: `{field: {"from": …, "to": …}}` (redacted)."""
    old, new = before or {}, after or {}
    out = {}
    for name in dict.fromkeys([*old, *new]):
        if old.get(name) != new.get(name):
            out[name] = {"from": redacted(old.get(name), name), "to": redacted(new.get(name), name)}
    return out


class AuditLog:
    def __init__(self, store: ResponseStore) -> None:
        self.store = store
        self._queue: deque[tuple[str, bytes]] = deque(maxlen=QUEUE_LIMIT)
        self._writer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def record(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str | None,
        address: str | None,
        change: dict[str, Any] | None = None,
        status: int = 200,
    ) -> None:
        """Queue one entry (no I/O here): the writer takes it to the store."""
        now = time.time()
        entry_id = f"{now:017.6f}-{secrets.token_hex(4)}"  # sorts by time, unique across instances
        entry = {
            "id": entry_id,
            "ts": now,
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "address": address,
            "status": status,
            "changes": redacted(change or {}),
        }
        self._queue.append((entry_id, orjson.dumps(entry)))
        self._wake.set()
        if self._writer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: written by the next flush
                self._writer = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self._write():
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def _write(self) -> bool:
        while self._queue:
            entry_id, body = self._queue[0]
            try:
                await self.store.put_document(KIND, entry_id, body)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not write the audit log (%s); retrying", type(exc).__name__)
                return False
            self._queue.popleft()
        return True

    async def flush(self) -> None:
        await self._write()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
            self._writer = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._write(), 5.0)

    async def entries(
        self,
        *,
        since: float = 0.0,
        until: float = float("inf"),
        actor: str | None = None,
        action: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Entries matching every given filter, newest first."""
        await self.flush()
        documents = await self.store.documents(KIND)
        found = []
        for entry_id in sorted(documents, reverse=True):
            entry = orjson.loads(documents[entry_id])
            if not since <= entry["ts"] < until:
                continue
            if actor is not None and entry["actor"] != actor:
                continue
            if action is not None and entry["action"] != action and not entry["action"].startswith(action + "."):
                continue
            if target_type is not None and entry["target_type"] != target_type:
                continue
            if target_id is not None and entry["target_id"] != target_id:
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found
