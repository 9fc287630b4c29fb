"""Three `babelgate serve` processes on the shared config (deploy/babelgate.yaml, with fake upstreams
and a Redis prefix of their own added) behind a real nginx running deploy/nginx/default.conf.template,
filled as the nginx image fills it, sharing this machine's PostgreSQL (a database of the module's own)
and Redis: the processes deploy/docker-compose.yml runs as containers.

Shown, in order (the tests share one cluster, and the last one stops it):
- a cold start on an empty database, then a stored Response continued on each other instance;
- reasoning state sealed by one instance opens on the others (one key, generated once, in PostgreSQL);
- a virtual key's rpm limit holds across the three together; a circuit opened on one is honoured by
  the others;
- SSE streams pass through nginx unbuffered, WebSocket mode passes its upgrade;
- the usage ledger holds exactly one row per request answered, with the status the client saw;
- under steady load through nginx, SIGKILL of one instance fails only requests that were in flight
  on it; nginx sends every later request to the live ones (the dead one is tried again after 5 s,
  refused, and the request goes on); SIGTERM of another (a rolling restart) fails none and lets its
  stream finish; the ledger then has no request twice, every answer of the instances that stopped
  cleanly, and of the killed one all but its last unflushed half second; no instance wrote a file.
Figures are printed (`pytest -s`)."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.conftest import ANTHROPIC_KEY, CLOSED_PORT_URL, UPSTREAM_KEY
from tests.fakes import anthropic_upstream as ant
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream
from tests.fakes.scripted import Reply
from tests.integration.responses_helpers import assert_valid_stream, weather_tool
from tests.many_instances import (
    Access,
    Instance,
    Nginx,
    Recorder,
    env_references,
    forget_redis_prefix,
    fresh_database,
    healthcheck_command,
    hold_port,
    ledger_rows,
    read_access_log,
    shared_config,
    start_gateways,
    start_nginx,
)
from tests.responses_spec import parse_sse
from tests.services import REDIS_TIMEOUT, postgres_dsn, redis_url  # noqa: F401 (fixtures)

# The SDK's responses.connect() opens its socket the way websockets deprecates (as in test_responses_websocket).
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")

GATEWAY_KEY = "many-instances-gateway-key-0123"
MASTER_KEY = "many-instances-master-key-0123"
CLAUDE = "claude-sonnet-4-6"
SLOW = "Answer slowly."  # the fake streams its answer to this over ~2 s
LOAD_CLIENTS = 4
FLUSH_WINDOW = 1.5  # seconds of answers a SIGKILL may take from the ledger (rows are written every 0.5 s)
# uvicorn re-raises SIGTERM once its shutdown is done, so a clean stop may end by the signal.
CLEAN_EXIT = (0, -signal.SIGTERM)


@dataclass
class Cluster:
    instances: list[Instance]
    nginx: Nginx
    dsn: str
    recorder: Recorder
    upstream: FakeOpenAI
    anthropic: ant.FakeAnthropic
    written: list[Path]  # XDG_STATE_HOME and TMPDIR of the instances
    ws_turns: int = 0
    stored: list[str] = field(default_factory=list)  # ids of stored Responses, to load at the end

    def client(self, url: str, key: str = GATEWAY_KEY) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=url + "/v1", api_key=key, max_retries=0, timeout=20, http_client=self.recorder.client(timeout=20)
        )

    @contextmanager
    def clients(self, key: str = GATEWAY_KEY) -> Iterator[tuple[list[openai.OpenAI], openai.OpenAI]]:
        """A client of each instance directly, and one through nginx."""
        with ExitStack() as stack:
            direct = [stack.enter_context(self.client(instance.url, key)) for instance in self.instances]
            yield direct, stack.enter_context(self.client(self.nginx.url, key))

    def booked(self, request_id: str, status: int | None, expected: int | None) -> bool:
        """Whether the ledger's status is the one the client saw (a stream read to its [DONE] is a 200
        even when the SDK closed before the upstream's body ended)."""
        return status == expected

    def served_by(self, request_id: str, access: dict[str, Access]) -> int | None:
        """The port of the instance that answered (through nginx: the last one it tried)."""
        call = self.recorder.calls[request_id]
        if call.port != self.nginx.port:
            return call.port
        entry = access.get(request_id)
        return int(entry.upstreams[-1].rsplit(":", 1)[1]) if entry else None


