"""The conversation log in the store (`babelgate_conversations`, store/conversation_table.py): an `ExchangeSink`
whose rows the ledger's batching writer writes (governance/ledger.py: a bounded queue, a write every 0.5 s or per
batch, retries through an outage, the last rows at shutdown), and whose rows older than `retention` it prunes.

Rows are made here, off the request path: every text goes through the ledger's scrubber, so an upstream key a
caller pasted into a prompt is never kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

import orjson

from babelgate.conversation.record import Exchange, Message, Part
from babelgate.governance.ledger import Ledger
from babelgate.store import ResponseStore
from babelgate.store.conversation_table import LogRow

PREVIEW_CHARS: Final = 200
# Rows waiting for the store: each up to max_bytes, so fewer than the ledger's.
QUEUE_LIMIT: Final = 10_000
MESSAGES: Final = ("system", "input", "output")


class StoreLog:
    def __init__(self, store: ResponseStore, *, retention: float, scrub: Callable[[str], str]) -> None:
        self.scrub = scrub
        self.writer = Ledger(
            store,
            limit=QUEUE_LIMIT,
            retention=retention,
            scrub=scrub,
            append=store.append_conversations,
            delete_before=store.delete_conversations_before,
            what="conversation log",
        )

    def take(self, exchanges: list[Exchange]) -> None:
        for exchange in exchanges:
            self.writer.record_ready(row_of(exchange, self.scrub))

    def start(self) -> None:
        self.writer.start()

    async def flush(self) -> None:
        await self.writer.flush()

    async def aclose(self) -> None:
        await self.writer.close()


def row_of(exchange: Exchange, scrub: Callable[[str], str]) -> LogRow:
    summary = {name: value for name, value in dataclasses.asdict(exchange).items() if name not in MESSAGES}
    summary["preview"] = scrub(preview(exchange.input))
    content = {"system": exchange.system, "input": exchange.input, "output": exchange.output}
    search = "\n".join(_texts(exchange.system, [*exchange.input, *exchange.output]))
    return (
        exchange.started,
        exchange.request_id,
        exchange.key_id,
        exchange.team,
        exchange.user,
        exchange.model,
        orjson.dumps(summary).decode(),
        scrub(orjson.dumps(content).decode()),
        scrub(search),
    )


def preview(messages: list[Message]) -> str:
    """The first user text, cut to PREVIEW_CHARS."""
    for message in messages:
        if message.get("role") == "user":
            for part in message.get("parts", ()):
                if part.get("type") == "text" and isinstance(part.get("content"), str):
                    text: str = part["content"]
                    return text[:PREVIEW_CHARS]
    return ""


def _texts(system: list[Part], messages: list[Message]) -> list[str]:
    out = [_text(part) for part in system]
    out += [_text(part) for message in messages for part in message.get("parts", ())]
    return [text for text in out if text]


def _text(part: Part) -> str:
    kind = part.get("type")
    if kind in ("text", "reasoning"):
        value: Any = part.get("content")
    elif kind == "tool_call":
        value = part.get("arguments")
    elif kind == "tool_call_response":
        value = part.get("response")
    else:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode() if value is not None else ""
