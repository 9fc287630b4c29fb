"""Each provider's `ProviderBatches` part (providers/batch.py) against its fake upstream's batch API on loopback.

The providers are built as the app builds them (`build_provider`) and called directly on the loop that hosts the
fakes. The fakes keep batches in memory, check every batch, file and line with the official SDKs' types and each
line's request body as their interactive endpoint checks one, and move a batch along as the real APIs do (running
when made, ended once fetched twice, unless the test holds it). The same scenarios run for every provider
(`ROADS`): a batch of two lines, one answered and one refused, read back as canonical answers with their usage and a
mapped error; a cancelled batch; an unknown batch; a batch the provider refuses whole; lines the gateway refuses
before any call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from babelgate.config.models import ProviderConfig, ServerConfig
from babelgate.errors import GatewayError, InvalidRequest, UnsupportedCapability, UpstreamRejected
from babelgate.http import UpstreamClient
from babelgate.providers import build_provider
from babelgate.providers.base import Provider, batches_of
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatches, ProviderBatchStatus
from babelgate.schema.chat import ChatRequest, Message, Tool
from tests.conftest import ANTHROPIC_KEY, BATCH_BUCKET, GEMINI_KEY, MISTRAL_KEY, UPSTREAM_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.bedrock_upstream import AwsKey, FakeBedrock
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.google_credentials import ACCOUNT, FakeGoogleOAuth, service_account_key
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread
from tests.fakes.vertex_batches import BUCKET
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex

AZURE_KEY = "azure-test-UPSTREAM-secret-0123456789abcdef"


@dataclass
class Road:
    """One provider's batch API as the scenarios drive it: the provider, its upstream model, and the fake's knobs."""

    provider: Provider
    model: str
    fail_line: Callable[[str], None]  # the line with this custom_id is refused by the upstream (a 400)
    hold: Callable[[bool], None]  # batches stay running while held
    missing_batch: str  # an id the upstream does not know
    refuse_whole: Callable[[], None]  # the upstream refuses the next batch as a whole
    violations: Callable[[], list[str]]  # what the fake would have refused in what the gateway sent

    @property
    def part(self) -> ProviderBatches:
        found = batches_of(self.provider)
        assert found is not None
        return found


@pytest.fixture
def upstream_client(loop_thread: LoopThread) -> Iterator[UpstreamClient]:
    client = UpstreamClient()
    yield client
    loop_thread.run(client.close())


@pytest.fixture(scope="module")
def azure_fake(loop_thread: LoopThread) -> Iterator[FakeAzure]:
    fake = FakeAzure(TokenRegistry())
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture(scope="module")
def vertex_cloud(loop_thread: LoopThread) -> Iterator[tuple[FakeGoogleOAuth, FakeVertex]]:
    registry = TokenRegistry()
    oauth, vertex = FakeGoogleOAuth(registry), FakeVertex(registry)
    for fake in (oauth, vertex):
        loop_thread.run(fake.start())
    yield oauth, vertex
    for fake in (oauth, vertex):
        loop_thread.run(fake.stop())


def vertex_config(cloud: tuple[FakeGoogleOAuth, FakeVertex], tmp_path: Path, **fields: Any) -> ProviderConfig:
    """A vertex provider of the fake's project whose service-account key the fake OAuth endpoint knows, with its
    batches in the fake's bucket (`fields` change any of it)."""
    oauth, vertex = cloud
    for fake in (oauth.registry, oauth, vertex):
        fake.reset()
    key_file = tmp_path / "service-account.json"
    oauth.accounts[ACCOUNT] = service_account_key(key_file, oauth.token_uri)
    settings: dict[str, Any] = {
        "type": "vertex",
        "project": PROJECT,
        "location": LOCATION,
        "base_url": vertex.base_url,
        "credentials_file": str(key_file),
        "batch_bucket": f"gs://{BUCKET}/gateway/batches",
        "options": {"storage_url": vertex.base_url},
        **fields,
    }
    return ProviderConfig(**settings)


def _openai_knobs(fake: FakeOpenAI) -> dict[str, Any]:
    api = fake.batch_api

    def fail_line(custom_id: str) -> None:
        error = {"error": {"message": "Invalid 'messages': too short.", "type": "invalid_request_error", "code": None}}
        api.failures[custom_id] = (400, error)

    def refuse_whole() -> None:
        api.refuse_next = True

    def hold(held: bool) -> None:
        api.hold = held

    return {"fail_line": fail_line, "hold": hold, "refuse_whole": refuse_whole, "missing_batch": "batch_nope"}