def _slow_or_default(body: dict[str, Any]) -> Reply:
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    if body["messages"][-1]["content"] == SLOW:
        pieces = ["One", " two", " three", " four", " five"]
        return Reply(stream=text_stream(pieces, include_usage=usage), chunk_delay=0.3)  # type: ignore[arg-type]
    if body.get("stream"):
        return Reply(stream=text_stream(["Hel", "lo", "!"], include_usage=usage))  # type: ignore[arg-type]
    return Reply(json=completion("Hello!", model=body.get("model", "gpt-4o-mini")))


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    _upstream: FakeOpenAI,
    _anthropic: ant.FakeAnthropic,
    postgres_dsn: str,  # noqa: F811
    redis_url: str,  # noqa: F811
) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("many-instances")
    prefix = f"bgmany-{uuid.uuid4().hex[:8]}:"
    _upstream.reset()
    _upstream.chat_responder = _slow_or_default
    _anthropic.reset()
    config = shared_config(
        {
            "redis": {"prefix": prefix, "timeout": REDIS_TIMEOUT},
            "providers": {
                "openai": {"base_url": _upstream.base_url},
                "anthropic": {"type": "anthropic", "base_url": _anthropic.base_url, "api_key": "env:ANTHROPIC_API_KEY"},
                "dead": {"type": "openai", "base_url": CLOSED_PORT_URL + "/v1", "api_key": "env:OPENAI_API_KEY"},
            },
            "aliases": {"gpt": "openai/gpt-4o"},
            "models": {
                "fragile": {
                    "deployments": [
                        {"provider": "dead", "model": "gpt-4o"},
                        {"provider": "openai", "model": "gpt-4o-mini"},
                    ],
                    "routing": {"circuit": {"failures": 1, "cooldown": 60}},
                }
            },
        }
    )
    path = tmp / "babelgate.yaml"
    path.write_text(yaml.safe_dump(config))
    written = [tmp / "state", tmp / "tmp"]
    for directory in written:
        directory.mkdir()
    with fresh_database(postgres_dsn, f"bgmany_{uuid.uuid4().hex[:10]}") as dsn:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS")) and not k.startswith("BABELGATE_")
        }
        env.update(
            {
                "OLLAMA_BASE_URL": CLOSED_PORT_URL,
                "XDG_STATE_HOME": str(written[0]),
                "TMPDIR": str(written[1]),
                "BABELGATE_GATEWAY_KEY": GATEWAY_KEY,
                "BABELGATE_MASTER_KEY": MASTER_KEY,
                "BABELGATE_STORE_URL": dsn,
                "BABELGATE_REDIS_URL": redis_url,
                "OPENAI_API_KEY": UPSTREAM_KEY,
                "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            }
        )
        assert env_references(config) <= set(env)  # what compose and the Deployment set, the test sets
        instances: list[Instance] = []
        nginx: Nginx | None = None
        try:
            instances = start_gateways(path, env, tmp)
            nginx = start_nginx(tmp / "nginx", instances)
            yield Cluster(instances, nginx, dsn, Recorder("mi-"), _upstream, _anthropic, written)
        finally:
            if nginx is not None:
                nginx.stop()
            for instance in instances:
                instance.stop()
            forget_redis_prefix(redis_url, prefix)
            logs = "".join(instance.log.read_text(errors="replace") for instance in instances)
            for instance in instances:  # what went wrong, if anything, for `pytest -s`
                for line in instance.log.read_text(errors="replace").splitlines():
                    if '"level":"info"' not in line:
                        print(f"gateway{instance.number}: {line[:400]}")
            _upstream.chat_responder = None
    for secret in (UPSTREAM_KEY, ANTHROPIC_KEY, GATEWAY_KEY, MASTER_KEY):
        assert secret not in logs, "an instance logged a key"
    assert _upstream.spec_violations == [] and _anthropic.violations == []


def _visible_after(http: httpx.Client, answered_at: float, response_id: str, instances: list[Instance]) -> float:
    """Seconds from the answer until every one of `instances` finds the response (polled every 2 ms)."""
    for instance in instances:
        while http.get(f"{instance.url}/v1/responses/{response_id}").status_code == 404:
            assert time.monotonic() - answered_at < 10, "a stored response never reached the other instances"
            time.sleep(0.002)
    return time.monotonic() - answered_at


def test_a_cold_start_and_a_stored_response_that_continues_on_every_instance(cluster: Cluster) -> None:
    """The store writes behind the answer (docs/responses.md): another instance finds a response once
    its write has landed. The test waits for that, measures it, and continues on each other instance."""
    words = ["ochre", "teal", "umber"]
    lags: list[float] = []
    with (
        cluster.clients() as (direct, through_nginx),
        cluster.recorder.client(timeout=5, headers={"Authorization": f"Bearer {GATEWAY_KEY}"}) as poll,
    ):

        def create(i: int, **fields: Any) -> Any:
            response = direct[i].responses.create(model="gpt", **fields)
            others = [x for x in cluster.instances if x is not cluster.instances[i]]
            lags.append(_visible_after(poll, time.monotonic(), response.id, others))
            return response

        # The first requests of all three at once, on an empty database: each creates the tables.
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            firsts = list(pool.map(lambda i: create(i, input=f"Remember the word '{words[i]}'."), range(3)))
        cold = list(lags)
        for i, first in enumerate(firsts):
            second = create((i + 1) % 3, input="Which word?", previous_response_id=first.id)
            third = create((i + 2) % 3, input="Spell it.", previous_response_id=second.id)
            history = str(cluster.upstream.received[-1].json["messages"])
            assert words[i] in history and "Which word?" in history  # the whole chain reached the upstream
            for response in (first, second, third):
                for client in (*direct, through_nginx):
                    loaded = client.responses.retrieve(response.id)
                    assert (loaded.id, loaded.output_text) == (response.id, response.output_text)
            cluster.stored += [first.id, second.id, third.id]
        # A continuation sent to another instance the moment the answer arrives: that instance waits for
        # the write to land (store/cached.py, WRITE_BEHIND_WINDOW) instead of answering 404.
        waits = []
        for i in range(12):
            first = poll.post(cluster.instances[i % 3].url + "/v1/responses", json={"model": "gpt", "input": "Hi"})
            follow = {"model": "gpt", "input": "Again", "previous_response_id": first.json()["id"]}
            started = time.monotonic()
            answer = poll.post(cluster.instances[(i + 1) % 3].url + "/v1/responses", json=follow)
            waits.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
    warm = lags[3:]
    print(
        f"\na stored response reached the other instances {max(cold) * 1000:.0f} ms after the answer at the cold "
        f"start, {min(warm) * 1000:.1f}-{max(warm) * 1000:.1f} ms warm; continued at once on another instance: "
        f"12 of 12 answered, in {min(waits) * 1000:.0f}-{max(waits) * 1000:.0f} ms"
    )


def test_the_images_health_check_passes_on_a_live_instance(cluster: Cluster) -> None:
    command = [part.replace(":8080/", f":{cluster.instances[0].port}/") for part in healthcheck_command()]
    assert subprocess.run(command, capture_output=True, timeout=10).returncode == 0


def test_reasoning_sealed_by_one_instance_opens_on_the_others(cluster: Cluster) -> None:
    """No reasoning_key is configured: the first instance that needs one generates it and keeps it in
    PostgreSQL; the three ask for it at once, and all must end up with the same one."""
    cluster.anthropic.reset()
    cluster.anthropic.script(
        *[
            ant.Reply(
                stream=ant.tool_events(
                    [("toolu_01", "get_weather", ['{"city":"Paris"}'])],
                    thinking="Weather needs a lookup.",
                    signature="EqSignedByClaude==",
                )
            )
            for _ in range(3)
        ],
        *[ant.Reply(stream=ant.text_events(["Sunny."])) for _ in range(3)],
    )
    user = {"type": "message", "role": "user", "content": "Weather in Paris?"}
    codex = {
        "model": CLAUDE,
        "tools": [weather_tool()],
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "high", "summary": "auto"},
    }

    def turn(instance: Instance, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with cluster.recorder.client(timeout=20) as http:
            answer = http.post(
                instance.url + "/v1/responses",
                json={**codex, "input": items},
                headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
            )
        assert answer.status_code == 200, answer.text
        events = parse_sse(answer.text)
        assert_valid_stream(events)
        output: list[dict[str, Any]] = events[-1]["response"]["output"]
        return output

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        outputs = list(pool.map(lambda instance: turn(instance, [user]), cluster.instances))
    for i, output in enumerate(outputs):
        reasoning, call = output
        assert reasoning["encrypted_content"].startswith("bg1.") and "EqSignedByClaude" not in str(reasoning)
        answer = turn(
            cluster.instances[(i + 1) % 3],
            [user, *output, {"type": "function_call_output", "call_id": call["call_id"], "output": "21C"}],
        )
        assert answer[-1]["content"][0]["text"] == "Sunny."
    continued = [r.json for r in cluster.anthropic.received if r.json and len(r.json["messages"]) > 1]
    assert len(continued) == 3
    for body in continued:  # Claude got its signed thinking back from an instance that did not seal it
        assert body["messages"][1]["content"][0] == {
            "type": "thinking",
            "thinking": "Weather needs a lookup.",
            "signature": "EqSignedByClaude==",
        }


def test_a_virtual_keys_rpm_holds_across_the_three_together(cluster: Cluster) -> None:
    admin = {"Authorization": f"Bearer {MASTER_KEY}"}
    with cluster.recorder.client(timeout=10) as http:
        limited = http.post(cluster.nginx.url + "/admin/keys", json={"rpm": 6}, headers=admin).json()["key"]
        probe = http.post(cluster.nginx.url + "/admin/keys", json={}, headers=admin).json()["key"]
        # A key made on one instance works on all within a second; the later one seen means both are.
        deadline = time.monotonic() + 5
        while not all(
            http.get(i.url + "/v1/models", headers={"Authorization": f"Bearer {probe}"}).status_code == 200
            for i in cluster.instances
        ):
            assert time.monotonic() < deadline, "the new keys did not reach every instance"
            time.sleep(0.1)

        def ask(index: int) -> int:
            return http.post(
                cluster.instances[index % 3].url + "/v1/chat/completions",
                headers={"Authorization": f"Bearer {limited}"},
                json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
            ).status_code

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(ask, range(15)))
    assert (statuses.count(200), statuses.count(429)) == (6, 9), statuses


