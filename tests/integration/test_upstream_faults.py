"""Upstream faults, for every provider and frontend: whatever an upstream does wrong, the client gets a clear
error in its own format within the configured timeouts — never a hang, never a quiet success made of a
truncated answer — and a retry or a fallback, where configured, recovers.

The faults come from `tests/fakes/faults.py`: a proxy in front of each fake upstream (OpenAI, Anthropic,
Gemini, Mistral, and OpenAI's own Responses API for the native road) that breaks answers as the upstream
model name asks (`gpt-4o-mini~stall_head~…`); fakes and proxies run in a process of their own. One gateway,
in this process, holds every case as a model of its own, with short timeouts. The official clients drive
it: `openai` (Chat Completions, Responses), `anthropic` (Messages) and `ollama` (/api/chat), streaming
and not.

The cases mostly wait on timeouts, so a round runs them all at once. The module's fixture runs the first
round; its first test runs a second one and shows that descriptors, upstream connections and memory came
back to the same figures after each (and that the second round's outcomes are as right as the first's);
then each parametrized test checks its own case of the first round. `pytest -s` prints the figures.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import anthropic
import httpx
import ollama
import openai
import orjson
import pytest

from babelgate import streaming
from babelgate.config import load_config
from babelgate.http.connection import MAX_ANSWER_BYTES
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, UPSTREAM_KEY, start_gateway
from tests.fakes.faults import INJECTED, MARK, Fault, FaultServers, MiB, fault_model, refusing_url
from tests.fakes.servers import LoopThread, RunningApp

# The gateway's limits: short, so that the stalls cost little (a round lasts about as long as its
# slowest case), yet long enough for a loaded machine to answer a healthy call in time.
CONNECT, FIRST_BYTE, CHUNK, TOTAL = 1.0, 0.8, 0.8, 1.6
MARGIN: Final = 1.5  # what the gateway may take beyond the limit that ends a case (the proxies' clock)
# And the client that got its answer: its threads share this process with the gateway and the round's other
# cases, and wait their turn for the CPU on a busy machine (the suite's other worker, a core taken elsewhere).
CLIENT_MARGIN: Final = 3.0
DRAIN: Final = 3.0  # and a slow reader beyond that: what the sockets still hold when the gateway gives up
CLIENT_TIMEOUT: Final = 20.0  # far above any case: a client that waits this long found a hang
WORKERS: Final = 24
# The rounds' oversized answers need only pass the gateway's limits, which the fixture lowers (the
# client's max_answer_bytes, streaming.MAX_EVENT_BYTES); test_default_limits_bound_a_200_mb_answer sends
# 200 MB against the defaults.
MAX_EVENT_BYTES: Final = streaming.MAX_EVENT_BYTES
MATRIX_OVERSIZE: Final = 8 * MiB
MATRIX_LIMIT: Final = 1 * MiB
LEAK_BOUND: Final = 8 * MiB  # what a round may add to the process's RSS: 650 cases, 12.6 KiB each
USER: Final = [{"role": "user", "content": "Hi"}]
ANSWER: Final = "Hello!"  # what every fake (and the proxy's Responses API) says when nothing breaks


@dataclass(frozen=True)
class Upstream:
    type: str
    model: str
    key_env: str
    key: str
    path: str = ""  # what the provider's base_url adds to the fake's root


PROVIDERS: Final = {
    "openai": Upstream("openai", "gpt-4o-mini", "OPENAI_API_KEY", UPSTREAM_KEY, "/v1"),
    "anthropic": Upstream("anthropic", "claude-sonnet-4-5", "ANTHROPIC_API_KEY", ANTHROPIC_KEY),
    "gemini": Upstream("gemini", "gemini-2.5-flash", "GEMINI_API_KEY", GEMINI_KEY),
    "mistral": Upstream("mistral", "mistral-small-latest", "MISTRAL_API_KEY", MISTRAL_KEY),
}
NATIVE: Final = "openai_native"  # OpenAI's own Responses API (models with `native_responses: true`)
FRONTENDS: Final = (
    "chat",
    "chat_stream",
    "messages",
    "messages_stream",
    "ollama",
    "ollama_stream",
    "responses",
    "responses_stream",
)
JSON_FAULTS: Final = (
    Fault.REFUSED,
    Fault.HANGUP,
    Fault.RESET,
    Fault.STALL_HEAD,
    Fault.STALL_BODY,
    Fault.MALFORMED,
    Fault.TRUNCATED,
    Fault.ERROR_200,
    Fault.OVERSIZED,
    Fault.DRIP,
)
STREAM_FAULTS: Final = (*JSON_FAULTS, Fault.ERROR_EVENT, Fault.ENDLESS)
# Before any byte of the answer: nothing reached the client, so the client gets an HTTP error.
BEFORE_ANSWER: Final = frozenset({Fault.REFUSED, Fault.HANGUP, Fault.STALL_HEAD, Fault.ERROR_200})
# What the client's error must say (English: the clients send no Accept-Language).
SAYS: Final = {
    Fault.REFUSED: r"Could not connect to provider",
    Fault.HANGUP: r"Could not connect to provider",
    Fault.RESET: r"closed mid-body",
    Fault.STALL_HEAD: r"did not answer in time \(first byte\)",
    Fault.STALL_BODY: r"did not answer in time \((body|stream)\)",
    Fault.MALFORMED: r"malformed response: .*not JSON",
    Fault.TRUNCATED: r"closed mid-body|ended before it was complete",
    # The upstream's own words; Gemini's error objects are mapped by their code (tests/unit/test_gemini_stream.py).
    Fault.ERROR_EVENT: rf"{re.escape(INJECTED)}|Provider 'gemini-faulty' failed with HTTP status 500",
    Fault.ERROR_200: rf"{re.escape(INJECTED)}|Provider 'gemini-faulty' failed with HTTP status 500",
    Fault.OVERSIZED: r"larger than",
    Fault.ENDLESS: r"did not answer in time",
    Fault.DRIP: r"did not answer in time",
}
# The limit that ends the case (and no sooner).
WAITS: Final = {Fault.STALL_HEAD: FIRST_BYTE, Fault.STALL_BODY: CHUNK, Fault.DRIP: TOTAL, Fault.ENDLESS: TOTAL}
# Recovered by a fallback or a retry: failures before any byte of the answer...
RECOVERABLE: Final = (Fault.REFUSED, Fault.HANGUP, Fault.STALL_HEAD, Fault.ERROR_200)
# ...and after its head, while nothing has reached the client yet (an answer not streamed).
AFTER_HEAD: Final = (Fault.STALL_BODY, Fault.DRIP, Fault.RESET, Fault.TRUNCATED, Fault.MALFORMED, Fault.OVERSIZED)


@dataclass(frozen=True)
class Case:
    fault: Fault
    provider: str  # a PROVIDERS key, or NATIVE
    frontend: str
    recovery: str = ""  # "", "fallback" or "retry"

    @property
    def model(self) -> str:
        """The gateway's public name for the case."""
        return f"{self.recovery or 'fault'}-{self.fault}-{self.provider}-{self.frontend}"

    @property
    def upstream(self) -> str:
        """The flavour of the fake (and proxy) behind the case."""
        return "openai" if self.provider == NATIVE else self.provider

    @property
    def marker(self) -> str:
        """What the upstream model name carries for the proxy: the fault, once only for a retry, and a tag
        of the case's own (the proxy's counts and timings are the case's)."""
        tag = f"{self.recovery}-{self.provider}-{self.frontend}".lstrip("-")
        return fault_model("", self.fault, times=1 if self.recovery == "retry" else None, tag=tag)[1:]

    @property
    def slow_reader(self) -> bool:
        """An endless stream is read slowly: the upstream is the faster side, as it is with a busy client."""
        return self.fault is Fault.ENDLESS

    def __str__(self) -> str:
        return f"{self.recovery + '-' if self.recovery else ''}{self.fault}-{self.provider}-{self.frontend}"


