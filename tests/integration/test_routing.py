"""The router through the official clients: deployments, failover, retries, fallbacks, circuit
breaking and key pools, against fake upstreams scripted to fail (docs/routing.md)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import CLOSED_PORT_URL, start_gateway
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream
from tests.fakes.scripted import Received, Reply
from tests.fakes.servers import LoopThread, RunningApp

PRIMARY_KEY, SECONDARY_KEY, FALLBACK_KEY = "sk-primary-0000-AAAA", "sk-secondary-1111-BBBB", "sk-fallback-2222-CCCC"
# Tails of letters no metric or timestamp spells: the tests look for a key's last four characters (what
# /health may show) in /metrics, where "2222" once matched the digits of a timestamp.
POOL_KEYS = ("sk-pool-first-key-JQXZ", "sk-pool-second-key-VKWQ")


def _error(status: int, code: str | None = None, message: str = "upstream trouble") -> Reply:
    error = {
        "message": message,
        "type": "invalid_request_error" if status < 500 else "server_error",
        "param": None,
        "code": code,
    }
    return Reply(status=status, json={"error": error})


@pytest.fixture(scope="module")
def _fakes(loop_thread: LoopThread) -> Iterator[dict[str, FakeOpenAI]]:
    fakes = {name: FakeOpenAI() for name in ("primary", "secondary", "fallback")}
    for fake in fakes.values():
        loop_thread.run(fake.start())
    # The official clients' first call in a process builds their types (about a second): done here,
    # so that the tests' time bounds measure the gateway.
    with openai.OpenAI(base_url=fakes["fallback"].base_url, api_key="x", max_retries=0, timeout=60) as client:
        client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "x"}]).parse()
    yield fakes
    for fake in fakes.values():
        loop_thread.run(fake.stop())


@pytest.fixture
def fakes(_fakes: dict[str, FakeOpenAI]) -> Iterator[dict[str, FakeOpenAI]]:
    for fake in _fakes.values():
        fake.reset()
    yield _fakes
    for name, fake in _fakes.items():
        assert fake.spec_violations == [], f"{name}: the gateway sent requests the OpenAI spec refuses"


Start = Callable[..., RunningApp]


@pytest.fixture
def start(loop_thread: LoopThread, fakes: dict[str, FakeOpenAI], tmp_path: Any) -> Iterator[Start]:
    """A gateway with providers `primary`, `secondary`, `fallback` on the three fakes and `models`
    (YAML under `models:`), plus whatever `extra` YAML says."""
    started: list[RunningApp] = []

    def factory(
        models: str,
        extra: str = "",
        *,
        primary_url: str | None = None,
        primary_keys: str = "env:PRIMARY_API_KEY",
        primary_options: str = "",
    ) -> RunningApp:
        path = tmp_path / f"routing{len(started)}.yaml"
        path.write_text(
            "providers:\n"
            f"  primary: {{type: openai, base_url: '{primary_url or fakes['primary'].base_url}', "
            f"api_keys: {primary_keys}{primary_options}}}\n"
            f"  secondary: {{type: openai, base_url: '{fakes['secondary'].base_url}',"
            " api_key: env:SECONDARY_API_KEY}\n"
            f"  fallback: {{type: openai, base_url: '{fakes['fallback'].base_url}', api_key: env:FALLBACK_API_KEY}}\n"
            f"models:\n{models}\n{extra}"
        )
        environ = {
            "PRIMARY_API_KEY": PRIMARY_KEY,
            "SECONDARY_API_KEY": SECONDARY_KEY,
            "FALLBACK_API_KEY": FALLBACK_KEY,
            "POOL_KEY_1": POOL_KEYS[0],
            "POOL_KEY_2": POOL_KEYS[1],
            "OLLAMA_BASE_URL": CLOSED_PORT_URL,
            "BABELGATE_STORE_URL": "memory",
        }
        return start_gateway(loop_thread, load_config(path, environ, available_types=PROVIDER_TYPES), started)

    yield factory
    for running in started:
        loop_thread.run(running.stop())


def _chats(fake: FakeOpenAI) -> list[Received]:
    """The chat requests a fake received (the gateway also asks each upstream for its models)."""
    return [r for r in fake.received if r.path.endswith("/chat/completions")]


def _client(gateway: RunningApp, timeout: float = 20) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=timeout)


def _chat(gateway: RunningApp, model: str = "resilient", **kwargs: Any) -> Any:
    with _client(gateway) as client:
        return client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], **kwargs
        )


# Two deployments; `primary` takes (nearly) every first attempt, so the tests know the order.
RESILIENT = """\
  resilient:
    deployments:
      - {provider: primary, model: p-model, weight: 1000000}
      - {provider: secondary, model: s-model, weight: 0.000001}
    fallbacks: [backup]
  backup: {provider: fallback, model: b-model}