def test_a_circuit_opened_on_one_instance_is_honoured_by_the_others(cluster: Cluster) -> None:
    messages = [{"role": "user", "content": "hi"}]
    with cluster.clients() as (direct, _):
        for _ in range(30):  # the weighted pick may choose the live deployment: until the dead one fails
            answer = direct[0].chat.completions.with_raw_response.create(model="fragile", messages=messages)  # type: ignore[arg-type]
            if "dead" in answer.headers["x-babelgate-route"]:
                break
        assert "dead" in answer.headers["x-babelgate-route"]  # tried, failed, circuit open; then the live one
        time.sleep(0.3)  # published through Redis within milliseconds
        for instance, client in zip(cluster.instances[1:], direct[1:], strict=True):
            assert "dead" in str(httpx.get(instance.url + "/health", timeout=5).json()["circuits"])
            for _ in range(5):
                routed = client.chat.completions.with_raw_response.create(model="fragile", messages=messages)  # type: ignore[arg-type]
                assert "dead" not in routed.headers["x-babelgate-route"]  # skipped: open everywhere


def test_streams_pass_through_nginx_unbuffered_and_websockets_upgrade(cluster: Cluster) -> None:
    with cluster.clients() as (direct, through_nginx):
        started = time.monotonic()
        arrivals = []
        text = ""
        request_id = cluster.recorder.new_id()
        for chunk in through_nginx.chat.completions.create(
            model="gpt",
            stream=True,
            extra_headers={"x-request-id": request_id},
            messages=[{"role": "user", "content": SLOW}],
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic() - started)
                text += chunk.choices[0].delta.content
        assert text == "One two three four five"
        # Each piece arrived as the upstream sent it, 0.3 s apart: nothing held them back.
        assert arrivals[0] < 0.8 and arrivals[-1] - arrivals[0] > 0.9, arrivals
        print(f"\nSSE through nginx: pieces at {', '.join(f'{t:.2f}' for t in arrivals)} s")

        stored = direct[1].responses.create(model="gpt", input="Remember 7.")
        with through_nginx.responses.connect() as connection:  # ws://nginx/v1/responses
            connection.response.create(model="gpt", input="Which number?", previous_response_id=stored.id)
            for event in connection:
                if event.type in ("response.completed", "response.failed", "error"):
                    break
        cluster.ws_turns += 1
        assert event.type == "response.completed", event
        assert "Remember 7." in str(cluster.upstream.received[-1].json["messages"])
        for client in direct:  # the WebSocket's response was stored for every instance
            assert client.responses.retrieve(event.response.id).previous_response_id == stored.id
        cluster.stored += [stored.id, event.response.id]