def _matrix() -> list[Case]:
    cases = []
    for provider in (*PROVIDERS, NATIVE):
        for frontend in FRONTENDS:
            if provider == NATIVE and not frontend.startswith("responses"):
                continue
            for fault in STREAM_FAULTS if frontend.endswith("_stream") else JSON_FAULTS:
                cases.append(Case(fault, provider, frontend))
    return cases


def _recoveries() -> list[Case]:
    cases = []
    for provider in PROVIDERS:
        for frontend in FRONTENDS:
            for fault in RECOVERABLE:
                cases.append(Case(fault, provider, frontend, "fallback"))
                if fault is not Fault.REFUSED:  # a refusing upstream refuses the retry too
                    cases.append(Case(fault, provider, frontend, "retry"))
        for frontend in ("chat", "messages"):
            cases += [Case(fault, provider, frontend, "fallback") for fault in AFTER_HEAD]
        cases.append(Case(Fault.OVERSIZED, provider, "chat_stream", "fallback"))  # its first event never ends
    return cases


MATRIX: Final = _matrix()
RECOVERIES: Final = _recoveries()
ALL: Final = MATRIX + RECOVERIES
# Compression bombs go through one provider (the HTTP client decodes every provider's answers alike).
BOMBS: Final = [Case(Fault.GZIP_BOMB, "openai", frontend) for frontend in ("chat", "chat_stream")]


