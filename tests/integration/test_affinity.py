"""Session affinity (routing.affinity, docs/routing.md "Affinity"), end to end: two deployments of one
model are two fake servers, each with its own prompt cache (tests/fakes/prompt_cache.py: cached tokens
only when the same server sees the same prefix again). Agent-like conversations through the real
`openai` and `anthropic` SDKs measure the cache-hit share with and without affinity; the pin follows a
failure, ends with its TTL, is overridden per model, is shared by two instances through Redis, and the
ledger shows cached tokens per session."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.prompt_cache import PromptCache
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import ADMIN, MASTER
from tests.services import REDIS_TIMEOUT, redis_url  # noqa: F401 (a fixture)

SYSTEM = "You are a coding agent. Follow the repository's conventions. " * 8
SESSIONS = 12  # two deployments: all on one by chance once in 2,048 runs
TURNS = 6


@dataclass
class Deployments:
    """Two fake servers of one API, each with its own prompt cache."""

    fakes: tuple[Any, Any]
    caches: tuple[PromptCache, PromptCache] = field(default_factory=lambda: (PromptCache(), PromptCache()))

    def reset(self) -> None:
        for fake, cache in zip(self.fakes, self.caches, strict=True):
            fake.reset()
            cache.reset()
            fake.responder = cache.openai if isinstance(fake, FakeOpenAI) else cache.anthropic

    def served(self) -> tuple[int, int]:
        return self.caches[0].requests, self.caches[1].requests


@pytest.fixture(scope="module")
def _openai_pair(loop_thread: LoopThread) -> Iterator[Deployments]:
    pair = Deployments((FakeOpenAI(), FakeOpenAI()))
    for fake in pair.fakes:
        loop_thread.run(fake.start())
    yield pair
    for fake in pair.fakes:
        loop_thread.run(fake.stop())


@pytest.fixture(scope="module")
def _anthropic_pair(loop_thread: LoopThread) -> Iterator[Deployments]:
    pair = Deployments((FakeAnthropic(), FakeAnthropic()))
    for fake in pair.fakes:
        loop_thread.run(fake.start())
    yield pair
    for fake in pair.fakes:
        loop_thread.run(fake.stop())


@pytest.fixture
def openai_pair(_openai_pair: Deployments) -> Iterator[Deployments]:
    _openai_pair.reset()
    yield _openai_pair
    for fake in _openai_pair.fakes:
        assert fake.spec_violations == [], "the gateway sent requests the OpenAI spec refuses"


@pytest.fixture
def anthropic_pair(_anthropic_pair: Deployments) -> Iterator[Deployments]:
    _anthropic_pair.reset()
    yield _anthropic_pair
    for fake in _anthropic_pair.fakes:
        assert fake.violations == [], "the gateway sent requests the Anthropic API refuses"


def _config(openai_pair: Deployments, anthropic_pair: Deployments | None = None, *, extra: str = "") -> str:
    east, west = (fake.base_url for fake in openai_pair.fakes)
    text = f"""
providers:
  east: {{type: openai, base_url: '{east}', api_key: env:OPENAI_API_KEY}}
  west: {{type: openai, base_url: '{west}', api_key: env:OPENAI_API_KEY}}
"""
    if anthropic_pair is not None:
        one, two = (fake.base_url for fake in anthropic_pair.fakes)
        text += f"""  claude-east: {{type: anthropic, base_url: '{one}', api_key: env:ANTHROPIC_API_KEY}}
  claude-west: {{type: anthropic, base_url: '{two}', api_key: env:ANTHROPIC_API_KEY}}
"""
    text += """models:
  coder:
    deployments: [{provider: east, model: gpt-4o-mini}, {provider: west, model: gpt-4o-mini}]
  coder-unpinned:   # the same two deployments, affinity off for this model alone
    deployments: [{provider: east, model: gpt-4o-mini}, {provider: west, model: gpt-4o-mini}]
    routing: {affinity: {keys: []}}
  coder-brief:      # pins that last half a second
    deployments: [{provider: east, model: gpt-4o-mini}, {provider: west, model: gpt-4o-mini}]
    routing: {affinity: {ttl: 0.5}}
"""
    if anthropic_pair is not None:
        text += """  claude:
    deployments: [{provider: claude-east, model: claude-sonnet-4-5}, {provider: claude-west, model: claude-sonnet-4-5}]