def _await_ledger(cluster: Cluster, expected: set[str], timeout: float = 8) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = ledger_rows(cluster.dsn)
        ids = {row["request_id"] for row in rows}
        websocket = sum(row["route"] == "responses.websocket" for row in rows)
        if (expected <= ids and websocket >= cluster.ws_turns) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_the_ledger_holds_one_row_per_request_answered(cluster: Cluster) -> None:
    answered = {c.request_id: c for c in cluster.recorder.calls.values() if c.model_route and c.status is not None}
    rows = _await_ledger(cluster, set(answered))
    counts = collections.Counter(row["request_id"] for row in rows)
    assert [rid for rid, n in counts.items() if n > 1] == []
    http = {row["request_id"]: row for row in rows if row["route"] != "responses.websocket"}
    assert set(http) == set(answered)
    wrong = {
        rid: (row["status"], answered[rid].status)
        for rid, row in http.items()
        if not cluster.booked(rid, row["status"], answered[rid].status)
    }
    assert wrong == {}, wrong
    assert len(rows) - len(http) == cluster.ws_turns
    usage = httpx.get(
        cluster.nginx.url + "/admin/usage",
        params={"since": 0, "group_by": "status"},
        timeout=10,
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    ).json()
    by_status = {entry["status"]: entry["requests"] for entry in usage["data"]}
    assert by_status == dict(collections.Counter(row["status"] for row in rows))
    print(
        f"\nledger: {len(rows)} rows for {len(answered)} HTTP requests and {cluster.ws_turns} WebSocket turn, "
        f"statuses {by_status}"
    )