# --- the gateway -------------------------------------------------------------------------------------


def gateway_config(proxies: dict[str, str]) -> dict[str, Any]:
    """Every case a model of its own; `proxies`: each flavour's proxy (root URL)."""
    limits = {
        "connect_timeout": CONNECT,
        "first_byte_timeout": FIRST_BYTE,
        "chunk_timeout": CHUNK,
        "total_timeout": TOTAL,
    }
    providers: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for name, upstream in PROVIDERS.items():
        common = {"type": upstream.type, "api_key": f"env:{upstream.key_env}", "list_models": False, **limits}
        providers[f"{name}-faulty"] = {**common, "base_url": proxies[name] + upstream.path}
        providers[f"{name}-dead"] = {**common, "base_url": refusing_url(upstream.path)}
        models[f"ok-{name}"] = {"provider": name, "model": upstream.model}  # the fake itself, no proxy
    models[f"ok-{NATIVE}"] = {"provider": "openai-faulty", "model": PROVIDERS["openai"].model, "native_responses": True}
    for case in ALL + BOMBS:
        # Each case's upstream model is its own (a refused one's too: nothing hears it), so that no case
        # shares a circuit breaker with another (circuits are kept by provider and model).
        model: dict[str, Any] = {
            "provider": f"{case.upstream}-{'dead' if case.fault is Fault.REFUSED else 'faulty'}",
            "model": f"{PROVIDERS[case.upstream].model}{MARK}{case.marker}",
        }
        if case.provider == NATIVE:
            model["native_responses"] = True
        if case in BOMBS:  # the size limits decide, never the matrix's short timeouts (a busy machine inflates slowly)
            model["timeouts"] = {
                "first_byte": CLIENT_TIMEOUT / 2,
                "chunk": CLIENT_TIMEOUT / 2,
                "total": CLIENT_TIMEOUT / 2,
            }
        if case.recovery == "fallback":
            model["fallbacks"] = [f"ok-{case.provider}"]
        elif case.recovery == "retry":
            model["routing"] = {"retries": 1, "backoff": {"initial": 0.01, "max": 0.01}}
        models[case.model] = model
    return {"providers": providers, "models": models}


