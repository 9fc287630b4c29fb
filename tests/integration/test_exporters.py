"""The conversation log's exporters on real sockets: GenAI spans an OTLP collector decodes and checks, the same
spans at Langfuse's OTLP endpoint with its key pair, a signed webhook; a receiver that fails for a while gets
every exchange once; a dead one never slows `take`, and what must go is counted."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from babelgate.config.content import ExporterConfig
from babelgate.conversation.exporters.build import Exporters
from babelgate.conversation.record import Exchange
from tests.conftest import CLOSED_PORT_URL, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.otlp_collector import FakeCollector
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import MASTER, _create
from tests.waiting import eventually

SECRET = "whsec-0123456789abcdef"
LANGFUSE = ("pk-lf-public", "sk-lf-secret-0123456789")


def exchange(number: int, **fields: Any) -> Exchange:
    values: dict[str, Any] = {
        "request_id": f"req-{number:04d}",
        "started": time.time() - 1,
        "route": "chat.completions",
        "model": "gpt",
        "provider": "openai",
        "upstream_model": "gpt-4o",
        "status": 200,
        "stream": False,
        "elapsed": 0.25,
        "key_id": "key-1",
        "team": "search",
        "session": "conv-7",
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "cost": 0.0001,
        "guardrails": {"pii": "mask"},
        "system": [{"type": "text", "content": "Be brief."}],
        "input": [{"role": "user", "parts": [{"type": "text", "content": f"Question {number} for <EMAIL_1>"}]}],
        "output": [{"role": "assistant", "parts": [{"type": "text", "content": "Yes."}], "finish_reason": "stop"}],
    }
    values.update(fields)
    return Exchange(**values)


@pytest.fixture
def collector(loop_thread: LoopThread) -> Iterator[tuple[FakeCollector, RunningApp]]:
    fake = FakeCollector(langfuse=LANGFUSE, secret=SECRET)
    app = RunningApp(fake)
    loop_thread.run(app.start())
    yield fake, app
    loop_thread.run(app.stop())
    assert fake.violations == []


class Counted:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def __call__(self, exporter: str, outcome: str, count: int) -> None:
        self.counts[exporter, outcome] += count


def run(loop_thread: LoopThread, exporters: Exporters, batches: list[list[Exchange]], close: bool = True) -> None:
    async def go() -> None:
        for batch in batches:
            exporters.take(batch)
        if close:
            await exporters.aclose()

    loop_thread.run(go(), timeout=60)


def test_each_exporter_delivers_genai_spans_or_a_signed_webhook(
    collector: tuple[FakeCollector, RunningApp], loop_thread: LoopThread
) -> None:
    fake, app = collector
    configs = [
        ExporterConfig(type="otlp", endpoint=app.url),
        ExporterConfig(type="langfuse", host=app.url, public_key=LANGFUSE[0], secret_key=LANGFUSE[1]),
        ExporterConfig(type="webhook", url=app.url + "/hook", secret=SECRET),
    ]
    counted = Counted()
    failed = exchange(2, status=429, error_code="rate_limited", output=[])
    run(loop_thread, Exporters(configs, counted, service="gateway-a"), [[exchange(1), failed]])
    assert counted.counts == {("otlp", "exported"): 2, ("langfuse", "exported"): 2, ("webhook", "exported"): 2}

    plain = [span for span in fake.spans if "langfuse.observation.type" not in span]
    langfuse = [span for span in fake.spans if "langfuse.observation.type" in span]
    assert len(plain) == len(langfuse) == 2
    first = next(span for span in plain if span["babelgate.request_id"] == "req-0001")
    assert first["name"] == "chat gpt" and first["service"] == "gateway-a"
    assert first["gen_ai.provider.name"] == "openai" and first["gen_ai.response.model"] == "gpt-4o"
    assert first["gen_ai.usage.input_tokens"] == 12 and first["gen_ai.usage.output_tokens"] == 3
    assert first["gen_ai.response.finish_reasons"] == ["stop"] and first["gen_ai.conversation.id"] == "conv-7"
    assert json.loads(first["gen_ai.input.messages"])[0]["parts"][0]["content"] == "Question 1 for <EMAIL_1>"
    assert json.loads(first["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(first["babelgate.guardrails"]) == {"pii": "mask"}
    error = next(span for span in plain if span["babelgate.request_id"] == "req-0002")
    assert error["status"] == 2 and error["error.type"] == "rate_limited"  # STATUS_CODE_ERROR
    generation = next(span for span in langfuse if span["babelgate.request_id"] == "req-0001")
    assert generation["langfuse.observation.type"] == "generation"
    assert generation["langfuse.user.id"] == "key-1" and generation["langfuse.session.id"] == "conv-7"
    assert json.loads(generation["langfuse.observation.usage_details"]) == {"input": 12, "output": 3}
    assert {hook["request_id"] for hook in fake.hooks} == {"req-0001", "req-0002"}
    assert fake.hooks[0]["input"][0]["parts"][0]["type"] == "text"


def test_a_receiver_that_fails_for_a_while_gets_everything_once(
    collector: tuple[FakeCollector, RunningApp], loop_thread: LoopThread
) -> None:
    fake, app = collector
    fake.failures.extend([503, 500, 429])
    counted = Counted()
    exporters = Exporters([ExporterConfig(type="otlp", endpoint=app.url + "/v1/traces", batch=4)], counted)
    run(loop_thread, exporters, [[exchange(n) for n in range(10)]], close=False)
    assert eventually(lambda: counted.counts["otlp", "exported"] == 10, seconds=30)
    run(loop_thread, exporters, [])
    ids = [span["babelgate.request_id"] for span in fake.spans]
    assert sorted(ids) == [f"req-{n:04d}" for n in range(10)]  # each once, the failed batch sent again
    assert counted.counts == {("otlp", "exported"): 10}


def test_a_refusing_receiver_is_not_retried_and_its_drops_are_counted(
    collector: tuple[FakeCollector, RunningApp], loop_thread: LoopThread
) -> None:
    fake, app = collector
    counted = Counted()
    wrong = ExporterConfig(type="langfuse", host=app.url, public_key="pk-wrong", secret_key="sk-wrong-0123456789")
    run(loop_thread, Exporters([wrong], counted), [[exchange(1), exchange(2)]])
    assert counted.counts == {("langfuse", "rejected"): 2}
    assert fake.requests == 1 and fake.spans == []


def test_a_dead_receiver_never_slows_take_and_what_must_go_is_counted(loop_thread: LoopThread) -> None:
    counted = Counted()
    config = ExporterConfig(type="webhook", url=CLOSED_PORT_URL + "/hook", secret=SECRET, queue_limit=100, retries=1)
    exporters = Exporters([config], counted)
    many = [exchange(n) for n in range(1000)]

    async def take() -> set[tuple[str, str]]:
        for item in many:
            exporters.take([item])  # an append: never waits, so the delivery has not run yet
        return set(counted.counts)

    assert loop_thread.run(take()) == {("webhook", "queue_full")}
    assert counted.counts["webhook", "queue_full"] == 900  # the queue holds 100 at most, the oldest went
    loop_thread.run(exporters.aclose(), timeout=60)
    lost = sum(count for (_, reason), count in counted.counts.items() if reason != "exported")
    assert lost == 1000 and counted.counts["webhook", "exported"] == 0
    assert set(reason for _, reason in counted.counts) <= {"queue_full", "retries_exhausted", "shutdown"}


def test_secrets_of_exporters_are_scrubbed() -> None:
    from babelgate.config.models import Config
    from babelgate.observability.logging import secrets_of

    config = Config(
        exporters=[
            {"type": "webhook", "url": "https://hooks.example/x", "secret": SECRET},
            {"type": "langfuse", "host": "https://cloud.langfuse.com", "public_key": "pk", "secret_key": LANGFUSE[1]},
            {"type": "otlp", "endpoint": "https://otel.example", "headers": {"x-api-key": "honeycomb-key-123"}},
        ]
    )
    assert {SECRET, LANGFUSE[1], "honeycomb-key-123"} <= set(secrets_of(config))
    assert SECRET not in repr(config)


def test_a_gateway_exports_what_its_log_keeps_and_nothing_of_callers_it_does_not_log(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    collector: tuple[FakeCollector, RunningApp],
) -> None:
    fake, app = collector
    config = f"""