class Load:
    """Clients sending chat requests through nginx, one after another each, until stopped."""

    def __init__(self, cluster: Cluster, clients: int) -> None:
        self.cluster = cluster
        self.ids: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with self.cluster.client(self.cluster.nginx.url) as client:
            while not self._stop.is_set():
                request_id = self.cluster.recorder.new_id()
                self.ids.append(request_id)
                try:
                    client.chat.completions.create(
                        model="gpt",
                        messages=[{"role": "user", "content": "hi"}],
                        extra_headers={"x-request-id": request_id},
                    )
                except openai.APIError as exc:
                    self.cluster.recorder.failed(request_id, exc)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    """The ports of instances that are gone (hold_port), released whatever the test's outcome: a socket left
    open would fail a later test of this worker with its ResourceWarning when the garbage is collected."""
    holders: list[socket.socket] = []
    yield holders
    for holder in holders:
        holder.close()


def test_instances_that_die_under_load_lose_only_what_they_held(cluster: Cluster, held: list[socket.socket]) -> None:
    survivor, stopping, doomed = cluster.instances
    calls = cluster.recorder.calls
    stream: dict[str, Any] = {}
    if not cluster.stored:  # run alone (`-k`): a response stored through the instance about to die, to load at the end
        with cluster.clients() as (direct, _):
            cluster.stored.append(direct[2].responses.create(model="gpt", input="Remember 7.").id)

    def slow_stream() -> None:
        request_id = cluster.recorder.new_id()
        with cluster.client(stopping.url) as client:
            chunks = client.chat.completions.create(
                model="gpt",
                stream=True,
                messages=[{"role": "user", "content": SLOW}],
                extra_headers={"x-request-id": request_id},
            )
            stream["text"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    began = time.monotonic()
    with Load(cluster, LOAD_CLIENTS) as load:
        time.sleep(2)
        killed_at = time.monotonic()
        doomed.stop(signal.SIGKILL)
        dead_at = time.monotonic()  # reaped: its sockets are closed
        held.append(hold_port(doomed.port))  # refused from now on, as a dead instance's port is (hold_port)
        time.sleep(6)  # past nginx's fail_timeout (5 s): the dead instance is tried again, and refused
        streaming = threading.Thread(target=slow_stream)
        streaming.start()
        time.sleep(0.4)
        terminated_at = time.monotonic()
        stopping.process.send_signal(signal.SIGTERM)  # a rolling restart: drain, flush, exit
        time.sleep(2.5)
    streaming.join(30)
    assert stopping.process.wait(30) in CLEAN_EXIT
    held.append(hold_port(stopping.port))
    elapsed = time.monotonic() - began
    assert stream.get("text") == "One two three four five", "the stream in flight at SIGTERM was cut"

    sent = [calls[rid] for rid in load.ids if rid in calls]
    # nginx logs a request after it has sent the answer: the client may have read it first.
    deadline = time.monotonic() + 5
    while True:
        access = read_access_log(cluster.nginx.access_log)
        if all(c.request_id in access for c in sent) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    failed = [c for c in sent if c.status != 200]
    # In flight while it died: a killed process keeps its sockets until it is reaped (tens of ms for a
    # Python process), and what nginx sent it meanwhile is held, then fails with the sockets.
    in_flight = [c for c in sent if c.started < dead_at and (c.ended or dead_at) > killed_at]
    resent = [access[c.request_id] for c in sent if len(access[c.request_id].upstreams) > 1]
    resent_from = collections.Counter(entry.upstreams[0] for entry in resent)
    print(
        f"\nload through nginx: {len(sent)} requests in {elapsed:.1f} s ({len(sent) / elapsed:.0f}/s, "
        f"{LOAD_CLIENTS} clients); SIGKILL of instance 3, {len(in_flight)} in flight while it died: "
        f"{len(failed)} failed ({[c.status or c.error for c in failed]}); SIGTERM of instance 2 mid-stream: "
        f"its stream finished, {sum(1 for c in sent if c.started >= terminated_at and c.status != 200)} failed; "
        f"sent on by nginx after a refused connect: {resent_from[doomed.address]} from instance 3, "
        f"{resent_from[stopping.address]} from instance 2"
    )
    print(
        f"the killed process was reaped {(dead_at - killed_at) * 1000:.0f} ms after SIGKILL; failed requests started "
        + ", ".join(f"{(c.started - dead_at) * 1000:+.0f}" for c in failed)
        + " ms from then"
    )
    for call in failed:  # each was held by the dying instance, and nginx did not send it again
        entry = access[call.request_id]
        assert call.started < dead_at and entry.upstreams == [doomed.address], (
            call,
            entry,
            f"killed {doomed.address}, stopped {stopping.address}",
            cluster.nginx.errors()[-5:],
        )
    assert len(failed) <= LOAD_CLIENTS  # a client has one request at a time: at most one each was held
    # The dead instance was tried again after fail_timeout, refused, and the request went on.
    assert resent_from[doomed.address] >= 1
    assert all(
        e.upstreams[0] in (doomed.address, stopping.address) and e.upstream_statuses[-1] == "200" for e in resent
    )

    # What was stored through the instances now gone loads from the one left, and through nginx.
    with cluster.clients() as (direct, through_nginx):
        for response_id in cluster.stored:
            assert direct[0].responses.retrieve(response_id).id == response_id
            assert through_nginx.responses.retrieve(response_id).id == response_id
        follow = through_nginx.responses.create(
            model="gpt", input="Still there?", previous_response_id=cluster.stored[0]
        )
        assert follow.previous_response_id == cluster.stored[0]
    assert survivor.stop() in CLEAN_EXIT

    # The ledger: nothing twice; every answer of the instances that stopped with SIGTERM; of the
    # killed one, all but the answers of its last flush interval; no row for a failed request.
    rows = ledger_rows(cluster.dsn)
    access = read_access_log(cluster.nginx.access_log)
    counts = collections.Counter(row["request_id"] for row in rows)
    assert [rid for rid, n in counts.items() if n > 1] == [], "a request was recorded twice"
    statuses = {row["request_id"]: row["status"] for row in rows}
    codes = {row["request_id"]: row["error_code"] for row in rows}
    lost = []
    for call in calls.values():
        if not call.model_route:
            continue
        port = cluster.served_by(call.request_id, access) if call.status is not None else None
        if call.status is None or (call.status == 502 and port == doomed.port):
            assert call.request_id not in statuses, call  # it never ended on an instance
        elif port == doomed.port and call.request_id not in statuses:
            assert call.ended is not None and call.ended > killed_at - FLUSH_WINDOW, call
            lost.append(call)
        else:
            assert cluster.booked(call.request_id, statuses.get(call.request_id), call.status), (
                call,
                {i.port: i.number for i in cluster.instances}.get(port),
                access.get(call.request_id),
                codes.get(call.request_id),
                f"started {call.started - killed_at:+.3f} s from SIGKILL, "
                f"{call.started - terminated_at:+.3f} from SIGTERM",
            )
    assert [row for row in rows if row["request_id"] not in calls and row["route"] != "responses.websocket"] == []
    assert sum(row["route"] == "responses.websocket" for row in rows) == cluster.ws_turns
    print(
        f"ledger: {len(rows)} rows, none twice; the killed instance's last unflushed answers: {len(lost)} "
        f"(answered in the {FLUSH_WINDOW} s before the kill); every other answer recorded once"
    )
    print(f"nginx errors logged: {len(cluster.nginx.errors())}")
    # With PostgreSQL configured, no instance wrote a file (so a read-only root filesystem holds).
    assert [p for directory in cluster.written for p in directory.rglob("*")] == []