"""
    return text + extra


AFFINITY = "routing:\n  affinity: {ttl: 600}\n"


# -- conversations, and what their caches say -------------------------------------------------------


@dataclass
class Share:
    """After each session's first turn: the requests that found the conversation so far cached (all of
    the previous turn's prompt), and the share of prompt tokens read from the cache."""

    hits: int = 0
    turns: int = 0
    cached_tokens: int = 0
    prompt_tokens: int = 0
    deployments: dict[int, set[str]] = field(default_factory=dict)  # session → the deployments that served it

    @property
    def hit_share(self) -> float:
        return self.hits / self.turns

    @property
    def token_share(self) -> float:
        return self.cached_tokens / self.prompt_tokens

    def add(self, session: int, turn: int, prompt: int, cached: int, previous: int, route: str) -> None:
        self.deployments.setdefault(session, set()).add(route.split("=")[0])
        if turn == 0:
            return
        self.turns += 1
        self.hits += cached >= previous
        self.cached_tokens += cached
        self.prompt_tokens += prompt


# One turn: (gateway url, session number, messages so far) → (prompt tokens, cached tokens, route header).
Ask = Callable[[str, int, list[dict[str, Any]]], tuple[int, int, str]]


def _user_turn(session: int, turn: int) -> str:
    return f"Session {session}, step {turn}: read src/module_{session}_{turn}.py and fix its failing test. " * 6


def converse(urls: list[str], ask: Ask, *, sessions: int = SESSIONS, turns: int = TURNS, pause: float = 0) -> Share:
    """`sessions` conversations of `turns` turns each, interleaved as concurrent agents' are; turn n of a
    session goes to `urls[n % len(urls)]` (a load balancer in front of several instances)."""
    share = Share()
    histories: list[list[dict[str, Any]]] = [[] for _ in range(sessions)]
    previous = [0] * sessions
    for turn in range(turns):
        for session in range(sessions):
            history = histories[session]
            history.append({"role": "user", "content": _user_turn(session, turn)})
            prompt, cached, route = ask(urls[turn % len(urls)], session, history)
            share.add(session, turn, prompt, cached, previous[session], route)
            previous[session] = prompt
            history.append({"role": "assistant", "content": "Hello!"})
        if pause:
            time.sleep(pause)  # what one instance pinned reaches the others
    return share


def openai_asker(model: str, **session_fields: Callable[[int], Any]) -> Ask:
    """Chat Completions through the `openai` SDK; `session_fields`: body fields (or `extra_headers`) per
    session."""

    def ask(url: str, session: int, history: list[dict[str, Any]]) -> tuple[int, int, str]:
        fields = {name: make(session) for name, make in session_fields.items()}
        with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=10) as client:
            raw = client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "system", "content": SYSTEM}, *history], **fields
            )
        answer = raw.parse()
        assert answer.usage is not None and answer.usage.prompt_tokens_details is not None
        cached = answer.usage.prompt_tokens_details.cached_tokens or 0
        return answer.usage.prompt_tokens, cached, raw.headers["x-babelgate-route"]

    return ask


def anthropic_asker(model: str, **session_fields: Callable[[int], Any]) -> Ask:
    def ask(url: str, session: int, history: list[dict[str, Any]]) -> tuple[int, int, str]:
        fields = {name: make(session) for name, make in session_fields.items()}
        with anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0, timeout=10) as client:
            # Claude Code's shape: the system prompt and the newest turn marked for caching.
            turns = [{"role": turn["role"], "content": [{"type": "text", "text": turn["content"]}]} for turn in history]
            turns[-1]["content"] = [_marked(history[-1]["content"])]
            raw = client.messages.with_raw_response.create(
                model=model, max_tokens=64, system=[_marked(SYSTEM)], messages=turns, **fields
            )
        usage = raw.parse().usage
        cached = usage.cache_read_input_tokens or 0
        return usage.input_tokens + cached, cached, raw.headers["x-babelgate-route"]

    return ask


def _marked(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}


# -- the cache-hit share -------------------------------------------------------------------------------


