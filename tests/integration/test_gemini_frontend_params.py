"""Every `generationConfig` field of the Gemini API, on every provider family, against the fakes that check
what they receive (tests/fakes): each is sent in the upstream's own spelling, dropped and listed in
`x-babelgate-adjusted-params`, or refused with a 400 naming it — the gateway's rule (docs/gemini-api.md,
"generationConfig on each provider"). One gateway serves a model of each family."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.aws_credentials import AwsKey
from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.google_credentials import ACCOUNT, FakeGoogleOAuth, service_account_key
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex

AZURE_KEY = "azure-test-UPSTREAM-secret-0123456789abcdef"
ACCESS_KEY = "AKIAFAKEBEDROCK0001"
SECRET_KEY = "fake/Secret+Key/For+Bedrock/0123456789ab"
# The gateway's model of each family → the upstream model it names.
FAMILIES = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "azure": "az-mini",
    "bedrock": "nova",
    "vertex-gemini": "vx-gemini",
    "vertex-claude": "vx-claude",
    "vertex-open": "vx-llama",
}


class Clouds:
    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.azure = FakeAzure(registry)
        self.oauth = FakeGoogleOAuth(registry)
        self.vertex = FakeVertex(registry)

    def all(self) -> tuple[Any, ...]:
        return (self.azure, self.oauth, self.vertex)


@pytest.fixture(scope="module")
def _clouds(loop_thread: LoopThread) -> Iterator[Clouds]:
    clouds = Clouds(TokenRegistry())
    for fake in clouds.all():
        loop_thread.run(fake.start())
    yield clouds
    for fake in clouds.all():
        loop_thread.run(fake.stop())


@pytest.fixture
def clouds(_clouds: Clouds) -> Iterator[Clouds]:
    _clouds.registry.reset()
    for fake in _clouds.all():
        fake.reset()
    _clouds.azure.api_keys = frozenset({AZURE_KEY})
    yield _clouds
    assert _clouds.azure.violations == [], "the gateway sent requests Azure refuses"
    assert _clouds.vertex.violations == [], "the gateway sent requests Vertex AI refuses"


class Upstreams:
    """What each family's fake received last."""

    def __init__(self, **fakes: Any) -> None:
        self.fakes = fakes

    def last(self, family: str) -> dict[str, Any]:
        fake = self.fakes[family.split("-")[0]]
        received = [r for r in fake.received if r.json is not None]
        assert received, f"{family}: nothing reached the upstream"
        body: dict[str, Any] = received[-1].json
        return body

    def reached(self, family: str) -> bool:
        return any(r.json is not None for r in self.fakes[family.split("-")[0]].received)

    def forgive(self, family: str) -> None:
        """The refusal a test asked the upstream for, out of what the fixture checks."""
        self.fakes[family.split("-")[0]].violations.clear()

    def clear(self) -> None:
        for fake in self.fakes.values():
            fake.received.clear()


@pytest.fixture
def every_family(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    anthropic_upstream: FakeAnthropic,
    gemini_upstream: FakeGemini,
    mistral_upstream: FakeMistral,
    bedrock_upstream: FakeBedrock,
    clouds: Clouds,
    no_aws_environment: None,
    tmp_path: Path,
) -> tuple[RunningApp, Upstreams]:
    bedrock_upstream.iam[ACCESS_KEY] = AwsKey(SECRET_KEY)
    key_file = tmp_path / "service-account.json"
    clouds.oauth.accounts[ACCOUNT] = service_account_key(key_file, clouds.oauth.token_uri)
    config = f"""
providers:
  az: {{type: azure, base_url: "{clouds.azure.base_url}", api_key: env:AZURE_KEY}}
  aws:
    type: bedrock
    region: us-east-1
    base_url: "{bedrock_upstream.base_url}"
    aws_access_key_id: env:BEDROCK_KEY_ID
    aws_secret_access_key: env:BEDROCK_SECRET
  gcp:
    type: vertex
    project: {PROJECT}
    location: {LOCATION}
    base_url: "{clouds.vertex.base_url}"
    credentials_file: "{key_file}"
models:
  az-mini: {{provider: az, model: gpt-4o-mini-prod}}
  nova: {{provider: aws, model: us.amazon.nova-pro-v1:0}}
  vx-gemini: {{provider: gcp, model: gemini-2.5-flash}}
  vx-claude: {{provider: gcp, model: "claude-sonnet-4-5@20250929"}}
  vx-llama: {{provider: gcp, model: meta/llama-3.3-70b-instruct-maas}}
"""
    env = {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini_upstream.base_url,
        "MISTRAL_API_KEY": MISTRAL_KEY,
        "MISTRAL_BASE_URL": mistral_upstream.base_url,
        "AZURE_KEY": AZURE_KEY,
        "BEDROCK_KEY_ID": ACCESS_KEY,
        "BEDROCK_SECRET": SECRET_KEY,
    }
    fakes = Upstreams(
        openai=upstream,
        anthropic=anthropic_upstream,
        gemini=gemini_upstream,
        mistral=mistral_upstream,
        azure=clouds.azure,
        bedrock=bedrock_upstream,
        vertex=clouds.vertex,
    )
    return make_gateway(config, env=env), fakes