class ErrorRecords(logging.Handler):
    """The gateway's ERROR records: an internal error is a bug, whatever the upstream did."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:500])


@dataclass
class World:
    gateway: RunningApp
    clients: Clients
    servers: FaultServers
    baseline: Figures | None = None
    rounds: list[Figures] = field(default_factory=list)
    outcomes: dict[Case, Outcome] = field(default_factory=dict)  # the first round's
    gave_up: dict[str, dict[str, float]] = field(default_factory=dict)  # the proxies' figures of that round
    errors: ErrorRecords = field(default_factory=ErrorRecords)


@pytest.fixture(scope="module")
def world(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The fakes and their proxies in a process of their own (their CPU never delays the gateway, whose
    timing the cases measure, and this process's figures are the gateway's), the gateway here on the
    conftest's loop; the warm-up, the baseline figures, the first round."""
    servers = FaultServers(oversize=MATRIX_OVERSIZE)
    started: list[RunningApp] = []
    world: World | None = None
    logger, root = logging.getLogger("babelgate"), logging.getLogger()
    level, root_level = logger.level, root.level
    patch = pytest.MonkeyPatch()
    try:
        patch.setattr(streaming, "MAX_EVENT_BYTES", MATRIX_LIMIT)
        servers.start()
        path = tmp_path_factory.mktemp("faults") / "babelgate.yaml"
        path.write_bytes(orjson.dumps(gateway_config(servers.proxies)))  # JSON is YAML
        fakes = servers.fakes
        environ = {
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_BASE_URL": fakes["openai"] + "/v1",
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": fakes["anthropic"],
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": fakes["gemini"],
            "MISTRAL_API_KEY": MISTRAL_KEY,
            "MISTRAL_BASE_URL": fakes["mistral"],
            # SQLite, not `memory`: the memory store keeps every usage row in this process (for the
            # ledger's retention, 90 days), which the memory figures would count as the gateway's.
            "OLLAMA_BASE_URL": refusing_url(),
            "BABELGATE_STORE_URL": f"sqlite:{path.parent / 'store.db'}",
        }
        gateway = start_gateway(loop_thread, load_config(path, environ, available_types=PROVIDER_TYPES), started)
        gateway.app.upstreams.client.max_answer_bytes = MATRIX_LIMIT
        world = World(gateway, Clients.to(gateway.url), servers)
        # Every failed request is a log line the cases expect, which pytest would keep (in the memory
        # the leak test measures): errors are collected instead, and no case may cause one. The same for
        # the clients' INFO records (httpx logs every request; the gateway set the root logger to INFO).
        logger.setLevel(logging.ERROR)
        logger.addHandler(world.errors)
        root.setLevel(logging.WARNING)
        _warm_up(world)
        world.baseline = _settle(world)
        world.outcomes = run_round(world, ALL)
        world.rounds.append(_settle(world))
        yield world
        violations = servers.call("violations")
    finally:
        patch.undo()
        logger.setLevel(level)
        root.setLevel(root_level)
        if world is not None:
            logger.removeHandler(world.errors)
            world.clients.close()
        for running in started:
            loop_thread.run(running.stop())
        servers.stop()
    assert violations == {flavour: [] for flavour in PROVIDERS}, "the gateway sent requests the APIs refuse"


def _warm_up(world: World) -> None:
    """Healthy calls on every provider and frontend, as many at once as a round makes: what a round
    allocates once (imports, the fakes' specs, the keep-alive pools) is in the baseline, not in the
    rounds' difference."""
    calls = [(provider, frontend) for provider in PROVIDERS for frontend in FRONTENDS] * 3
    calls += [(NATIVE, "responses"), (NATIVE, "responses_stream")]
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda call: run_case(world.clients, f"ok-{call[0]}", call[1]), calls))
    for call, outcome in zip(calls, outcomes, strict=True):
        assert outcome.error is None and outcome.text == ANSWER, (call, outcome)


# --- the clients -------------------------------------------------------------------------------------


@dataclass
class Clients:
    """One official client of each kind, shared by the workers (they are thread-safe, and making one
    costs ~50 ms of CPU: the CA bundle)."""

    openai: openai.OpenAI
    anthropic: anthropic.Anthropic
    ollama: ollama.Client

    @classmethod
    def to(cls, url: str) -> Clients:
        return cls(
            openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=CLIENT_TIMEOUT),
            anthropic.Anthropic(base_url=url, api_key="x", max_retries=0, timeout=CLIENT_TIMEOUT),
            ollama.Client(host=url, timeout=CLIENT_TIMEOUT),
        )

    def close(self) -> None:
        self.openai.close()
        self.anthropic.close()
        self.ollama.close()