def _openai(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
    fake: FakeOpenAI = request.getfixturevalue("upstream")
    config = ProviderConfig(type="openai", api_keys=(UPSTREAM_KEY,), base_url=fake.base_url, profile="openai")
    provider = build_provider("openai", config, ServerConfig(), client)
    return Road(provider, "gpt-4o-mini", violations=lambda: fake.spec_violations, **_openai_knobs(fake))


def _azure(api_version: str | None) -> Callable[[pytest.FixtureRequest, UpstreamClient], Road]:
    def road(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
        fake: FakeAzure = request.getfixturevalue("azure_fake")
        fake.reset()
        fake.api_keys = frozenset({AZURE_KEY})
        config = ProviderConfig(type="azure", api_keys=(AZURE_KEY,), base_url=fake.base_url, api_version=api_version)
        provider = build_provider("azure", config, ServerConfig(), client)
        return Road(provider, "gpt-4o-mini-prod", violations=lambda: fake.violations, **_openai_knobs(fake))

    return road


def _anthropic(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
    fake: FakeAnthropic = request.getfixturevalue("anthropic_upstream")
    batches = fake.message_batches
    config = ProviderConfig(type="anthropic", api_keys=(ANTHROPIC_KEY,), base_url=fake.base_url)

    def fail_line(custom_id: str) -> None:
        batches.failures[custom_id] = ("invalid_request_error", "messages: at least one message is required")

    def hold(held: bool) -> None:
        batches.hold = held

    def refuse_whole() -> None:
        batches.refuse_next = True

    return Road(
        build_provider("anthropic", config, ServerConfig(), client),
        "claude-sonnet-4-5",
        fail_line=fail_line,
        hold=hold,
        missing_batch="msgbatch_nope",
        refuse_whole=refuse_whole,
        violations=lambda: fake.violations,
    )


def _gemini(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
    fake: FakeGemini = request.getfixturevalue("gemini_upstream")
    mode = fake.batch_mode
    config = ProviderConfig(type="gemini", api_keys=(GEMINI_KEY,), base_url=fake.base_url)

    def fail_line(custom_id: str) -> None:
        mode.failures[custom_id] = (400, "Request contains an invalid argument.")

    def hold(held: bool) -> None:
        mode.hold = held

    def refuse_whole() -> None:
        mode.refuse_next = True

    return Road(
        build_provider("gemini", config, ServerConfig(), client),
        "gemini-2.5-flash",
        fail_line=fail_line,
        hold=hold,
        missing_batch="batches/nope",
        refuse_whole=refuse_whole,
        violations=lambda: fake.violations,
    )


def _mistral(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
    fake: FakeMistral = request.getfixturevalue("mistral_upstream")
    jobs = fake.batch_jobs
    config = ProviderConfig(type="mistral", api_keys=(MISTRAL_KEY,), base_url=fake.base_url + "/v1")

    def fail_line(custom_id: str) -> None:
        jobs.failures[custom_id] = {
            "object": "error",
            "message": "Prompt contains 40 tokens, too large for model with 32 maximum context length",
            "type": "invalid_request_error",
            "param": None,
            "code": "3051",
        }

    def hold(held: bool) -> None:
        jobs.hold = held

    def refuse_whole() -> None:
        jobs.refuse_next = True

    return Road(
        build_provider("mistral", config, ServerConfig(), client),
        "mistral-small-latest",
        fail_line=fail_line,
        hold=hold,
        missing_batch="00000000-0000-4000-9000-000000000000",
        refuse_whole=refuse_whole,
        violations=lambda: fake.violations,
    )


def _vertex(model: str) -> Callable[[pytest.FixtureRequest, UpstreamClient], Road]:
    def road(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
        cloud: tuple[FakeGoogleOAuth, FakeVertex] = request.getfixturevalue("vertex_cloud")
        config = vertex_config(cloud, request.getfixturevalue("tmp_path"))
        fake = cloud[1]
        jobs = fake.batch_jobs

        def fail_line(custom_id: str) -> None:
            jobs.failures[custom_id] = (400, "INVALID_ARGUMENT", "Request contains an invalid argument.")

        def hold(held: bool) -> None:
            jobs.hold = held

        def refuse_whole() -> None:
            jobs.refuse_next = True

        return Road(
            build_provider("vertex", config, ServerConfig(), client),
            model,
            fail_line=fail_line,
            hold=hold,
            missing_batch=f"projects/{PROJECT}/locations/{LOCATION}/batchPredictionJobs/999999",
            refuse_whole=refuse_whole,
            violations=lambda: fake.violations,
        )

    return road


AWS_ACCESS_KEY = "AKIABATCHTEST0000001"
AWS_SECRET_KEY = "bedrock-batch-test-UPSTREAM-secret-0123"
BATCH_ROLE = "arn:aws:iam::123456789012:role/BedrockBatchInference"


def bedrock_config(fake: FakeBedrock, s3_url: str, **fields: Any) -> ProviderConfig:
    """A bedrock provider on the fake, signing with keys its IAM knows, its batch jobs in moto's bucket."""
    fake.iam[AWS_ACCESS_KEY] = AwsKey(AWS_SECRET_KEY)
    fake.batch_jobs.s3_url = s3_url
    options = {"batch_control_url": fake.base_url, "batch_s3_url": s3_url, **fields.pop("options", {})}
    settings: dict[str, Any] = {
        "type": "bedrock",
        "region": "us-east-1",
        "base_url": fake.base_url,
        "aws_access_key_id": AWS_ACCESS_KEY,
        "aws_secret_access_key": AWS_SECRET_KEY,
        "batch_bucket": f"s3://{BATCH_BUCKET}/gateway/jobs",
        "batch_role_arn": BATCH_ROLE,
        "options": options,
        **fields,
    }
    return ProviderConfig(**settings)


def _bedrock(model: str) -> Callable[[pytest.FixtureRequest, UpstreamClient], Road]:
    def road(request: pytest.FixtureRequest, client: UpstreamClient) -> Road:
        fake: FakeBedrock = request.getfixturevalue("bedrock_upstream")
        jobs = fake.batch_jobs
        config = bedrock_config(fake, request.getfixturevalue("moto_s3"))

        def fail_line(custom_id: str) -> None:
            jobs.failures[custom_id] = (400, "Malformed input request: #: required key [max_tokens] not found")

        def hold(held: bool) -> None:
            jobs.hold = held

        def refuse_whole() -> None:
            jobs.refuse_next = True

        return Road(
            build_provider("bedrock", config, ServerConfig(), client),
            model,
            fail_line=fail_line,
            hold=hold,
            missing_batch="arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/zzzzzzzzzzzz",
            refuse_whole=refuse_whole,
            violations=lambda: fake.violations,
        )

    return road


ROADS: dict[str, Callable[[pytest.FixtureRequest, UpstreamClient], Road]] = {
    "openai": _openai,
    "azure-v1": _azure(None),
    "azure-deployments": _azure("2024-10-21"),
    "anthropic": _anthropic,
    "gemini": _gemini,
    "mistral": _mistral,
    "vertex-gemini": _vertex("gemini-2.5-flash"),
    "vertex-claude": _vertex("claude-sonnet-4-5@20250929"),
    "bedrock-claude": _bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "bedrock-converse": _bedrock("amazon.nova-lite-v1:0"),
}


@pytest.fixture(params=list(ROADS))
def road(request: pytest.FixtureRequest, upstream_client: UpstreamClient) -> Iterator[Road]:
    built = ROADS[request.param](request, upstream_client)
    yield built
    assert built.violations() == [], "the gateway sent the batch API what it refuses"


def _line(custom_id: str, text: str) -> BatchLine:
    request = ChatRequest(model="public-name", messages=[Message(role="user", content=text)], max_tokens=50)
    return BatchLine(custom_id, request)


def _statuses_until_done(loop_thread: LoopThread, part: ProviderBatches, batch_id: str) -> list[ProviderBatchStatus]:
    """The batch's status, asked until it is no longer running (the fakes move on each time they are asked)."""
    seen = [loop_thread.run(part.batch_status(batch_id))]
    while seen[-1].state == "running" and len(seen) < 10:
        seen.append(loop_thread.run(part.batch_status(batch_id)))
    return seen


def _results(loop_thread: LoopThread, part: ProviderBatches, batch_id: str) -> dict[str, BatchOutcome]:
    async def read() -> list[BatchOutcome]:
        return [outcome async for outcome in part.batch_results(batch_id)]

    return {outcome.custom_id: outcome for outcome in loop_thread.run(read())}


def test_a_batch_runs_to_its_end_and_each_line_comes_back_translated(loop_thread: LoopThread, road: Road) -> None:
    road.fail_line("b")
    part = road.part
    batch_id = loop_thread.run(part.submit_batch(road.model, [_line("a", "Say hi"), _line("b", "Say bye")]))
    statuses = _statuses_until_done(loop_thread, part, batch_id)
    assert statuses[0].state == "running"
    assert statuses[-1].state == "ended"
    assert (statuses[-1].total, statuses[-1].succeeded, statuses[-1].failed) == (2, 1, 1)
    outcomes = _results(loop_thread, part, batch_id)
    assert sorted(outcomes) == ["a", "b"]
    answered = outcomes["a"].response
    assert answered is not None and outcomes["a"].error is None
    assert answered.choices[0].message.content == "Answer to a"
    assert answered.choices[0].finish_reason == "stop"
    assert answered.usage is not None and answered.usage.prompt_tokens > 0 and answered.usage.completion_tokens > 0
    refused = outcomes["b"].error
    assert outcomes["b"].response is None and isinstance(refused, UpstreamRejected)
    assert refused.status == 400 and refused.raw_message


def test_a_cancelled_batch_ends_cancelled_with_no_line_run(loop_thread: LoopThread, road: Road) -> None:
    road.hold(True)
    part = road.part
    batch_id = loop_thread.run(part.submit_batch(road.model, [_line("a", "Say hi")]))
    assert loop_thread.run(part.batch_status(batch_id)).state == "running"
    loop_thread.run(part.cancel_batch(batch_id))
    assert _statuses_until_done(loop_thread, part, batch_id)[-1].state == "cancelled"
    assert _results(loop_thread, part, batch_id) == {}


def test_a_batch_the_upstream_does_not_know_is_its_404(loop_thread: LoopThread, road: Road) -> None:
    for call in (road.part.batch_status, road.part.cancel_batch):
        with pytest.raises(UpstreamRejected) as caught:
            loop_thread.run(call(road.missing_batch))
        assert caught.value.status == 404


def test_a_batch_the_upstream_refuses_whole_says_why(loop_thread: LoopThread, road: Road) -> None:
    """Refused when made (a 400 from submit_batch) or when validated (the batch `failed`, with the reason)."""
    road.refuse_whole()
    try:
        batch_id = loop_thread.run(road.part.submit_batch(road.model, [_line("a", "Say hi")]))
    except UpstreamRejected as refused:
        assert refused.status == 400 and refused.raw_message
        return
    status = _statuses_until_done(loop_thread, road.part, batch_id)[-1]
    assert status.state == "failed" and status.message
    assert _results(loop_thread, road.part, batch_id) == {}


@pytest.mark.parametrize("lines", [[], [_line("a", "hi"), _line("a", "again")]], ids=["no line", "an id twice"])
def test_lines_a_batch_cannot_take_are_refused_before_any_call(
    loop_thread: LoopThread, road: Road, lines: list[BatchLine]
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        loop_thread.run(road.part.submit_batch(road.model, lines))
    assert isinstance(caught.value, GatewayError) and caught.value.param in ("requests", "custom_id")


def test_only_the_real_openai_and_azure_declare_a_batch_api(upstream_client: UpstreamClient) -> None:
    """OpenAI-compatible servers (a preset's profile, an unknown host) have no batch API: no part, no capability."""

    def built(**fields: Any) -> Provider:
        config = ProviderConfig(type="openai", api_keys=("k",), **fields)
        return build_provider("openai", config, ServerConfig(), upstream_client)

    assert batches_of(built()) is not None  # api.openai.com
    assert batches_of(built(base_url="http://127.0.0.1:9/v1", profile="openai")) is not None
    assert batches_of(built(base_url="http://127.0.0.1:9/v1")) is None
    assert batches_of(built(base_url="http://127.0.0.1:9/v1", profile="vllm")) is None
    assert batches_of(built(base_url="https://api.groq.com/openai/v1", profile="groq")) is None


def test_anthropic_takes_any_custom_id_and_gives_each_back_as_it_was(
    loop_thread: LoopThread, upstream_client: UpstreamClient, anthropic_upstream: FakeAnthropic
) -> None:
    """Anthropic's ids are 1 to 64 of [A-Za-z0-9_-]: others are sent encoded and read back as the caller's."""
    config = ProviderConfig(type="anthropic", api_keys=(ANTHROPIC_KEY,), base_url=anthropic_upstream.base_url)
    part = batches_of(build_provider("anthropic", config, ServerConfig(), upstream_client))
    assert part is not None
    ids = ["request 1/é", "b64-looks-encoded", "plain_id-2"]
    batch_id = loop_thread.run(part.submit_batch("claude-sonnet-4-5", [_line(custom_id, "hi") for custom_id in ids]))
    sent = [item["custom_id"] for item in anthropic_upstream.received[0].json["requests"]]
    assert sent[2] == "plain_id-2" and sent[0] != ids[0] and sent[1] != ids[1]
    assert _statuses_until_done(loop_thread, part, batch_id)[-1].state == "ended"
    outcomes = _results(loop_thread, part, batch_id)
    assert sorted(outcomes) == sorted(ids)
    assert all(outcome.response is not None for outcome in outcomes.values())
    with pytest.raises(InvalidRequest):
        loop_thread.run(part.submit_batch("claude-sonnet-4-5", [_line("é" * 40, "hi")]))


def test_a_large_batch_comes_back_whole_however_its_results_arrive(loop_thread: LoopThread, road: Road) -> None:
    """Results files are read line by line as they arrive: lines cut between two reads still come back whole."""
    lines = [_line(f"line-{number}", f"Question number {number} " + "x" * 200) for number in range(150)]
    part = road.part
    batch_id = loop_thread.run(part.submit_batch(road.model, lines))
    assert _statuses_until_done(loop_thread, part, batch_id)[-1].state == "ended"
    outcomes = _results(loop_thread, part, batch_id)
    assert sorted(outcomes) == sorted(line.custom_id for line in lines)
    for custom_id, outcome in outcomes.items():
        assert outcome.response is not None
        assert outcome.response.choices[0].message.content == f"Answer to {custom_id}"


def test_openai_lines_carry_the_profiles_edits_and_never_stream(
    loop_thread: LoopThread, upstream_client: UpstreamClient, upstream: FakeOpenAI
) -> None:
    """A line is the body `chat` would send: a reasoning model's `max_tokens` renamed as on the interactive road."""
    config = ProviderConfig(type="openai", api_keys=(UPSTREAM_KEY,), base_url=upstream.base_url, profile="openai")
    part = batches_of(build_provider("openai", config, ServerConfig(), upstream_client))
    assert part is not None
    streamed = ChatRequest(
        model="public-name",
        messages=[Message(role="user", content="hi")],
        max_tokens=64,
        stream=True,
        include_usage=True,
    )
    loop_thread.run(part.submit_batch("o3-mini", [BatchLine("a", streamed)]))
    [data] = upstream.batch_api.files.values()
    line = orjson.loads(data)
    assert line["body"]["model"] == "o3-mini" and line["body"]["max_completion_tokens"] == 64
    assert "max_tokens" not in line["body"] and "stream" not in line["body"] and "stream_options" not in line["body"]


def test_an_upstream_error_that_quotes_the_key_reaches_no_outcome(
    loop_thread: LoopThread, upstream_client: UpstreamClient, upstream: FakeOpenAI
) -> None:
    config = ProviderConfig(type="openai", api_keys=(UPSTREAM_KEY,), base_url=upstream.base_url, profile="openai")
    part = batches_of(build_provider("openai", config, ServerConfig(), upstream_client))
    assert part is not None
    error = {"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}", "type": "invalid_request_error"}}
    upstream.batch_api.failures["a"] = (400, error)
    batch_id = loop_thread.run(part.submit_batch("gpt-4o-mini", [_line("a", "hi")]))
    _statuses_until_done(loop_thread, part, batch_id)
    refused = _results(loop_thread, part, batch_id)["a"].error
    assert refused is not None and refused.raw_message
    assert UPSTREAM_KEY not in str(refused.raw_message) and UPSTREAM_KEY not in str(refused)


def test_azure_refuses_a_batch_for_claude_in_foundry_before_any_call(
    loop_thread: LoopThread, upstream_client: UpstreamClient, azure_fake: FakeAzure
) -> None:
    azure_fake.reset()
    config = ProviderConfig(type="azure", api_keys=(AZURE_KEY,), base_url=azure_fake.base_url)
    part = batches_of(build_provider("azure", config, ServerConfig(), upstream_client))
    assert part is not None
    with pytest.raises(UnsupportedCapability):
        loop_thread.run(part.submit_batch("claude-sonnet-4-5", [_line("a", "hi")]))
    assert azure_fake.received == []


def test_gemini_refuses_what_its_batch_mode_cannot_take_before_any_call(
    loop_thread: LoopThread, upstream_client: UpstreamClient, gemini_upstream: FakeGemini
) -> None:
    config = ProviderConfig(type="gemini", api_keys=(GEMINI_KEY,), base_url=gemini_upstream.base_url)
    part = batches_of(build_provider("gemini", config, ServerConfig(), upstream_client))
    assert part is not None
    huge = [_line(f"l{number}", "x" * (3 * 1024 * 1024)) for number in range(7)]  # past 20 MB inlined
    with pytest.raises(InvalidRequest):
        loop_thread.run(part.submit_batch("gemini-2.5-flash", huge))
    for batch_id in ("nope", "batches/../models", "batches/a?b"):
        with pytest.raises(InvalidRequest):
            loop_thread.run(part.batch_status(batch_id))
    assert gemini_upstream.received == []


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "mistral"])
def test_options_batches_false_leaves_the_part_out(kind: str, upstream_client: UpstreamClient) -> None:
    config = ProviderConfig(type=kind, api_keys=("k",), options={"batches": False})
    assert batches_of(build_provider(kind, config, ServerConfig(), upstream_client)) is None
    wrong = ProviderConfig(type=kind, api_keys=("k",), options={"batches": "yes"})
    with pytest.raises(ValueError, match=r"options\.batches"):
        build_provider(kind, wrong, ServerConfig(), upstream_client)


def test_vertex_batches_gemini_models_in_its_bucket_and_reads_only_its_own_jobs(
    loop_thread: LoopThread,
    upstream_client: UpstreamClient,
    vertex_cloud: tuple[FakeGoogleOAuth, FakeVertex],
    tmp_path: Path,
) -> None:
    """The input is one file under `batch_bucket`'s prefix, its job a Google model's; partner models are left to the
    gateway (the part declines them), and a job name of another project or location never reaches a URL."""
    vertex = vertex_cloud[1]
    part = batches_of(build_provider("vertex", vertex_config(vertex_cloud, tmp_path), ServerConfig(), upstream_client))
    assert part is not None
    assert part.batches_model("gemini-2.5-flash")
    assert part.batches_model("claude-sonnet-4-5@20250929")
    assert not part.batches_model("meta/llama-3.3-70b-instruct-maas")
    batch_id = loop_thread.run(part.submit_batch("gemini-2.5-flash", [_line("a", "hi")]))
    assert batch_id.startswith(f"projects/{PROJECT}/locations/{LOCATION}/batchPredictionJobs/")
    [uploaded] = vertex.storage.objects
    assert uploaded.startswith("gateway/batches/babelgate-") and uploaded.endswith("/input.jsonl")
    line = orjson.loads(vertex.storage.objects[uploaded])
    assert line["key"] == "a" and line["request"]["contents"][0]["parts"] == [{"text": "hi"}]
    [made] = [r for r in vertex.received if r.path.endswith("/batchPredictionJobs")]
    assert made.json["model"] == "publishers/google/models/gemini-2.5-flash"
    assert made.json["inputConfig"]["gcsSource"]["uris"] == [f"gs://{BUCKET}/{uploaded}"]
    assert _statuses_until_done(loop_thread, part, batch_id)[-1].state == "ended"

    async def read() -> list[BatchOutcome]:
        return [outcome async for outcome in part.batch_results(batch_id)]

    # Once each: the progress a job exports in a subfolder of its output is not read as its results.
    assert [outcome.custom_id for outcome in loop_thread.run(read())] == ["a"]
    with pytest.raises(UnsupportedCapability):
        loop_thread.run(part.submit_batch("meta/llama-3.3-70b-instruct-maas", [_line("a", "hi")]))
    before = len(vertex.received)
    for foreign in (
        "projects/other/locations/us-east5/batchPredictionJobs/1",
        f"projects/{PROJECT}/locations/europe-west4/batchPredictionJobs/1",
        f"projects/{PROJECT}/locations/{LOCATION}/batchPredictionJobs/1/../../x",
        "batches/1",
    ):
        with pytest.raises(InvalidRequest):
            loop_thread.run(part.batch_status(foreign))
    assert len(vertex.received) == before
    assert vertex.violations == []


def test_vertex_writes_claude_lines_as_rawpredict_bodies(
    loop_thread: LoopThread,
    upstream_client: UpstreamClient,
    vertex_cloud: tuple[FakeGoogleOAuth, FakeVertex],
    tmp_path: Path,
) -> None:
    vertex = vertex_cloud[1]
    part = batches_of(build_provider("vertex", vertex_config(vertex_cloud, tmp_path), ServerConfig(), upstream_client))
    assert part is not None
    loop_thread.run(part.submit_batch("claude-sonnet-4-5@20250929", [_line("a", "hi")]))
    [data] = vertex.storage.objects.values()
    line = orjson.loads(data)
    assert line["custom_id"] == "a" and line["request"]["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in line["request"] and "stream" not in line["request"]
    [made] = [r for r in vertex.received if r.path.endswith("/batchPredictionJobs")]
    assert made.json["model"] == "publishers/anthropic/models/claude-sonnet-4-5@20250929"


def test_vertex_has_a_batch_part_only_with_batch_bucket(
    upstream_client: UpstreamClient, vertex_cloud: tuple[FakeGoogleOAuth, FakeVertex], tmp_path: Path
) -> None:
    def part(**fields: Any) -> ProviderBatches | None:
        config = vertex_config(vertex_cloud, tmp_path, **fields)
        return batches_of(build_provider("vertex", config, ServerConfig(), upstream_client))

    assert part() is not None
    assert part(batch_bucket=None, options={}) is None
    assert part(options={"batches": False}) is None
    with pytest.raises(ValueError, match="batch_bucket"):
        part(batch_bucket=None, options={"batches": True})
    with pytest.raises(ValueError, match="batch_bucket"):
        part(batch_bucket="s3://not-google/x")
    with pytest.raises(ValueError, match="project"):  # express mode: an API key, no project
        part(project=None, api_keys=("AQ.express-key",))


def test_bedrock_has_a_batch_part_only_with_batch_bucket(
    upstream_client: UpstreamClient, bedrock_upstream: FakeBedrock, moto_s3: str
) -> None:
    """Without `batch_bucket` the engine runs a bedrock provider's lines itself; `options.batches: false` turns the
    part off; what the part cannot work with is refused when the provider is built."""

    def built(**fields: Any) -> Provider:
        return build_provider(
            "bedrock", bedrock_config(bedrock_upstream, moto_s3, **fields), ServerConfig(), upstream_client
        )

    assert batches_of(built()) is not None
    assert batches_of(built(batch_bucket=None, batch_role_arn=None)) is None
    assert batches_of(built(options={"batches": False})) is None
    refused = {
        "options.batches": {"batch_bucket": None, "options": {"batches": True}},
        "batch_role_arn": {"batch_role_arn": None},
        "batch_bucket": {"batch_bucket": "https://bucket.s3.amazonaws.com/jobs"},
        "an API key": {"aws_access_key_id": None, "aws_secret_access_key": None, "api_keys": ("bedrock-api-key",)},
        "options.batch_s3_url": {"options": {"batch_s3_url": "bucket.example"}},
    }
    for words, fields in refused.items():
        with pytest.raises(ValueError, match=re.escape(words)):
            built(**fields)


def test_bedrock_records_carry_the_chat_bodies_under_alphanumeric_ids_and_the_job_reads_back(
    loop_thread: LoopThread, upstream_client: UpstreamClient, bedrock_upstream: FakeBedrock, moto_s3: str
) -> None:
    """The input is `{recordId, modelInput}` lines in the bucket under the prefix, each body the one InvokeModel's
    Claude road sends; ids outside Bedrock's alphabet go encoded and come back as they were; a job that gives no
    counts is counted by its manifest."""
    import boto3

    config = bedrock_config(bedrock_upstream, moto_s3)
    part = batches_of(build_provider("bedrock", config, ServerConfig(), upstream_client))
    assert part is not None
    bedrock_upstream.batch_jobs.counts_in_job = False
    ids = ["plain7", "request 1/é", "bgx41"]
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    job_arn = loop_thread.run(part.submit_batch(model, [_line(custom_id, "hi") for custom_id in ids]))
    [created] = bedrock_upstream.batch_jobs.created
    assert created["modelId"] == model and created["roleArn"] == BATCH_ROLE
    assert created["modelInvocationType"] == "InvokeModel"
    input_uri = created["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
    assert input_uri.startswith(f"s3://{BATCH_BUCKET}/gateway/jobs/") and input_uri.endswith("/input.jsonl")
    s3 = boto3.client(
        "s3", endpoint_url=moto_s3, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    key = input_uri.removeprefix(f"s3://{BATCH_BUCKET}/")
    records = [orjson.loads(line) for line in s3.get_object(Bucket=BATCH_BUCKET, Key=key)["Body"].read().splitlines()]
    assert records[0]["recordId"] == "plain7"
    assert all(record["recordId"].isalnum() for record in records)
    assert all(record["modelInput"]["anthropic_version"] == "bedrock-2023-05-31" for record in records)
    status = _statuses_until_done(loop_thread, part, job_arn)[-1]
    assert (status.state, status.total, status.succeeded, status.failed) == ("ended", 3, 3, 0)
    outcomes = _results(loop_thread, part, job_arn)
    assert sorted(outcomes) == sorted(ids)
    assert all(outcome.response is not None for outcome in outcomes.values())
    with pytest.raises(InvalidRequest):
        loop_thread.run(part.batch_status("../model/x"))


def test_bedrock_converse_jobs_take_no_tools_and_say_so_per_line(
    loop_thread: LoopThread, upstream_client: UpstreamClient, bedrock_upstream: FakeBedrock, moto_s3: str
) -> None:
    """A Converse job's record with tools is Bedrock's 400 in that line's outcome; Claude's InvokeModel records carry
    tools as its body does, and are answered."""
    part = batches_of(
        build_provider("bedrock", bedrock_config(bedrock_upstream, moto_s3), ServerConfig(), upstream_client)
    )
    assert part is not None
    tool = Tool("lookup", parameters={"type": "object", "properties": {"q": {"type": "string"}}})
    with_tools = ChatRequest(
        model="public-name", messages=[Message(role="user", content="hi")], max_tokens=20, tools=[tool]
    )
    for model, answered in (("amazon.nova-lite-v1:0", False), ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", True)):
        job_arn = loop_thread.run(part.submit_batch(model, [BatchLine("t", with_tools), _line("plain", "hi")]))
        _statuses_until_done(loop_thread, part, job_arn)
        outcomes = _results(loop_thread, part, job_arn)
        assert outcomes["plain"].response is not None
        if answered:
            assert outcomes["t"].response is not None
        else:
            refused = outcomes["t"].error
            assert isinstance(refused, UpstreamRejected) and refused.status == 400


@pytest.mark.parametrize("kind", ["openai", "mistral"])
def test_a_batch_the_upstream_will_not_make_leaves_no_input_file_behind(
    kind: str, request: pytest.FixtureRequest, loop_thread: LoopThread, upstream_client: UpstreamClient
) -> None:
    """The input file goes up first; when the batch's creation then fails (an outage, a rate limit), the file is
    deleted before the refusal reaches the engine, which sends the lines again later as a new file."""
    api: Any
    if kind == "openai":
        fake_openai: FakeOpenAI = request.getfixturevalue("upstream")
        api = fake_openai.batch_api
        base_url = fake_openai.base_url
        config = ProviderConfig(type="openai", api_keys=(UPSTREAM_KEY,), base_url=base_url, profile="openai")
        model = "gpt-4o-mini"
    else:
        fake_mistral: FakeMistral = request.getfixturevalue("mistral_upstream")
        api = fake_mistral.batch_jobs
        config = ProviderConfig(type="mistral", api_keys=(MISTRAL_KEY,), base_url=fake_mistral.base_url + "/v1")
        model = "mistral-small-latest"
    part = batches_of(build_provider(kind, config, ServerConfig(), upstream_client))
    assert part is not None
    api.reset()
    api.refuse_create = 503
    with pytest.raises(GatewayError) as refused:
        loop_thread.run(part.submit_batch(model, [_line("a", "Say hi")]))
    assert refused.value.status >= 500
    assert api.files == {}  # uploaded, then deleted
    batch_id = loop_thread.run(part.submit_batch(model, [_line("a", "Say hi")]))
    assert batch_id and len(api.files) == 1  # the next attempt's file stays with its batch