guardrails:
  - {{name: pii, kind: pii, entities: [email], action: mask}}
server:
  guardrails: [pii]
logging:
  content: {{enabled: true, teams: [support]}}
exporters:
  - {{type: otlp, endpoint: "{app.url}"}}
  - {{type: webhook, url: "{app.url}/hook", secret: env:HOOK_SECRET}}
"""
    gateway = make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER, "HOOK_SECRET": SECRET})
    logged = _create(gateway, label="logged", team="support")
    quiet = _create(gateway, label="quiet")
    for key in (logged, quiet):
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key["key"], max_retries=0, timeout=30) as client:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"Mail ada@example.com as {key['id']}"}]
            )
    assert eventually(lambda: len(fake.spans) >= 1 and len(fake.hooks) >= 1, seconds=30)
    (span,) = fake.spans
    assert span["babelgate.key_id"] == logged["id"]
    said = json.loads(span["gen_ai.input.messages"])[0]["parts"][0]["content"]
    assert "ada@example.com" not in said and logged["id"] in said  # what the model saw: masked
    assert json.loads(span["gen_ai.output.messages"])[0]["role"] == "assistant"
    assert [hook["key_id"] for hook in fake.hooks] == [logged["id"]]
    assert quiet["id"] not in str(fake.spans) + str(fake.hooks)
