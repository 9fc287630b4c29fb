"""The ledger's spool: rows that could not reach the store when the gateway stopped, kept on disk
(one JSON object per line, fsynced) and written to the store at the next start.

A spool file is named after the store it belongs to (a hash of the store's address, never its
password), so a gateway replays only rows meant for its own store, whatever else shares the
directory. A file appears whole or not at all (written under a temporary name, fsynced, renamed),
and is replayed in one store write: its rows are all in the store or none are, and the file goes
once they are. Gateways sharing the directory (the workers of one `babelgate serve`) each take a
file under an exclusive lock, so no file is replayed twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from babelgate.store.ledger_table import Row, as_dict, row_of
from babelgate.store.open import without_password

log = logging.getLogger("babelgate.ledger")
SUFFIX: Final = ".jsonl"


def store_tag(url: str) -> str:
    """Names the store a spool file belongs to: the store URL without its password, hashed."""
    return hashlib.sha256(without_password(url).encode()).hexdigest()[:16]


@dataclass
class Claimed:
    """A spool file this gateway holds the lock of, and how many rows it holds (read when written,
    so that files waiting for the store hold no memory)."""

    path: Path
    fd: int
    rows: int


@dataclass
class LedgerSpool:
    directory: Path
    tag: str
    _claimed: dict[Path, Claimed] = field(default_factory=dict)

    def write(self, rows: list[Row]) -> Path:
        """Keeps `rows` in a new spool file and answers its path; raises OSError when it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"ledger-{self.tag}-{os.getpid()}-{time.time_ns()}"
        temporary, final = self.directory / f".{name}.tmp", self.directory / f"{name}{SUFFIX}"
        try:
            # Owner only: rows name keys, teams and what failed (never a secret, still not for everyone).
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                for row in rows:
                    # By column name: a file kept across an upgrade that adds a column still reads.
                    file.write(orjson.dumps(as_dict(row), option=orjson.OPT_APPEND_NEWLINE))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        _sync_directory(self.directory)  # the rename itself survives a power cut
        return final

    def claim(self) -> list[Claimed]:
        """Takes every spool file of this store that no other gateway holds. A file
        that cannot be read stays where it is (and is left to the operator), the others are claimed."""
        found: list[Claimed] = []
        try:
            names = sorted(self.directory.glob(f"ledger-{self.tag}-*{SUFFIX}"))
        except OSError:
            return found
        for path in names:
            if path in self._claimed:
                found.append(self._claimed[path])
                continue
            claimed = _lock(path)
            if claimed is not None:
                self._claimed[path] = claimed
                found.append(claimed)
        return found

    @staticmethod
    def read(claimed: Claimed) -> list[Row]:
        return [row_of(orjson.loads(line)) for line in _lines(claimed.fd)]

    def done(self, claimed: Claimed) -> None:
        """The file's rows are in the store: the file goes (before its lock, so no other gateway
        that waited for the lock finds it still there)."""
        with contextlib.suppress(FileNotFoundError):
            claimed.path.unlink()
        _sync_directory(self.directory)
        self._release(claimed)

    def release_all(self) -> None:
        """Lets go of the files not replayed: they stay for the next start."""
        for claimed in list(self._claimed.values()):
            self._release(claimed)

    def _release(self, claimed: Claimed) -> None:
        # Closed once, by whoever takes it out of `_claimed` (a replay's `done` runs in a thread while the gateway
        # may be closing): a second `os.close` of the number would close whatever file or socket got it since.
        if self._claimed.pop(claimed.path, None) is not claimed:
            return
        with contextlib.suppress(OSError):
            os.close(claimed.fd)


def _lock(path: Path) -> Claimed | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # gone: replayed by another gateway meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_nlink == 0:
            raise OSError("replayed by another gateway")  # it took the lock, wrote the rows and unlinked it
        lines = _lines(fd)
        for line in lines:
            orjson.loads(line)  # a file cut short or edited is left to the operator, not half replayed
        rows = len(lines)
    except OSError:
        os.close(fd)
        return None
    except orjson.JSONDecodeError as exc:
        os.close(fd)
        log.warning("ledger spool file %s is not JSON lines (%s): left in place", path, exc)
        return None
    return Claimed(path, fd, rows)


def _lines(fd: int) -> list[bytes]:
    with os.fdopen(os.dup(fd), "rb") as file:
        file.seek(0)
        return [line for line in file if line.strip()]


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def spool_for(store_url: str, directory: Path) -> LedgerSpool | None:
    """The spool of a store; none for the memory store, whose rows end with the process anyway."""
    if store_url in ("memory", "memory:"):
        return None
    return LedgerSpool(directory, store_tag(store_url))