@dataclass(frozen=True)
class Sent:
    """Reached the upstream: `fragment` is part of its body (nested objects compared key by key)."""

    fragment: dict[str, Any]


@dataclass(frozen=True)
class Dropped:
    """Left out of the upstream body (`absent` not in it) and listed in x-babelgate-adjusted-params as `entry`
    ("": nothing to list, the field asks for what the model does anyway)."""

    entry: str
    absent: str


@dataclass(frozen=True)
class Refused:
    """A 400 in Google's shape naming the field; nothing reaches the upstream."""

    param: str


@dataclass(frozen=True)
class Judged:
    """The native road: relayed as sent, and the upstream (Gemini itself) refuses it for this model."""

    message: str


OPENAI_WIRE = ("openai", "azure", "vertex-open", "mistral")
ANTHROPIC_WIRE = ("anthropic", "vertex-claude")
NATIVE = ("gemini", "vertex-gemini")


def _each(families: tuple[str, ...], outcome: Any) -> dict[str, Any]:
    return dict.fromkeys(families, outcome)


def _native(fragment: dict[str, Any]) -> dict[str, Any]:
    return _each(NATIVE, Sent({"generationConfig": fragment}))


SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}
JSON_SCHEMA_FORMAT = {"response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": SCHEMA}}}
ENUM_SCHEMA = {"type": "object", "properties": {"value": {"type": "string", "enum": ["a", "b"]}}, "required": ["value"]}
JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else."
# generationConfig → (what the client sends, what happens on each family).
TABLE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "temperature": (
        {"temperature": 0.5},
        {
            **_each(OPENAI_WIRE, Sent({"temperature": 0.5})),
            **_each(ANTHROPIC_WIRE, Sent({"temperature": 0.5})),
            "bedrock": Sent({"inferenceConfig": {"temperature": 0.5}}),
            **_native({"temperature": 0.5}),
        },
    ),
    "topP": (
        {"topP": 0.9},
        {
            **_each(OPENAI_WIRE, Sent({"top_p": 0.9})),
            **_each(ANTHROPIC_WIRE, Sent({"top_p": 0.9})),
            "bedrock": Sent({"inferenceConfig": {"topP": 0.9}}),
            **_native({"topP": 0.9}),
        },
    ),
    "topK": (
        {"topK": 40},
        {
            # OpenAI's and Azure's APIs have no top_k and refuse it; Mistral and vLLM (Vertex's open models) take it.
            **_each(("openai", "azure"), Dropped("top_k=dropped", "top_k")),
            **_each(("mistral", "vertex-open"), Sent({"top_k": 40})),
            **_each(ANTHROPIC_WIRE, Sent({"top_k": 40})),
            "bedrock": Dropped("top_k=dropped", "top_k"),
            **_native({"topK": 40}),
        },
    ),
    "maxOutputTokens": (
        {"maxOutputTokens": 100},
        {
            **_each(OPENAI_WIRE, Sent({"max_tokens": 100})),
            **_each(ANTHROPIC_WIRE, Sent({"max_tokens": 100})),
            "bedrock": Sent({"inferenceConfig": {"maxTokens": 100}}),
            **_native({"maxOutputTokens": 100}),
        },
    ),
    "stopSequences": (
        {"stopSequences": ["END"]},
        {
            **_each(OPENAI_WIRE, Sent({"stop": ["END"]})),
            **_each(ANTHROPIC_WIRE, Sent({"stop_sequences": ["END"]})),
            "bedrock": Sent({"inferenceConfig": {"stopSequences": ["END"]}}),
            **_native({"stopSequences": ["END"]}),
        },
    ),
    "candidateCount": (
        {"candidateCount": 2},
        {
            # Fewer candidates than asked would change what comes back.
            **_each(OPENAI_WIRE, Sent({"n": 2})),
            **_each(ANTHROPIC_WIRE, Refused("n > 1")),
            "bedrock": Refused("n > 1"),
            **_native({"candidateCount": 2}),
        },
    ),
    "presencePenalty": (
        {"presencePenalty": 0.5},
        {
            **_each(OPENAI_WIRE, Sent({"presence_penalty": 0.5})),
            **_each(ANTHROPIC_WIRE, Dropped("presence_penalty=dropped", "presence_penalty")),
            "bedrock": Dropped("presence_penalty=dropped", "presence_penalty"),
            **_each(NATIVE, Judged("Penalty is not enabled")),  # Gemini 2.5 Flash's own answer
        },
    ),
    "frequencyPenalty": (
        {"frequencyPenalty": 0.5},
        {
            **_each(OPENAI_WIRE, Sent({"frequency_penalty": 0.5})),
            **_each(ANTHROPIC_WIRE, Dropped("frequency_penalty=dropped", "frequency_penalty")),
            "bedrock": Dropped("frequency_penalty=dropped", "frequency_penalty"),
            **_each(NATIVE, Judged("Penalty is not enabled")),
        },
    ),
    "seed": (
        {"seed": 7},
        {
            **_each(("openai", "azure", "vertex-open"), Sent({"seed": 7})),
            "mistral": Sent({"random_seed": 7}),
            **_each(ANTHROPIC_WIRE, Dropped("seed=dropped", "seed")),
            "bedrock": Dropped("seed=dropped", "seed"),
            **_native({"seed": 7}),
        },
    ),
    "responseLogprobs": (
        {"responseLogprobs": True, "logprobs": 3},
        {
            # Log probabilities are part of the answer: a provider without them refuses.
            **_each(OPENAI_WIRE, Sent({"logprobs": True, "top_logprobs": 3})),
            **_each(ANTHROPIC_WIRE, Refused("logprobs")),
            "bedrock": Refused("logprobs"),
            **_native({"responseLogprobs": True, "logprobs": 3}),
        },
    ),
    "responseJsonSchema": (
        {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA},
        {
            **_each(OPENAI_WIRE, Sent(JSON_SCHEMA_FORMAT)),
            **_each(ANTHROPIC_WIRE, Sent({"output_config": {"format": {"type": "json_schema"}}})),
            "bedrock": Sent({"outputConfig": {"textFormat": {"type": "json_schema"}}}),
            **_native({"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}),
        },
    ),
    "responseSchema": (
        {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
        },
        {
            **_each(OPENAI_WIRE, Sent(JSON_SCHEMA_FORMAT)),
            **_each(ANTHROPIC_WIRE, Sent({"output_config": {"format": {"type": "json_schema"}}})),
            "bedrock": Sent({"outputConfig": {"textFormat": {"type": "json_schema"}}}),
            **_native({"responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}}),
        },
    ),
    "responseMimeType": (
        {"responseMimeType": "application/json"},
        {
            **_each(OPENAI_WIRE, Sent({"response_format": {"type": "json_object"}})),
            **_each(ANTHROPIC_WIRE, Sent({"system": [{"type": "text", "text": JSON_INSTRUCTION}]})),
            "bedrock": Sent({"system": [{"text": JSON_INSTRUCTION}]}),
            **_native({"responseMimeType": "application/json"}),
        },
    ),
    "responseMimeType text/x.enum": (
        {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": ["a", "b"]}},
        {
            **_each(
                (*OPENAI_WIRE, *ANTHROPIC_WIRE, "bedrock"),
                Dropped("generationConfig.responseMimeType=approximated:application/json", ""),
            ),
            **_native({"responseMimeType": "text/x.enum"}),
        },
    ),
    "thinkingConfig.thinkingBudget": (
        {"thinkingConfig": {"thinkingBudget": 1024}},
        {
            # gpt-4o-mini and Nova do not reason: the effort is dropped (a reasoning model gets it).
            "openai": Dropped("reasoning_effort=dropped", "reasoning_effort"),
            **_each(("azure", "mistral", "vertex-open"), Sent({"reasoning_effort": "low"})),
            "anthropic": Sent({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
            "vertex-claude": Sent({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            "bedrock": Dropped("reasoning_effort=dropped", "additionalModelRequestFields"),
            **_native({"thinkingConfig": {"thinkingBudget": 1024}}),
        },
    ),
    "thinkingConfig.thinkingLevel": (
        {"thinkingConfig": {"thinkingLevel": "LOW"}},
        {
            "openai": Dropped("reasoning_effort=dropped", "reasoning_effort"),
            **_each(("azure", "mistral", "vertex-open"), Sent({"reasoning_effort": "low"})),
            "anthropic": Sent({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
            "vertex-claude": Sent({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            "bedrock": Dropped("reasoning_effort=dropped", "additionalModelRequestFields"),
            **_each(NATIVE, Judged("Thinking level is not supported")),  # Gemini 2.5 takes a budget
        },
    ),
    "responseModalities TEXT": (
        {"responseModalities": ["TEXT"]},
        {
            # What every other model answers in anyway: nothing to send.
            **_each(OPENAI_WIRE, Dropped("", "modalities")),
            **_each(ANTHROPIC_WIRE, Dropped("", "modalities")),
            "bedrock": Dropped("", "modalities"),
            **_native({"responseModalities": ["TEXT"]}),
        },
    ),
    "responseModalities IMAGE": (
        {"responseModalities": ["IMAGE"]},
        {
            **_each((*OPENAI_WIRE, *ANTHROPIC_WIRE, "bedrock"), Refused("generationConfig.responseModalities")),
            "gemini": Judged("does not support the requested response modalities"),
            "vertex-gemini": Sent({"generationConfig": {"responseModalities": ["IMAGE"]}}),
        },
    ),
    "mediaResolution": (
        {"mediaResolution": "MEDIA_RESOLUTION_LOW"},
        {
            **_each(
                (*OPENAI_WIRE, *ANTHROPIC_WIRE, "bedrock"), Dropped("generationConfig.mediaResolution=dropped", "")
            ),
            **_native({"mediaResolution": "MEDIA_RESOLUTION_LOW"}),
        },
    ),
    "speechConfig": (
        {"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}},
        {
            **_each((*OPENAI_WIRE, *ANTHROPIC_WIRE, "bedrock"), Dropped("generationConfig.speechConfig=dropped", "")),
            **_native({"speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}}),
        },
    ),
}


def _contains(whole: Any, part: Any) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and _contains(whole[k], v) for k, v in part.items())
    return bool(whole == part)


def test_the_table_covers_every_family() -> None:
    for field, (_, outcomes) in TABLE.items():
        assert set(outcomes) == set(FAMILIES), field


@pytest.mark.parametrize("family", FAMILIES)
def test_each_generation_config_field_on_each_family(every_family: tuple[RunningApp, Upstreams], family: str) -> None:
    gateway, fakes = every_family
    url = f"{gateway.url}/v1beta/models/{FAMILIES[family]}:generateContent"
    failures: list[str] = []
    with httpx.Client(timeout=15, headers={"x-goog-api-key": "x"}) as http:
        for field, (config, outcomes) in TABLE.items():
            fakes.clear()
            body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": config}
            answer = http.post(url, json=body)
            outcome = outcomes[family]
            adjusted = answer.headers.get("x-babelgate-adjusted-params", "").split(",")
            got = f"{field}: {answer.status_code} {adjusted} {answer.text[:200]}"
            if isinstance(outcome, Refused):
                error = answer.json().get("error", {})
                if answer.status_code != 400 or outcome.param not in error.get("message", "") or fakes.reached(family):
                    failures.append(f"{got} (expected a 400 naming {outcome.param})")
            elif isinstance(outcome, Judged):
                fakes.forgive(family)
                if answer.status_code != 400 or outcome.message not in answer.text:
                    failures.append(f"{got} (expected Gemini's own 400: {outcome.message})")
            elif answer.status_code != 200:
                failures.append(got)
            elif isinstance(outcome, Sent):
                sent = fakes.last(family)
                if not _contains(sent, outcome.fragment):
                    failures.append(f"{got}: sent {sent} (expected {outcome.fragment} in it)")
            else:
                sent = fakes.last(family)
                if (outcome.entry and outcome.entry not in adjusted) or (outcome.absent and outcome.absent in sent):
                    failures.append(f"{got}: sent {sent} (expected {outcome.entry or 'no note'}, no {outcome.absent})")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/messages",
            {"model": "gpt-4o-mini", "max_tokens": 9, "top_k": 40, "messages": [{"role": "user", "content": "Hi"}]},
        ),
        (
            "/api/chat",
            {
                "model": "gpt-4o-mini",
                "stream": False,
                "options": {"top_k": 40},
                "messages": [{"role": "user", "content": "Hi"}],
            },
        ),
        (
            "/v1/chat/completions",
            {"model": "gpt-4o-mini", "top_k": 40, "messages": [{"role": "user", "content": "Hi"}]},
        ),
    ],
    ids=["messages", "ollama", "chat"],
)
def test_every_door_s_top_k_is_dropped_on_openai(
    gateway: RunningApp, upstream: FakeOpenAI, path: str, body: dict[str, Any]
) -> None:
    """The drop is the OpenAI provider's, so it holds whichever API the client speaks."""
    with httpx.Client(timeout=15) as http:
        answer = http.post(gateway.url + path, json=body, headers={"x-api-key": "x"})
    assert answer.status_code == 200, answer.text
    assert "top_k=dropped" in answer.headers["x-babelgate-adjusted-params"]
    assert "top_k" not in upstream.received[-1].json