@dataclass
class Outcome:
    """What the client saw, digested as it happened: no exception is kept (hundreds of them, with the
    SDKs' responses they hold, would be this process's memory while the leak test measures it)."""

    elapsed: float = 0.0
    error: str | None = None  # the exception's type, when the client raised
    own_error: bool = False  # it is the client's own error (its status error or stream error), no other
    status: int | None = None  # the HTTP status of an error answer (a stream that began is a 200)
    said: str = ""  # the error's message, or that of a Responses stream's `response.failed`
    text: str = ""
    received: int = 0  # characters of text received, of which `text` keeps the first KiB
    completed: bool = False  # the client saw the answer end normally
    events: list[str] = field(default_factory=list)  # a Responses stream's event types
    failed: bool = False  # a Responses stream ended with `response.failed`
    slow: bool = False  # read the stream slowly

    def add(self, text: str) -> None:
        """What the answer says, up to a KiB: endless streams say megabytes, which this process has no
        need to hold."""
        if self.slow:
            time.sleep(0.002)
        self.received += len(text)
        if len(self.text) < 1024:
            self.text += text[: 1024 - len(self.text)]

    def raised(self, error: Exception, frontend: str) -> None:
        self.error = type(error).__name__
        if frontend.startswith(("chat", "responses")):
            self.own_error = isinstance(error, openai.APIStatusError) or type(error) is openai.APIError
        elif frontend.startswith("messages"):
            self.own_error = isinstance(error, anthropic.APIStatusError)
        else:
            self.own_error = isinstance(error, ollama.ResponseError)
        status = getattr(error, "status_code", None)
        self.status = status if isinstance(status, int) else None
        body = getattr(error, "body", None)
        self.said = f"{error} {orjson.dumps(body, default=str).decode() if body is not None else ''}"


def _chat(clients: Clients, model: str, stream: bool, outcome: Outcome) -> None:
    client = clients.openai
    if not stream:
        answer = client.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
        outcome.add(answer.choices[0].message.content or "")
        outcome.completed = answer.choices[0].finish_reason == "stop"
        return
    for chunk in client.chat.completions.create(model=model, messages=USER, stream=True):  # type: ignore[arg-type]
        if chunk.choices:
            outcome.add(chunk.choices[0].delta.content or "")
            outcome.completed = outcome.completed or chunk.choices[0].finish_reason == "stop"


def _messages(clients: Clients, model: str, stream: bool, outcome: Outcome) -> None:
    client = clients.anthropic
    if not stream:
        message = client.messages.create(model=model, max_tokens=64, messages=USER)  # type: ignore[arg-type]
        outcome.add("".join(block.text for block in message.content if block.type == "text"))
        outcome.completed = message.stop_reason == "end_turn"
        return
    for event in client.messages.create(model=model, max_tokens=64, messages=USER, stream=True):  # type: ignore[arg-type]
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            outcome.add(event.delta.text)
        outcome.completed = outcome.completed or event.type == "message_stop"


def _ollama(clients: Clients, model: str, stream: bool, outcome: Outcome) -> None:
    client = clients.ollama
    if not stream:
        answer = client.chat(model=model, messages=USER, stream=False)
        outcome.add(answer.message.content or "")
        outcome.completed = bool(answer.done)
        return
    for part in client.chat(model=model, messages=USER, stream=True):
        outcome.add(part.message.content or "")
        outcome.completed = outcome.completed or bool(part.done)


def _responses(clients: Clients, model: str, stream: bool, outcome: Outcome) -> None:
    """`store: false`: the store's cache of recent responses, which fills round after round as it
    should, is not what the leak test measures."""
    client = clients.openai
    if not stream:
        answer = client.responses.create(model=model, input="Hi", store=False)
        outcome.add(answer.output_text)
        outcome.completed = answer.status == "completed"
        return
    for event in client.responses.create(model=model, input="Hi", stream=True, store=False):
        outcome.events.append(event.type)
        if event.type == "response.output_text.delta":
            outcome.add(event.delta)
        elif event.type == "response.completed":
            outcome.completed = True
        elif event.type == "response.failed":
            error = event.response.error
            outcome.failed = True
            outcome.said = error.message if error is not None else "response.failed without an error"


CALLS: Final[dict[str, Callable[[Clients, str, bool, Outcome], None]]] = {
    "chat": _chat,
    "messages": _messages,
    "ollama": _ollama,
    "responses": _responses,
}