"""
FAST_BACKOFF = "routing: {backoff: {initial: 0.01, max: 0.05}}\n"


def test_a_failing_deployment_fails_over_to_the_next(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(500))
    raw = _chat(gateway)
    answer = raw.parse()
    assert answer.choices[0].message.content == "Hello!"
    assert answer.model == "s-model"  # the model that actually served it
    assert raw.headers["x-babelgate-route"] == "primary/p-model=500, secondary/s-model=ok"
    assert raw.headers["x-babelgate-attempts"] == "2"
    assert _chats(fakes["secondary"])[-1].headers["Authorization"] == f"Bearer {SECONDARY_KEY}"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 529])
def test_every_retryable_status_fails_over(start: Start, fakes: dict[str, FakeOpenAI], status: int) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(status))
    raw = _chat(gateway)
    assert raw.parse().model == "s-model"
    assert raw.headers["x-babelgate-route"].endswith("secondary/s-model=ok")


@pytest.mark.parametrize(("status", "code"), [(400, None), (404, None), (413, None)])
def test_a_non_retryable_error_is_answered_at_once(
    start: Start, fakes: dict[str, FakeOpenAI], status: int, code: str | None
) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(status, code))
    with _client(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="resilient", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == status
    assert caught.value.response.headers["x-babelgate-attempts"] == "1"
    assert _chats(fakes["secondary"]) == [] and _chats(fakes["fallback"]) == []


def test_refused_credentials_fail_over_to_the_next_deployment(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    """A 401 for the gateway's own key at one deployment is not the client's fault: another deployment serves."""
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(401, "invalid_api_key", "Incorrect API key provided: sk-prim****AAAA"))
    raw = _chat(gateway)
    assert raw.parse().model == "s-model"
    assert raw.headers["x-babelgate-route"] == "primary/p-model=401, secondary/s-model=ok"
    assert raw.headers["x-babelgate-attempts"] == "2"


def test_refused_credentials_everywhere_are_answered_without_retrying_them(
    start: Start, fakes: dict[str, FakeOpenAI]
) -> None:
    """Retries wait for an upstream that may recover; refused credentials do not recover within a request: each
    deployment is tried once, and the client gets the refusal in words of the gateway's own."""
    models = """\
  guarded:
    deployments:
      - {provider: primary, model: p-model, weight: 1000000}
      - {provider: secondary, model: s-model, weight: 0.000001}
    routing: {retries: 2}
"""
    gateway = start(models, FAST_BACKOFF)
    fakes["primary"].script(_error(401, "invalid_api_key", "Incorrect API key provided: sk-prim****AAAA"))
    fakes["secondary"].script(_error(403))
    with _client(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="guarded", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 403  # the last refusal
    assert caught.value.response.headers["x-babelgate-route"] == "primary/p-model=401, secondary/s-model=403"
    assert caught.value.response.headers["x-babelgate-attempts"] == "2"
    assert len(_chats(fakes["primary"])) == 1 and len(_chats(fakes["secondary"])) == 1
    error = caught.value.response.json()["error"]
    assert error["code"] == "upstream_authentication_error"
    assert "secondary" in error["message"] and "sk-prim" not in caught.value.response.text


def test_a_refused_connection_fails_over(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT, primary_url=CLOSED_PORT_URL)
    raw = _chat(gateway)
    assert raw.parse().model == "s-model"
    assert raw.headers["x-babelgate-route"].startswith("primary/p-model=upstream_connection_error")


def test_a_first_byte_stall_fails_over(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    # The provider's read timeout is its first-byte timeout: short for `primary`.
    gateway = start(RESILIENT, primary_options=", timeout: 0.3")
    fakes["primary"].script(Reply(json=completion("late"), first_byte_delay=2))
    started = time.monotonic()
    raw = _chat(gateway)
    assert raw.parse().model == "s-model"
    assert time.monotonic() - started < 1.5
    assert raw.headers["x-babelgate-route"].startswith("primary/p-model=upstream_timeout")


# Retryable failures, and refused credentials (never the client's fault: another deployment's may be good).
@pytest.mark.parametrize(("first", "second"), [(503, 502), (403, 401)])
def test_when_every_deployment_fails_the_fallback_answers(
    start: Start, fakes: dict[str, FakeOpenAI], first: int, second: int
) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(first))
    fakes["secondary"].script(_error(second))
    raw = _chat(gateway)
    assert raw.parse().model == "b-model"
    route = f"primary/p-model={first}, secondary/s-model={second}, fallback/b-model=ok"
    assert raw.headers["x-babelgate-route"] == route
    assert _chats(fakes["fallback"])[-1].json["model"] == "b-model"


def test_retries_wait_for_retry_after(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    """A 429 with `Retry-After: 1` on the only deployment is not retried before 1 s."""
    gateway = start("  solo: {provider: primary, model: p-model, routing: {retries: 2}}\n", FAST_BACKOFF)
    fakes["primary"].script(
        Reply(
            status=429,
            json={
                "error": {
                    "message": "slow down",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
            headers={"Retry-After": "1"},
        )
    )
    started = time.monotonic()
    raw = _chat(gateway, "solo")
    elapsed = time.monotonic() - started
    assert raw.parse().choices[0].message.content == "Hello!"
    assert elapsed >= 1.0
    assert raw.headers["x-babelgate-route"] == "primary/p-model=429, primary/p-model=ok"
    assert len(_chats(fakes["primary"])) == 2


def test_503_then_success_is_retried_with_backoff(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start("  solo: {provider: primary, model: p-model, routing: {retries: 3}}\n", FAST_BACKOFF)
    fakes["primary"].script(_error(503), _error(503))
    raw = _chat(gateway, "solo")
    assert raw.parse().choices[0].message.content == "Hello!"
    assert raw.headers["x-babelgate-attempts"] == "3"


def test_retries_stop_at_their_count(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start("  solo: {provider: primary, model: p-model, routing: {retries: 1}}\n", FAST_BACKOFF)
    fakes["primary"].script(_error(500), _error(500), _error(500))
    with _client(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="solo", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-babelgate-route"] == "primary/p-model=500, primary/p-model=500"
    assert len(_chats(fakes["primary"])) == 2


def test_a_retry_after_past_the_budget_goes_to_the_fallback(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(
        "  solo: {provider: primary, model: p-model, fallbacks: [backup],"
        " routing: {retries: 2, budget: 2}}\n  backup: {provider: fallback, model: b-model}\n"
    )
    fakes["primary"].script(
        Reply(status=503, json={"error": {"message": "busy", "type": "server_error"}}, headers={"Retry-After": "30"})
    )
    started = time.monotonic()
    raw = _chat(gateway, "solo")
    assert raw.parse().model == "b-model"
    assert time.monotonic() - started < 1.5


def test_a_context_window_overflow_goes_to_its_own_fallback(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(
        "  small: {provider: primary, model: p-model, fallbacks: [backup],"
        " context_window_fallbacks: [large]}\n"
        "  large: {provider: secondary, model: s-model}\n"
        "  backup: {provider: fallback, model: b-model}\n"
    )
    fakes["primary"].script(_error(400, "context_length_exceeded", "This model's maximum context length is 8192"))
    raw = _chat(gateway, "small")
    assert raw.parse().model == "s-model"
    assert raw.headers["x-babelgate-route"] == "primary/p-model=400, secondary/s-model=ok"


def test_a_content_policy_refusal_goes_to_its_own_fallback(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(
        "  strict: {provider: primary, model: p-model, content_policy_fallbacks: [lenient]}\n"
        "  lenient: {provider: fallback, model: b-model}\n"
    )
    fakes["primary"].script(_error(400, "content_policy_violation", "refused"))
    raw = _chat(gateway, "strict")
    assert raw.parse().model == "b-model"


def test_without_a_context_fallback_the_overflow_is_the_answer(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(400, "context_length_exceeded"))
    with _client(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="resilient", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.code == "context_length_exceeded"
    assert _chats(fakes["fallback"]) == []


COOL_DOWN = 3.0


def test_a_dead_deployment_costs_one_probe_per_cool_down(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    # A cool-down long enough for five requests on a loaded CI host (at 1 s, one failed there: a probe came).
    gateway = start(RESILIENT, f"routing: {{circuit: {{failures: 2, cooldown: {COOL_DOWN:g}}}}}\n")
    fakes["primary"].chat_responder = lambda body: _error(503)
    for _ in range(2):
        assert _chat(gateway).parse().model == "s-model"
    assert len(_chats(fakes["primary"])) == 2  # two failures: the circuit opens
    for _ in range(5):
        raw = _chat(gateway)
        assert raw.headers["x-babelgate-route"] == "secondary/s-model=ok"
    assert len(_chats(fakes["primary"])) == 2  # skipped while open
    time.sleep(COOL_DOWN + 0.1)
    for _ in range(3):
        _chat(gateway)
    assert len(_chats(fakes["primary"])) == 3  # half-open: one probe, which failed; open again
    fakes["primary"].chat_responder = None
    time.sleep(COOL_DOWN + 0.1)
    assert _chat(gateway).parse().model == "p-model"  # the probe succeeds: closed
    assert _chat(gateway).parse().model == "p-model"


def test_a_rejected_key_is_taken_out_and_another_key_serves(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start("  pooled: {provider: primary, model: p-model}\n", primary_keys="[env:POOL_KEY_1, env:POOL_KEY_2]")
    fakes["primary"].script(_error(401))
    raw = _chat(gateway, "pooled")
    assert raw.parse().choices[0].message.content == "Hello!"
    for _ in range(3):
        _chat(gateway, "pooled")
    used = [r.headers["Authorization"].removeprefix("Bearer ") for r in _chats(fakes["primary"])]
    rejected, other = used[0], next(key for key in POOL_KEYS if key != used[0])
    assert used[1:] == [other] * 4  # at once with the other key, and only with it from then on
    health = httpx.get(gateway.url + "/health")
    primary = next(p for p in health.json()["providers"] if p["name"] == "primary")
    assert {"key": "…" + rejected[-4:], "state": "rejected"} in primary["keys"]
    assert {"key": "…" + other[-4:], "state": "ok"} in primary["keys"]
    assert rejected not in health.text and rejected[:-4] not in health.text


def test_a_rate_limited_key_rests_while_another_is_free(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start("  pooled: {provider: primary, model: p-model}\n", primary_keys="[env:POOL_KEY_1, env:POOL_KEY_2]")
    fakes["primary"].script(
        Reply(
            status=429, json={"error": {"message": "slow", "type": "rate_limit_error"}}, headers={"Retry-After": "30"}
        )
    )
    started = time.monotonic()
    raw = _chat(gateway, "pooled")
    assert time.monotonic() - started < 1  # another key was free: no wait for Retry-After
    assert raw.parse().choices[0].message.content == "Hello!"
    for _ in range(4):
        _chat(gateway, "pooled")
    used = [r.headers["Authorization"].removeprefix("Bearer ") for r in _chats(fakes["primary"])]
    resting, other = used[0], next(key for key in POOL_KEYS if key != used[0])
    assert used[1:] == [other] * 5
    primary = next(p for p in httpx.get(gateway.url + "/health").json()["providers"] if p["name"] == "primary")
    assert {"key": "…" + resting[-4:], "state": "cooling_down"} in primary["keys"]
    assert primary["state"] == "ok"
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'babelgate_routing_events_total{event="key_cooldowns",model="pooled",provider="primary"} 1.0' in metrics
    assert resting[-4:] not in metrics


def test_a_stream_fails_over_before_its_first_byte(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(503))
    with (
        _client(gateway) as client,
        client.chat.completions.with_streaming_response.create(
            model="resilient", messages=[{"role": "user", "content": "Hi"}], stream=True
        ) as response,
    ):
        assert response.headers["x-babelgate-route"] == "primary/p-model=503, secondary/s-model=ok"
        text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
    assert text == "Hello!"


def test_a_client_that_leaves_cancels_a_pending_retry(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start("  solo: {provider: primary, model: p-model, routing: {retries: 2}}\n")
    fakes["primary"].script(
        Reply(status=503, json={"error": {"message": "busy", "type": "server_error"}}, headers={"Retry-After": "2"})
    )
    with _client(gateway, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="solo", messages=[{"role": "user", "content": "Hi"}])
    time.sleep(2.5)
    assert len(_chats(fakes["primary"])) == 1  # the retry never went out


def test_the_anthropic_client_fails_over_on_a_translated_road(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(500))
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=60) as client:
        raw = client.messages.with_raw_response.create(
            model="resilient", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]
        )
    message = raw.parse()
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert message.model == "resilient"
    assert raw.headers["x-babelgate-route"] == "primary/p-model=500, secondary/s-model=ok"


def test_a_simple_model_has_no_route_headers(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start("  plain: {provider: primary, model: p-model}\n")
    raw = _chat(gateway, "plain")
    assert "x-babelgate-route" not in raw.headers


def test_a_client_that_leaves_cancels_the_upstream_call(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    """Non-streaming, one attempt: the gateway stops waiting for the upstream when its client leaves
    (the request is accounted as 499 long before the upstream would have answered)."""
    gateway = start("  plain: {provider: primary, model: p-model}\n")
    fakes["primary"].script(Reply(json=completion("late"), first_byte_delay=5))
    with _client(gateway, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="plain", messages=[{"role": "user", "content": "Hi"}])
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if 'status="499"' in httpx.get(gateway.url + "/metrics").text:
            return
        time.sleep(0.05)
    pytest.fail("the call went on after the client left")


def _whole_stream_at_once() -> Reply:
    """The whole stream, `[DONE]` included, in one write after a long wait: the gateway's first frame completes the
    answer, and the pipeline has begun watching the long call for a disconnect."""
    frames = b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in text_stream(["Hel", "lo"]))
    return Reply(stream=[frames + b"data: [DONE]\n\n"], done=False, first_byte_delay=0.3, end_delay=2)


@pytest.mark.parametrize(
    "reply",
    [lambda: Reply(stream=text_stream(["Hel", "lo"]), end_delay=2), _whole_stream_at_once],
    ids=["done-after-chunks", "done-in-the-first-frame-of-a-long-call"],
)
def test_a_stream_read_to_done_is_not_booked_as_a_disconnect(
    start: Start, fakes: dict[str, FakeOpenAI], reply: Callable[[], Reply]
) -> None:
    """A client that closes right after `[DONE]` (as SDKs may) while the upstream's body has not ended yet
    got the whole answer: the request is a 200, not a 499."""
    gateway = start("  plain: {provider: primary, model: p-model}\n")
    fakes["primary"].script(reply())
    body = {"model": "plain", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=5) as answer:
        for line in answer.iter_lines():
            if line == "data: [DONE]":
                break  # and close, while the upstream is still sending
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        metrics = httpx.get(gateway.url + "/metrics").text
        if re.search(r'babelgate_requests_total\{[^}]*status="(200|499)"', metrics):
            break
        time.sleep(0.05)
    assert 'status="499"' not in metrics
    assert 'status="200"' in metrics


def test_a_model_s_own_first_byte_timeout_fails_over(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT.replace("weight: 1000000}", "weight: 1000000, timeouts: {first_byte: 0.3}}"))
    fakes["primary"].script(Reply(json=completion("late"), first_byte_delay=2))
    started = time.monotonic()
    raw = _chat(gateway)
    assert raw.parse().model == "s-model" and time.monotonic() - started < 1.5
    assert raw.headers["x-babelgate-route"].startswith("primary/p-model=upstream_timeout")


def test_a_stream_that_stalls_past_its_chunk_timeout_ends_with_an_error_event(
    start: Start, fakes: dict[str, FakeOpenAI]
) -> None:
    """After the first byte nothing is retried: the Messages client sees Anthropic's `error` event,
    never a successful-looking end. The first byte may take long (2 s allowed), a gap may not."""
    gateway = start(
        "  slow: {provider: primary, model: p-model, fallbacks: [backup],"
        " timeouts: {first_byte: 2, chunk: 0.3}}\n  backup: {provider: fallback, model: b-model}\n"
    )
    fakes["primary"].script(
        Reply(
            stream=text_stream(["a", "b", "c"]),
            stall_after=2,  # type: ignore[arg-type]
            first_byte_delay=0.5,
        )
    )
    started = time.monotonic()
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=60) as client,
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="slow", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]) as s,
    ):
        for _ in s:
            pass
    assert time.monotonic() - started < 2
    assert caught.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    assert "did not answer in time (stream)" in caught.value.message
    assert _chats(fakes["fallback"]) == []  # the stream had begun: no fallback after the first byte


def test_lowest_latency_sends_the_traffic_to_the_faster_deployment(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(
        "  quick:\n    deployments:\n      - {provider: primary, model: p-model}\n"
        "      - {provider: secondary, model: s-model}\n    routing: {balance: lowest_latency}\n"
    )
    fakes["primary"].chat_responder = lambda body: Reply(
        json=completion("slow", model="p-model"), first_byte_delay=0.15
    )
    for _ in range(2):  # each is measured once (an unmeasured deployment goes first)
        _chat(gateway, "quick")
    assert {r.json["model"] for r in _chats(fakes["primary"]) + _chats(fakes["secondary"])} == {"p-model", "s-model"}
    for _ in range(5):
        assert _chat(gateway, "quick").parse().model == "s-model"
    assert len(_chats(fakes["primary"])) == 1


def test_least_busy_spreads_concurrent_requests(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    import concurrent.futures

    gateway = start(
        "  spread:\n    deployments:\n      - {provider: primary, model: p-model, weight: 1000000}\n"
        "      - {provider: secondary, model: s-model, weight: 0.000001}\n"
        "    routing: {balance: least_busy}\n"
    )
    # No upstream answers before all four requests have reached one: each was routed while the others were
    # in flight, whatever the machine's load (a 0.3 s answer delay let a request that started late, on a
    # busy machine, find its predecessor done and go to primary: three and one).
    everyone_in = asyncio.Barrier(4)
    for fake in fakes.values():
        fake.chat_barrier = everyone_in
        fake.chat_responder = lambda body: Reply(json=completion("ok", model=body["model"]))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: _chat(gateway, "spread").parse().model, range(4)))
    assert sorted(models) == ["p-model", "p-model", "s-model", "s-model"]  # weights say primary; load says both


def test_health_lists_each_key_once_though_a_deployment_has_a_provider_of_its_own(start: Start) -> None:
    # Own timeouts give the deployment a provider of its own, with the same key and a pool of its own.
    gateway = start("  timed:\n    provider: primary\n    model: p-model\n    timeouts: {total: 30}\n")
    providers = {entry["name"]: entry for entry in httpx.get(gateway.url + "/health", timeout=10).json()["providers"]}
    labels = [key["key"] for key in providers["primary"]["keys"]]
    assert labels.count("…" + PRIMARY_KEY[-4:]) == 1, labels
    assert labels.count("…" + SECONDARY_KEY[-4:]) == 0 and len(providers["secondary"]["keys"]) == 1


def test_the_responses_api_and_embeddings_fail_over_too(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    gateway = start(RESILIENT)
    fakes["primary"].script(_error(503), _error(503))
    with _client(gateway) as client:
        raw = client.responses.with_raw_response.create(model="resilient", input="Hi")
        assert raw.parse().output_text == "Hello!"
        assert raw.headers["x-babelgate-route"] == "primary/p-model=503, secondary/s-model=ok"
        embedded = client.embeddings.with_raw_response.create(model="resilient", input="Hi")
        assert embedded.headers["x-babelgate-route"] == "primary/p-model=503, secondary/s-model=ok"
        assert len(embedded.parse().data) == 1


def test_ollama_legacy_completions_and_images_fail_over_too(start: Start, fakes: dict[str, FakeOpenAI]) -> None:
    """Every frontend makes its upstream call through the one call path, so every one is routed."""
    import ollama

    gateway = start(RESILIENT)
    fakes["primary"].script(_error(502), _error(502), _error(502))
    with ollama.Client(host=gateway.url, timeout=10) as local:
        answer = local.chat(model="resilient", messages=[{"role": "user", "content": "Hi"}], stream=False)
    assert answer.message.content == "Hello!"
    with _client(gateway) as client:
        completion_raw = client.completions.with_raw_response.create(model="resilient", prompt="Say hi")
        assert completion_raw.headers["x-babelgate-route"] == "primary/p-model=502, secondary/s-model=ok"
        assert completion_raw.parse().choices[0].text
        image_raw = client.images.with_raw_response.generate(model="resilient", prompt="a cat")
        assert image_raw.headers["x-babelgate-route"] == "primary/p-model=502, secondary/s-model=ok"
        assert len(image_raw.parse().data or []) == 1
    assert len(_chats(fakes["primary"])) >= 1
