"""What the bench reads from /proc: CPU time of a process (or of a process and its children), busy time
of a CPU, peak memory, bytes written, and the worker processes of a multi-process server."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CpuClock = Callable[[], float]


def stat_fields(pid: int) -> list[bytes]:
    """/proc/PID/stat's fields after the parenthesised name (which may hold spaces): field N of proc(5) is
    index N - 3 (utime, field 14, is index 11)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        data = stat.read()
    return data[data.rindex(b")") + 2 :].split()


def process_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the process so far, all threads."""
    fields = stat_fields(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def process_events(pid: int) -> tuple[int, int]:
    """(minor page faults, context switches) of the process so far, all threads: kernel work a request may cause
    that no instruction count of the gateway's own code shows (a fault costs a trip into the kernel, and in a
    virtual machine often one to the hypervisor; a switch between the event loop and a writer thread sharing one
    core, the caches of both)."""
    faults = int(stat_fields(pid)[7])  # minflt, field 10: the process's, all threads'
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        for line in status.splitlines():
            if "ctxt_switches:" in line:  # voluntary and nonvoluntary
                switches += int(line.split()[-1])
    return faults, switches


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far, from /proc/PID/stat."""
    user, system = process_cpu_split(pid)
    return user + system


def cpu_clock(pid: int) -> CpuClock:
    """A clock of one process's CPU seconds."""
    return lambda: process_cpu_seconds(pid)


def children(pid: int) -> list[int]:
    """The direct children of a process (every thread's), from /proc/PID/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return found


def descendants(pid: int) -> list[int]:
    pids = [pid]
    for child in children(pid):
        pids += descendants(child)
    return pids


def tree_cpu_clock(pid: int) -> CpuClock:
    """CPU seconds of a process and every descendant alive at each reading (nginx's master and worker,
    uvicorn's supervisor and workers). A child that exits takes its time with it, so read around runs in
    which the process tree does not change."""

    def read() -> float:
        total = 0.0
        for member in descendants(pid):
            try:
                total += process_cpu_seconds(member)
            except OSError:
                continue
        return total

    return read


def core_busy_clock(cpu: int) -> Callable[[], float]:
    """Busy seconds of one CPU so far (everything but idle and iowait), from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    prefix = f"cpu{cpu} ".encode()

    def read() -> float:
        with open("/proc/stat", "rb") as stat:
            line = next(line for line in stat if line.startswith(prefix))
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
        return (user + nice + system + irq + softirq + steal) / ticks

    return read


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS from /proc/PID/status, in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0])
    return found


def bytes_written(pid: int) -> int:
    """`wchar` of /proc/PID/io: bytes the process passed to write-like calls, sockets included."""
    with open(f"/proc/{pid}/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise OSError(f"no wchar in /proc/{pid}/io")


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def uvicorn_workers(supervisor: int, expected: int, timeout: float = 30.0) -> list[int]:
    """The worker processes of `uvicorn --workers N` (multiprocessing spawn children, not its resource
    tracker), once all `expected` are there."""
    deadline = time.monotonic() + timeout
    while True:
        workers = [pid for pid in children(supervisor) if "spawn_main" in command_line(pid)]
        if len(workers) >= expected or time.monotonic() > deadline:
            return sorted(workers)
        time.sleep(0.1)


@dataclass(frozen=True, slots=True)
class Counters:
    """CPU seconds and bytes written of one process at one moment."""

    cpu_s: float
    written: int

    @classmethod
    def read(cls, pid: int) -> Counters:
        return cls(process_cpu_seconds(pid), bytes_written(pid))


# A virtual machine's guest polls this long before it halts an idle CPU; with 0 every wake-up of an idle
# core is a round trip through the hypervisor, which hosts of one "model name" were seen to differ in.
HALT_POLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")


def cpu_identity(cpuinfo: str) -> str:
    """The first CPU's model name with its family and model numbers, from the text of /proc/cpuinfo: a
    virtual machine's model name alone ("AMD EPYC") does not tell two processor generations apart."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the end of the first CPU's block
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    model = fields.get("model name", "unknown")
    if "cpu family" in fields and "model" in fields:
        return f"{model} (family {fields['cpu family']}, model {fields['model']})"
    return model


def guest_halt_poll_ns() -> int | None:
    """How long an idle CPU polls before the guest halts it, or None when there is no haltpoll driver."""
    try:
        return int(HALT_POLL.read_text())
    except (OSError, ValueError):
        return None