def run_case(clients: Clients, model: str, frontend: str, *, slow: bool = False) -> Outcome:
    outcome = Outcome(slow=slow)
    started = time.monotonic()
    try:
        CALLS[frontend.removesuffix("_stream")](clients, model, frontend.endswith("_stream"), outcome)
    except Exception as error:  # what the client raised is the outcome
        outcome.raised(error, frontend)
    outcome.elapsed = time.monotonic() - started
    return outcome


def run_round(world: World, cases: list[Case]) -> dict[Case, Outcome]:
    """Every case at once (up to WORKERS), the slowest first, so that the round lasts little more than
    its longest wait."""
    world.servers.call("reset")
    ordered = sorted(cases, key=lambda case: -WAITS.get(case.fault, 0.0))
    # The gateway's loop shares the GIL with the client threads: a shorter switch interval gives it its
    # turn sooner, so that a healthy answer is never late for its limit on a busy machine.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = pool.map(
                lambda case: run_case(world.clients, case.model, case.frontend, slow=case.slow_reader), ordered
            )
            return dict(zip(ordered, outcomes, strict=True))
    finally:
        sys.setswitchinterval(interval)


# --- the figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    fds: int
    rss: int  # bytes
    connections: int  # the gateway's upstream connections, open
    idle: int  # of which idle in its keep-alive pools
    proxied: int  # connections the proxies hold
    blocks: int  # Python's allocated memory blocks (sys.getallocatedblocks)

    @property
    def others(self) -> int:
        """Descriptors besides the gateway's idle upstream connections (whose other ends are the fault
        servers' process's): what must come back to the same count."""
        return self.fds - self.idle

    def __str__(self) -> str:
        return (
            f"{self.fds} fds ({self.others} besides {self.idle} idle upstream connections, {self.proxied} "
            f"of them to the proxies), {self.connections - self.idle} upstream connections in use, "
            f"RSS {self.rss / MiB:.1f} MiB, {self.blocks} Python blocks"
        )