def test_affinity_keeps_every_session_on_its_cached_deployment(
    make_gateway: GatewayFactory, openai_pair: Deployments
) -> None:
    pinned = make_gateway(_config(openai_pair, extra=AFFINITY))
    with_affinity = converse([pinned.url], openai_asker("coder", prompt_cache_key=lambda s: f"task-{s}"))
    openai_pair.reset()
    plain = make_gateway(_config(openai_pair))  # the same deployments, weighted at random (the default)
    without = converse([plain.url], openai_asker("coder", prompt_cache_key=lambda s: f"task-{s}"))
    print(
        f"\ncache-hit share after the first turn, {SESSIONS} sessions x {TURNS} turns, 2 deployments: "
        f"with affinity {with_affinity.hit_share:.0%} of requests, {with_affinity.token_share:.0%} of prompt tokens; "
        f"without {without.hit_share:.0%} of requests, {without.token_share:.0%} of prompt tokens"
    )
    assert with_affinity.hit_share == 1.0
    assert all(len(served) == 1 for served in with_affinity.deployments.values())
    assert with_affinity.token_share > 0.75
    # Without: each turn finds the previous one's deployment about half the time.
    assert 0.2 <= without.hit_share <= 0.8, without.hit_share
    assert without.token_share < with_affinity.token_share - 0.08
    # Both deployments serve: affinity spreads sessions, it does not send everything to one place.
    assert all(count > 0 for count in openai_pair.served())


@pytest.mark.parametrize(
    ("keys", "fields"),
    [
        ("[user]", {"user": lambda s: f"dev-{s}@example.com"}),
        ("[session_header]", {"extra_headers": lambda s: {"session_id": f"codex-{s}", "conversation_id": f"c{s}"}}),
        ("[session_header]", {"extra_headers": lambda s: {"session-id": f"codex-{s}", "thread-id": f"codex-{s}"}}),
        ("[session_header]", {"extra_headers": lambda s: {"x-ticket": f"ticket-{s}"}}),
        ("[prefix]", {}),  # nothing names the session: the conversation's opening does
    ],
    ids=["user", "older-codex-headers", "codex-headers", "configured-header", "prefix"],
)
def test_each_kind_of_session_key_pins(
    make_gateway: GatewayFactory, openai_pair: Deployments, keys: str, fields: dict[str, Callable[[int], Any]]
) -> None:
    config = f"routing:\n  affinity: {{keys: {keys}, headers: [X-Ticket]}}\n"
    gateway = make_gateway(_config(openai_pair, extra=config))
    share = converse([gateway.url], openai_asker("coder", **fields), sessions=4, turns=5)
    assert share.hit_share == 1.0
    assert all(len(served) == 1 for served in share.deployments.values())


def test_anthropic_sessions_by_claude_code_s_header_and_user_id(
    make_gateway: GatewayFactory, openai_pair: Deployments, anthropic_pair: Deployments
) -> None:
    """The Messages API on its native road (two Claude deployments), with Claude Code's session header,
    then with `metadata.user_id` alone."""
    gateway = make_gateway(
        _config(openai_pair, anthropic_pair, extra=AFFINITY), env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY}
    )
    header = anthropic_asker(
        "claude", extra_headers=lambda s: {"X-Claude-Code-Session-Id": str(uuid.uuid5(uuid.NAMESPACE_OID, str(s)))}
    )
    share = converse([gateway.url], header, sessions=4, turns=5)
    assert share.hit_share == 1.0 and share.token_share > 0.7
    anthropic_pair.reset()
    user = anthropic_asker("claude", metadata=lambda s: {"user_id": f"user_{s}_account_x_session_{s}"})
    share = converse([gateway.url], user, sessions=4, turns=5)
    assert share.hit_share == 1.0


# -- what breaks a pin, and what does not ----------------------------------------------------------------


def _route_of(url: str, model: str, key: str) -> str:
    ask = openai_asker(model, prompt_cache_key=lambda _: key)
    return ask(url, 0, [{"role": "user", "content": "Next step."}])[2]


