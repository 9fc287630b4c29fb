"""What the providers use of the upstream client and of an upstream's response, as protocols. The client's own
classes (`UpstreamClient`, `PooledResponse`) are one implementation and a test's stubs another: compiled code
checks a value against a class it is declared to be, never against a protocol, so the providers' compiled modules
take both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from multidict import CIMultiDictProxy

from babelgate.http.timeouts import Timeouts


class UpstreamResponse(Protocol):
    """An upstream's status and headers as they arrived, its body still to be read (`read` whole, `readany`
    piece by piece); `release` hands a finished connection back, `close` drops it."""

    status: int

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    def read_now(self) -> bytes | None:
        """The whole body when all of it has arrived, read without a coroutine; else None."""

    async def read(self, phase: str = "body") -> bytes: ...

    async def readany(self, phase: str = "stream") -> bytes: ...

    def at_eof(self) -> bool: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


class Sender(Protocol):
    """What sends a request upstream and answers with its response once the head arrived."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        provider: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
        lines: str = "",
    ) -> UpstreamResponse: ...