def _rss() -> int:
    """VmRSS once the C heap gave back what is free (glibc keeps freed memory in per-thread arenas, and
    two dozen client threads make many): what the process holds, not what it once needed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _settle(world: World, seconds: float = 5.0) -> Figures:
    """The figures once a round is over: the clients' own keep-alive connections dropped (new clients
    for the next round), the round's metrics flushed, every upstream connection back in its pool or
    closed, the proxies done with the hang-ups they notice a moment after the gateway (their timings
    taken), the descriptors steady."""
    world.clients.close()
    world.clients = Clients.to(world.gateway.url)
    world.servers.call("forget")  # the fakes' records of the round
    # The gateway turns observations into metric series in batches (and when /metrics is read): flush
    # them, so that the round's series are the round's (a label set's first series is kept for good).
    world.gateway.app.runtime.metrics.flush()
    client = world.gateway.app.upstreams.client
    deadline = time.monotonic() + seconds
    last = -1
    while True:
        connections, idle = client.connection_counts()
        proxied = world.servers.call("open")
        fds = len(os.listdir("/proc/self/fd"))
        if (connections == idle and proxied <= idle and fds == last) or time.monotonic() > deadline:
            break
        last = fds
        time.sleep(0.1)
    world.gave_up = world.servers.call("gave_up")
    gc.collect()
    return Figures(fds, _rss(), connections, idle, proxied, sys.getallocatedblocks())


# --- the checks ----------------------------------------------------------------------------------------


def check_fault(case: Case, outcome: Outcome, gave_up: dict[str, dict[str, float]]) -> None:
    wait = WAITS.get(case.fault, 0.0)
    bound = wait + CLIENT_MARGIN + (DRAIN if case.slow_reader else 0.0)
    assert outcome.elapsed < bound, f"{case}: took {outcome.elapsed:.2f}s (bound {bound:.1f}s): {outcome}"
    if case.fault in WAITS:
        assert outcome.elapsed >= 0.9 * wait, f"{case}: ended before its limit: {outcome}"
    if case.fault in (*WAITS, Fault.OVERSIZED):
        # The gateway itself hung up on the upstream in time, not only the client that got its error.
        seconds = gave_up.get(case.upstream, {}).get(case.marker)
        assert seconds is not None and seconds < wait + MARGIN, f"{case}: the gateway hung up after {seconds}s"
    assert not outcome.completed, f"{case}: a normal end after a fault: {outcome}"
    if outcome.error is None:
        # Only a Responses stream may end without raising: with `response.failed`.
        assert case.frontend == "responses_stream" and outcome.failed, f"{case}: no error: {outcome}"
        assert "response.completed" not in outcome.events
    else:
        assert outcome.own_error, f"{case}: not the client's own error: {outcome.error}: {outcome.said}"
    assert re.search(SAYS[case.fault], outcome.said), f"{case}: the error does not say it: {outcome.said}"
    if case.fault in BEFORE_ANSWER:
        # Nothing reached the client: a plain HTTP error, with the gateway's status.
        assert outcome.status in (502, 504), f"{case}: expected an HTTP error: {outcome}"


def check_recovery(case: Case, outcome: Outcome) -> None:
    assert outcome.error is None, f"{case}: not recovered: {outcome.said}"
    assert outcome.text == ANSWER and outcome.completed, f"{case}: {outcome}"
    bound = WAITS.get(case.fault, 0.0) + CLIENT_MARGIN
    assert outcome.elapsed < bound, f"{case}: took {outcome.elapsed:.2f}s"


def check(case: Case, outcome: Outcome, gave_up: dict[str, dict[str, float]]) -> None:
    if case.recovery:
        check_recovery(case, outcome)
    else:
        check_fault(case, outcome, gave_up)


def _param(case: Case) -> Any:
    return pytest.param(case, id=str(case))


# --- the tests -----------------------------------------------------------------------------------------


def test_no_descriptor_connection_or_memory_leak_after_two_rounds(world: World) -> None:
    """The module's first test: between the fixture's round and this one nothing else runs (the other
    tests' reports, which pytest keeps, would count as this process's memory)."""
    first_gave_up = world.gave_up
    second = run_round(world, ALL)
    _settle(world)
    wrong = []  # the second round broke the same answers as the first: its outcomes are as right
    for case in ALL:
        try:
            check(case, second[case], world.gave_up)
        except AssertionError as error:
            wrong.append(str(error).split("\n")[0])
    del second
    world.rounds.append(_settle(world))
    world.gave_up = first_gave_up  # for the tests below, which check the first round
    baseline, first, after = world.baseline, world.rounds[0], world.rounds[1]
    assert baseline is not None
    print(
        f"\n{len(ALL)} cases a round\nbaseline: {baseline}\nround 1:  {first}\nround 2:  {after}\n"
        f"RSS: {(first.rss - baseline.rss) / MiB:+.1f} MiB in round 1 (its outcomes, kept for the tests "
        f"below, included), {(after.rss - first.rss) / MiB:+.1f} MiB in round 2; Python blocks: "
        f"{first.blocks - baseline.blocks:+} and {after.blocks - first.blocks:+}"
    )
    assert world.errors.messages == [], "the gateway logged errors (internal errors are bugs)"
    for figures in (first, after):
        assert figures.connections == figures.idle, f"upstream connections still in use: {figures}"
        assert figures.proxied <= figures.idle, f"upstream connections the gateway forgot: {figures}"
    # The keep-alive pools hold as many idle connections as the last round needed at once; besides
    # them, nothing may stay behind.
    assert abs(after.others - first.others) <= 4, (first, after)
    assert after.others - baseline.others <= 6, (baseline, after)
    if after.rss - first.rss >= LEAK_BOUND:
        # Late in the full suite (a 600 MB process, two dozen client threads) the C heap has once grown
        # ~10 MiB in round 2 with nothing left behind: 1,700 more Python blocks, 8 more idle connections
        # in the pools. A leak grows again in the next round; the heap's one-time growth does not.
        third = run_round(world, ALL)
        del third
        again = _settle(world)
        world.gave_up = first_gave_up
        print(f"round 3:  {again}\nRSS: {(again.rss - after.rss) / MiB:+.1f} MiB in round 3")
        assert again.rss - after.rss < LEAK_BOUND, (first, after, again)
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("case", [_param(case) for case in MATRIX])
def test_fault_is_a_clear_error_in_time(world: World, case: Case) -> None:
    check_fault(case, world.outcomes[case], world.gave_up)


@pytest.mark.parametrize("case", [_param(case) for case in RECOVERIES])
def test_fault_is_recovered_by_a_fallback_or_a_retry(world: World, case: Case) -> None:
    check_recovery(case, world.outcomes[case])


def test_healthy_answers_pass_through_the_proxy_kept_alive(world: World) -> None:
    """The fault layer itself: a request without a marker comes back whole, and its connection stays open
    for the next one."""
    before = world.servers.call("open")
    request = {"model": "gpt-4o-mini", "messages": USER}
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}) as client:
        answers = [
            client.post(world.servers.proxies["openai"] + "/v1/chat/completions", json=request) for _ in range(3)
        ]
        held = world.servers.call("open")
    assert [answer.json()["choices"][0]["message"]["content"] for answer in answers] == [ANSWER] * 3
    assert held == before + 1  # one connection for the three


@pytest.mark.parametrize("frontend", ["chat", "chat_stream"])
def test_default_limits_bound_a_200_mb_answer(world: World, frontend: str) -> None:
    """With the gateway's own limits (128 MiB read whole, 32 MiB for one stream event), a 200 MB answer
    is refused as it arrives: a clear 502 soon, no more held than the limit, nothing of it kept."""
    outcome, peak, kept = _with_default_limits(world, Case(Fault.OVERSIZED, "openai", frontend))
    limit = 128 if frontend == "chat" else 32
    assert outcome.own_error and outcome.status == 502, outcome
    assert f"larger than {limit} MiB" in outcome.said
    assert outcome.elapsed < 10
    assert peak < (limit + 16) * MiB, f"{peak / MiB:.0f} MiB held for a {limit} MiB limit"
    assert kept < 2 * MiB, f"{kept / MiB:.1f} MiB of the refused answer stayed"


@pytest.mark.parametrize("case", BOMBS, ids=str)
def test_a_compression_bomb_is_refused_before_it_is_inflated(world: World, case: Case) -> None:
    """200 MB of text gzipped into 200 KB, in reads of 64 KiB that inflate to 64 MiB each: refused once
    one read inflates past 16 MiB, whatever the answer's own limits (before, the gateway inflated every
    read whole, and let the answer grow to its 128 MiB limit)."""
    outcome, peak, kept = _with_default_limits(world, case)
    assert outcome.own_error and outcome.status == 502, outcome
    assert "inflates past 16 MiB" in outcome.said
    assert peak < 40 * MiB, f"{peak / MiB:.0f} MiB held for a refused answer"
    assert kept < 2 * MiB, f"{kept / MiB:.1f} MiB of the refused answer stayed"


def _with_default_limits(world: World, case: Case) -> tuple[Outcome, int, int]:
    """The case's outcome against the gateway's own limits and a 200 MB answer, with the most memory
    this process's Python objects held at once while it ran, and what of it is still held once it is
    over (tracemalloc's figures: RSS, which the C allocator keeps high after large blocks are freed,
    is printed only)."""
    client = world.gateway.app.upstreams.client
    client.max_answer_bytes = MAX_ANSWER_BYTES
    world.servers.call("oversize", 200 * 1000 * 1000)
    before = _settle(world).rss
    tracemalloc.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(streaming, "MAX_EVENT_BYTES", MAX_EVENT_BYTES)
            outcome = run_case(world.clients, case.model, case.frontend)
        after = _settle(world).rss
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        client.max_answer_bytes = MATRIX_LIMIT
        world.servers.call("oversize", MATRIX_OVERSIZE)
    print(
        f"\n{case}, 200 MB: refused in {outcome.elapsed:.2f}s; held at most {peak / MiB:.1f} MiB, kept "
        f"{kept / MiB:.2f} MiB; RSS {before / MiB:.1f} MiB before, {after / MiB:.1f} MiB after"
    )
    return outcome, peak, kept