def test_a_failure_moves_the_pin_to_the_deployment_that_served(
    make_gateway: GatewayFactory, openai_pair: Deployments
) -> None:
    gateway = make_gateway(_config(openai_pair, extra=AFFINITY))
    first = _route_of(gateway.url, "coder", "long-task")
    pinned = first.split("=")[0]
    assert all(_route_of(gateway.url, "coder", "long-task") == first for _ in range(5))
    # The pinned deployment fails once: the other serves, and the session stays there from then on,
    # though the first is healthy again (its cache is the other's now).
    failing = openai_pair.fakes[0] if pinned == "east/gpt-4o-mini" else openai_pair.fakes[1]
    failing.script(Reply(status=503, json={"error": {"message": "overloaded", "type": "server_error"}}))
    moved = _route_of(gateway.url, "coder", "long-task")
    assert moved.startswith(f"{pinned}=503, ") and moved.endswith("=ok")
    other = moved.split(", ")[1].split("=")[0]
    assert other != pinned
    assert all(_route_of(gateway.url, "coder", "long-task") == f"{other}=ok" for _ in range(5))
    metrics = httpx.get(gateway.url + "/metrics").text
    moves = [line for line in metrics.splitlines() if "routing_events" in line]
    assert any('event="pins_moved"' in line and 'model="coder"' in line for line in moves), moves


def test_an_open_circuit_moves_the_pin(make_gateway: GatewayFactory, openai_pair: Deployments) -> None:
    extra = "routing:\n  affinity: {}\n  circuit: {failures: 1, cooldown: 30}\n"
    gateway = make_gateway(_config(openai_pair, extra=extra))
    pinned = _route_of(gateway.url, "coder", "circuit-task").split("=")[0]
    # Another session opens the pinned deployment's circuit.
    failing = openai_pair.fakes[0] if pinned == "east/gpt-4o-mini" else openai_pair.fakes[1]
    failing.script(*[Reply(status=500, json={"error": {"message": "down", "type": "server_error"}})] * 4)
    for n in range(20):  # until one of the other sessions lands on it first
        if _route_of(gateway.url, "coder", f"other-{n}").startswith(f"{pinned}=500"):
            break
    health = httpx.get(gateway.url + "/health").json()
    assert any(pinned in str(entry) for entry in health.get("circuits", [])), health
    moved = _route_of(gateway.url, "coder", "circuit-task")
    assert not moved.startswith(pinned), "the open circuit was not skipped"
    failing.replies.clear()


def test_affinity_off_for_one_model_and_pins_that_expire(
    make_gateway: GatewayFactory, openai_pair: Deployments
) -> None:
    gateway = make_gateway(_config(openai_pair, extra=AFFINITY))
    # `coder-unpinned` turns it off for itself: the same session key is spread at random.
    unpinned = {_route_of(gateway.url, "coder-unpinned", "same") for _ in range(16)}
    assert len(unpinned) == 2
    # `coder-brief`: a pin lasts half a second after the session's last request.
    app = _app(gateway)
    policy = app.runtime.registry.route("coder-brief").policy.affinity
    assert (
        policy is not None
        and policy.ttl == 0.5
        and policy.keys == ("prompt_cache_key", "session_header", "user", "prefix")
    )
    session = policy.session({"prompt_cache_key": "brief"}, lambda _: None, None, "coder-brief")
    assert session is not None
    quick = {_route_of(gateway.url, "coder-brief", "brief") for _ in range(4)}
    assert len(quick) == 1, "within its TTL the session stays"
    assert app.routing.pins.get(session.key) == next(iter(quick)).split("=")[0]
    time.sleep(0.6)
    assert app.routing.pins.get(session.key) is None, "the pin outlived its TTL"
    placed = _route_of(gateway.url, "coder-brief", "brief").split("=")[0]  # placed again, by the balance
    assert app.routing.pins.get(session.key) == placed


def test_the_pin_belongs_to_the_caller_s_key_and_the_model(
    make_gateway: GatewayFactory, openai_pair: Deployments
) -> None:
    """The same session key under another gateway key is another session: sessions of different
    tenants never share a pin (nor a cache, which a provider keeps per account anyway)."""
    extra = AFFINITY.replace("routing:", "server: {api_keys: [env:KEY_A, env:KEY_B]}\nrouting:")
    gateway = make_gateway(
        _config(openai_pair, extra=extra), env={"KEY_A": "gw-key-a-0123456789", "KEY_B": "gw-key-b-0123456789"}
    )
    placements = set()
    for n in range(12):
        routes = set()
        for key in ("gw-key-a-0123456789", "gw-key-b-0123456789"):
            with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10) as client:
                raw = client.chat.completions.with_raw_response.create(
                    model="coder", messages=[{"role": "user", "content": "Hi"}], prompt_cache_key=f"shared-{n}"
                )
                routes.add(raw.headers["x-babelgate-route"])
        placements.add(len(routes))
    assert placements == {1, 2}, "two tenants' sessions of one name were placed together every time"


# -- two instances, one Redis ------------------------------------------------------------------------------


def test_two_instances_share_pins_through_redis(
    make_gateway: GatewayFactory,
    openai_pair: Deployments,
    redis_url: str,  # noqa: F811
) -> None:
    prefix = f"bgtest-{uuid.uuid4().hex[:8]}:"
    redis = f"redis: {{url: '{redis_url}', prefix: '{prefix}', timeout: {REDIS_TIMEOUT}}}\n"
    first = make_gateway(_config(openai_pair, extra=AFFINITY + redis))
    second = make_gateway(_config(openai_pair, extra=AFFINITY + redis))
    _wait_shared(first, second)
    ask = openai_asker("coder", prompt_cache_key=lambda s: f"fleet-{s}")
    share = converse([first.url, second.url], ask, pause=0.1)  # turn by turn, the instances alternate
    assert share.hit_share == 1.0
    assert all(len(served) == 1 for served in share.deployments.values())
    # A third instance started later loads the pins that are current.
    third = make_gateway(_config(openai_pair, extra=AFFINITY + redis))
    _wait_shared(third)
    late = {_route_of(third.url, "coder", f"fleet-{s}").split("=")[0] for s in range(2)}
    assert late == {next(iter(share.deployments[s])) for s in range(2)} or len(late) == 1


def _wait_shared(*gateways: RunningApp) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(_app(g).routing.shared is not None and _app(g).routing.shared.listening for g in gateways):
            return
        time.sleep(0.05)
    raise AssertionError("the instances did not reach Redis")


def _app(gateway: RunningApp) -> Any:
    app = gateway.app
    return getattr(app, "app", app)


# -- the ledger ------------------------------------------------------------------------------------------


def test_the_ledger_shows_cached_tokens_per_session(make_gateway: GatewayFactory, openai_pair: Deployments) -> None:
    gateway = make_gateway(_config(openai_pair, extra=AFFINITY), env={"BABELGATE_MASTER_KEY": MASTER})
    converse([gateway.url], openai_asker("coder", user=lambda s: f"person{s}@example.com"), sessions=3, turns=4)
    response = httpx.get(gateway.url + "/admin/usage?group_by=session&model=coder", headers=ADMIN)
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert len(rows) == 3
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{16}", row["session"]), row["session"]
        assert row["requests"] == 4 and row["cached_tokens"] > 0
    assert "example.com" not in response.text and "person" not in response.text
    # A filter by one session, and a model without affinity leaves the column empty.
    one = httpx.get(gateway.url + f"/admin/usage?session={rows[0]['session']}", headers=ADMIN).json()["data"]
    assert one[0]["requests"] == 4
    _route_of(gateway.url, "coder-unpinned", "x")
    rest = httpx.get(gateway.url + "/admin/usage?group_by=session&model=coder-unpinned", headers=ADMIN).json()
    assert [row["session"] for row in rest["data"]] == [None]


def test_responses_api_sessions_by_prompt_cache_key(make_gateway: GatewayFactory, openai_pair: Deployments) -> None:
    """Codex's way: the Responses API with `prompt_cache_key` (its conversation id), translated onto the
    two chat deployments; each turn sends the conversation so far."""
    gateway = make_gateway(_config(openai_pair, extra=AFFINITY))

    def ask(url: str, session: int, history: list[dict[str, Any]]) -> tuple[int, int, str]:
        with openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=10) as client:
            raw = client.responses.with_raw_response.create(
                model="coder",
                instructions=SYSTEM,
                input=history,  # type: ignore[arg-type]
                prompt_cache_key=f"codex-{session}",
                store=False,
            )
        usage = raw.parse().usage
        assert usage is not None
        return usage.input_tokens, usage.input_tokens_details.cached_tokens, raw.headers["x-babelgate-route"]

    share = converse([gateway.url], ask, sessions=4, turns=4)
    assert share.hit_share == 1.0
    assert all(len(served) == 1 for served in share.deployments.values())
