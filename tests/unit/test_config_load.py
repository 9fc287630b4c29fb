"""Config from the environment and YAML files (config/load.py, config/models.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from babelgate.config import Config, ConfigError, ProviderConfig, ServerConfig, load_config
from babelgate.config.load import EnvPreset, ProviderKind
from babelgate.providers import PROVIDER_TYPES

AVAILABLE = ", ".join(sorted(PROVIDER_TYPES))

TYPES = PROVIDER_TYPES


def load(
    environ: dict[str, str] | None = None,
    yaml_text: str | None = None,
    *,
    tmp_path: Path | None = None,
    types: Mapping[str, ProviderKind] = TYPES,
) -> Config:
    path = None
    if yaml_text is not None:
        assert tmp_path is not None
        path = tmp_path / "babelgate.yaml"
        path.write_text(yaml_text)
    return load_config(path, environ or {}, available_types=types)


def problem(environ: dict[str, str] | None, yaml_text: str | None, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(environ, yaml_text, tmp_path=tmp_path)
    return str(caught.value)


def source(tmp_path: Path) -> str:
    return str(tmp_path / "babelgate.yaml")


OLLAMA = ProviderConfig(
    type="openai",
    base_url="http://127.0.0.1:11434/v1",
    profile="ollama",
    connect_timeout=2.0,
    options={"models_endpoint": "ollama_tags"},
)


def test_empty_environment_gives_only_ollama() -> None:
    config = load({})
    assert config.providers == {"ollama": OLLAMA}
    assert config.server == ServerConfig()
    assert config.models == {}
    assert config.aliases == {}


def test_openai_key_and_base_url_from_the_environment() -> None:
    config = load({"OPENAI_API_KEY": "sk-env", "OPENAI_BASE_URL": "http://127.0.0.1:9999/v1/"})
    openai = config.providers["openai"]
    assert (openai.type, openai.base_url, openai.api_keys) == ("openai", "http://127.0.0.1:9999/v1", ("sk-env",))
    assert set(config.providers) == {"openai", "ollama"}


def test_openai_without_base_url_uses_the_official_endpoint() -> None:
    assert load({"OPENAI_API_KEY": "sk-env"}).providers["openai"].base_url == "https://api.openai.com/v1"


def test_openai_base_url_without_a_key_adds_no_provider() -> None:
    assert "openai" not in load({"OPENAI_BASE_URL": "http://127.0.0.1:9999/v1"}).providers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://gpu-box:11434", "http://gpu-box:11434/v1"),
        ("http://gpu-box:11434/", "http://gpu-box:11434/v1"),
        ("http://gpu-box:11434/v1", "http://gpu-box:11434/v1"),
        ("http://gpu-box:11434/v1/", "http://gpu-box:11434/v1"),
        ("", "http://127.0.0.1:11434/v1"),
    ],
)
def test_ollama_base_url_gets_v1(value: str, expected: str) -> None:
    assert load({"OLLAMA_BASE_URL": value}).providers["ollama"].base_url == expected


def test_every_provider_in_the_environment_is_enabled() -> None:
    config = load({"ANTHROPIC_API_KEY": "sk-ant-x", "GEMINI_API_KEY": "g", "MISTRAL_API_KEY": "m"})
    assert set(config.providers) == {"anthropic", "gemini", "mistral", "ollama"}
    assert config.providers["anthropic"].base_url == "https://api.anthropic.com"
    assert config.providers["gemini"].base_url == "https://generativelanguage.googleapis.com"
    assert config.providers["mistral"].base_url == "https://api.mistral.ai"


def test_only_the_available_types_presets_turn_providers_on() -> None:
    config = load({"ANTHROPIC_API_KEY": "sk-ant-x", "MISTRAL_API_KEY": "m"}, types={"openai": PROVIDER_TYPES["openai"]})
    assert set(config.providers) == {"ollama"}


@dataclass(frozen=True)
class Kind:
    env: tuple[EnvPreset, ...]
    config_keys: frozenset[str] = frozenset()


def test_a_preset_of_a_type_that_is_not_available_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # A type may declare a preset that another type serves (OpenAI's declares Ollama's).
    groq = EnvPreset("groq", "groq", "GROQ_BASE_URL", "https://api.groq.com/openai/v1", "GROQ_API_KEY")
    with caplog.at_level(logging.WARNING, logger="babelgate.config"):
        config = load({"GROQ_API_KEY": "g"}, types={"openai": Kind((groq,))})
    assert config.providers == {}
    assert [record.getMessage() for record in caplog.records] == [
        "GROQ_API_KEY is set, but provider type 'groq' is not available; skipped"
    ]


def test_babelgate_api_keys_are_comma_separated_and_trimmed() -> None:
    assert load({"BABELGATE_API_KEYS": " key-a, key-b,,key-c ,"}).server.api_keys == ("key-a", "key-b", "key-c")


def test_babelgate_api_keys_add_to_the_file_keys(tmp_path: Path) -> None:
    config = load(
        {"GW": "file-key", "BABELGATE_API_KEYS": "env-key"}, "server:\n  api_keys: [env:GW]\n", tmp_path=tmp_path
    )
    assert config.server.api_keys == ("file-key", "env-key")


def test_upstream_timeout_from_the_environment() -> None:
    assert load({"BABELGATE_UPSTREAM_TIMEOUT": "12.5"}).server.default_timeout == 12.5


def test_file_timeout_wins_over_the_environment(tmp_path: Path) -> None:
    config = load({"BABELGATE_UPSTREAM_TIMEOUT": "12.5"}, "server:\n  default_timeout: 3\n", tmp_path=tmp_path)
    assert config.server.default_timeout == 3.0


def test_upstream_timeout_that_is_not_a_number() -> None:
    with pytest.raises(ConfigError) as caught:
        load({"BABELGATE_UPSTREAM_TIMEOUT": "soon"})
    assert str(caught.value) == "<environment>: BABELGATE_UPSTREAM_TIMEOUT: not a number of seconds: 'soon'"


FULL_YAML = """\
server:
  host: 0.0.0.0
  port: 9000
  api_keys: [env:GW_KEY_1, env:GW_KEY_2]
  default_timeout: 30
providers:
  local:
    base_url: http://127.0.0.1:8000/v1/
    api_key: env:LOCAL_KEY
    headers:
      X-Team: env:TEAM
      X-Plain: plain-value
    profile: vllm
    options:
      drop_params: [logprobs]
  openai:
    api_keys: [env:OPENAI_KEY_1, env:OPENAI_KEY_2]
models:
  fast:
    provider: local
    model: Qwen/Qwen2.5-7B-Instruct
    defaults: {temperature: 0.2}
    overrides: {max_tokens: 512}
aliases:
  default: fast
"""
FULL_ENV = {
    "GW_KEY_1": "gk1",
    "GW_KEY_2": "gk2",
    "LOCAL_KEY": "lk",
    "TEAM": "blue",
    "OPENAI_KEY_1": "sk-1",
    "OPENAI_KEY_2": "sk-2",
    "OPENAI_API_KEY": "sk-from-env",
}


def test_yaml_file_with_env_references(tmp_path: Path) -> None:
    config = load(FULL_ENV, FULL_YAML, tmp_path=tmp_path)
    assert config.server == ServerConfig(host="0.0.0.0", port=9000, api_keys=("gk1", "gk2"), default_timeout=30)
    assert config.providers["local"] == ProviderConfig(
        base_url="http://127.0.0.1:8000/v1",
        api_keys=("lk",),
        headers={"X-Team": "blue", "X-Plain": "plain-value"},
        profile="vllm",
        options={"drop_params": ["logprobs"]},
    )
    # The file's provider named "openai" wins over OPENAI_API_KEY; its base_url stays unset.
    assert config.providers["openai"] == ProviderConfig(api_keys=("sk-1", "sk-2"))
    assert config.providers["ollama"] == OLLAMA
    assert config.models["fast"].overrides == {"max_tokens": 512}
    assert config.aliases == {"default": "fast"}


def test_providers_from_env_can_be_turned_off(tmp_path: Path) -> None:
    config = load({"OPENAI_API_KEY": "sk"}, "server:\n  providers_from_env: false\n", tmp_path=tmp_path)
    assert config.providers == {}


def test_empty_file_is_the_environment_alone(tmp_path: Path) -> None:
    assert load({}, "", tmp_path=tmp_path).providers == {"ollama": OLLAMA}


def test_literal_key_is_refused(tmp_path: Path) -> None:
    yaml_text = "providers:\n  openai:\n    api_key: sk-literal-secret\n"
    assert problem({}, yaml_text, tmp_path) == (
        f"{source(tmp_path)}: providers.openai.api_key: must be an 'env:VAR_NAME' reference, "
        "so that the secret stays out of the file"
    )


def test_literal_key_in_a_list_is_refused_with_its_index(tmp_path: Path) -> None:
    yaml_text = "server:\n  api_keys: [env:A, literal]\n"
    assert problem({"A": "a"}, yaml_text, tmp_path) == (
        f"{source(tmp_path)}: server.api_keys[1]: must be an 'env:VAR_NAME' reference, "
        "so that the secret stays out of the file"
    )


def test_missing_env_var_is_named(tmp_path: Path) -> None:
    yaml_text = "providers:\n  local:\n    base_url: http://h/v1\n    api_keys: [env:SET, env:NOT_SET]\n"
    assert problem({"SET": "x"}, yaml_text, tmp_path) == (
        f"{source(tmp_path)}: providers.local.api_keys[1]: environment variable NOT_SET is not set"
    )


def test_empty_env_var_counts_as_missing(tmp_path: Path) -> None:
    yaml_text = "providers:\n  local:\n    headers:\n      X-Key: env:EMPTY\n"
    assert problem({"EMPTY": ""}, yaml_text, tmp_path) == (
        f"{source(tmp_path)}: providers.local.headers.X-Key: environment variable EMPTY is not set"
    )


def test_every_problem_is_listed_one_per_line(tmp_path: Path) -> None:
    yaml_text = "server:\n  api_keys: [plain]\nproviders:\n  a:\n    api_key: env:NOPE\n  b:\n    type: grpc\n"
    assert problem({}, yaml_text, tmp_path).splitlines() == [
        f"{source(tmp_path)}: server.api_keys[0]: must be an 'env:VAR_NAME' reference, "
        "so that the secret stays out of the file",
        f"{source(tmp_path)}: providers.a.api_key: environment variable NOPE is not set",
        f"{source(tmp_path)}: providers.b.type: unknown provider type 'grpc' (available: {AVAILABLE})",
    ]


def test_unknown_provider_type(tmp_path: Path) -> None:
    assert problem({}, "providers:\n  watsonx:\n    type: watsonx\n", tmp_path) == (
        f"{source(tmp_path)}: providers.watsonx.type: unknown provider type 'watsonx' (available: {AVAILABLE})"
    )


def test_model_referencing_an_unknown_provider(tmp_path: Path) -> None:
    yaml_text = "providers:\n  local: {base_url: 'http://h/v1'}\nmodels:\n  fast: {provider: nowhere, model: m}\n"
    assert problem({}, yaml_text, tmp_path) == (
        f"{source(tmp_path)}: models.fast.provider: unknown provider 'nowhere' (configured: local, ollama)"
    )


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    yaml_text = "server:\n  port: 8080\nproviders:\n  local:\n    base_url: [unclosed\n"
    message = problem({}, yaml_text, tmp_path)
    assert message.startswith(f"{source(tmp_path)}: line 6, column 1: invalid YAML: ")
    assert "expected ',' or ']'" in message


def test_yaml_tab_indentation_error(tmp_path: Path) -> None:
    message = problem({}, "server:\n\tport: 1\n", tmp_path)
    assert message.startswith(f"{source(tmp_path)}: line 2, column 1: invalid YAML: found character '\\t'")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert problem({}, "- a\n- b\n", tmp_path) == (
        f"{source(tmp_path)}: <top>: the file must hold a mapping at the top level"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", {}, available_types=TYPES)
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: <top>: cannot read the file: No such file or directory"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("server:\n  port: 70000\n", "server.port: Input should be less than or equal to 65535"),
        ("server:\n  prot: 1\n", "server.prot: Extra inputs are not permitted"),
        ("providers:\n  local:\n    timout: 5\n", "providers.local.timout: Extra inputs are not permitted"),
        ("providers:\n  local:\n    timeout: 0\n", "providers.local.timeout: Input should be greater than 0"),
        (
            "providers:\n  local:\n    base_url: ftp://h\n",
            "providers.local.base_url: must start with http:// or https://",
        ),
        (
            "providers:\n  'bad name': {}\n",
            "providers: provider name 'bad name' may only hold letters, digits, '_', '.', '-'",
        ),
        ("models:\n  m: {provider: ollama}\n", "models.m: model: Field required (or a list of deployments)"),
        ("models:\n  m: {provider: ollama, model: ''}\n", "models.m.model: String should have at least 1 character"),
        ("aliases:\n  a: [b]\n", "aliases.a: Input should be a valid string"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
    ],
)
def test_validation_errors_name_the_key_path(tmp_path: Path, yaml_text: str, expected: str) -> None:
    assert problem({}, yaml_text, tmp_path) == f"{source(tmp_path)}: {expected}"


def test_config_error_keeps_source_and_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load({}, "server:\n  port: -1\n", tmp_path=tmp_path)
    assert caught.value.source == source(tmp_path)
    assert caught.value.problems == [("server.port", "Input should be greater than or equal to 0")]


def test_api_key_shorthand_goes_first() -> None:
    assert ProviderConfig.model_validate({"api_key": "a", "api_keys": ["b"]}).api_keys == ("a", "b")


def test_single_server_key_reference_is_not_split_into_characters(tmp_path: Path) -> None:
    try:
        config = load({"GW": "abc123", "BABELGATE_API_KEYS": "k2"}, "server:\n  api_keys: env:GW\n", tmp_path=tmp_path)
    except ConfigError:
        return  # refusing the shape is fine too
    assert config.server.api_keys == ("abc123", "k2")


def test_a_clouds_keys_and_its_secret_as_env_references(tmp_path: Path) -> None:
    yaml_text = (
        "providers:\n"
        "  az: {type: azure, base_url: 'https://r.openai.azure.com', tenant_id: env:TENANT,"
        " client_id: cid, client_secret: env:SECRET}\n"
        "  gcp: {type: vertex, project: env:PROJECT, location: global, credentials_file: /k.json}\n"
    )
    config = load({"TENANT": "t-1", "SECRET": "s3cret-value", "PROJECT": "p-1"}, yaml_text, tmp_path=tmp_path)
    azure, vertex = config.providers["az"], config.providers["gcp"]
    assert (azure.tenant_id, azure.client_id, azure.client_secret) == ("t-1", "cid", "s3cret-value")
    assert azure.secret_values() == ("s3cret-value",) and "s3cret-value" not in repr(azure)
    assert (vertex.project, vertex.location, vertex.credentials_file) == ("p-1", "global", "/k.json")
    literal = yaml_text.replace("env:SECRET", "plain-secret")
    assert "providers.az.client_secret: must be an 'env:VAR_NAME' reference" in problem(
        {"TENANT": "t", "PROJECT": "p"}, literal, tmp_path
    )


def test_a_cloud_key_on_a_provider_of_another_type_is_refused(tmp_path: Path) -> None:
    # `region` is Bedrock's: on an OpenAI provider it would be silently ignored, so it is refused.
    with pytest.raises(ConfigError) as refused:
        load(
            {},
            "providers:\n  up: {type: openai, base_url: 'http://x/v1', region: eu-west-1}\n",
            tmp_path=tmp_path,
        )
    assert "providers.up.region" in str(refused.value) and "type bedrock only" in str(refused.value)
    config = load({}, "providers:\n  aws: {type: bedrock, region: eu-west-1}\n", tmp_path=tmp_path)
    assert config.providers["aws"].region == "eu-west-1"


def test_batch_bucket_is_read_by_the_clouds_with_a_batch_bucket_only(tmp_path: Path) -> None:
    config = load({}, "providers:\n  gcp: {type: vertex, project: p, batch_bucket: 'gs://b/x'}\n", tmp_path=tmp_path)
    assert config.providers["gcp"].batch_bucket == "gs://b/x"
    with pytest.raises(ConfigError) as refused:
        load({}, "providers:\n  up: {type: openai, batch_bucket: 'gs://b/x'}\n", tmp_path=tmp_path)
    assert "providers.up.batch_bucket" in str(refused.value) and "vertex" in str(refused.value)


def test_the_bedrock_openai_preset_takes_the_region_and_the_bedrock_api_key(tmp_path: Path) -> None:
    environ = {"AWS_REGION": "eu-central-1", "AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key"}
    config = load(environ, "providers:\n  oss: {preset: bedrock-openai}\n", tmp_path=tmp_path)
    oss = config.providers["oss"]
    assert (oss.type, oss.base_url) == ("openai", "https://bedrock-runtime.eu-central-1.amazonaws.com/openai/v1")
    assert oss.api_keys == ("bedrock-api-key",) and oss.list_models is False


def test_a_cloud_key_is_read_by_every_type_that_declares_it_and_refused_on_the_others(tmp_path: Path) -> None:
    """`batch_bucket` is a bedrock key (and may be another cloud's too): a type that does not read it refuses it."""
    bucket = frozenset({"batch_bucket"})
    types = {"bedrock": Kind((), bucket), "vertex": Kind((), bucket), "openai": Kind(())}
    text = "providers:\n  {name}: {{type: {name}, batch_bucket: 's3://jobs/prefix'}}\n"
    for name in ("bedrock", "vertex"):
        assert load({}, text.format(name=name), tmp_path=tmp_path, types=types).providers[name].batch_bucket
    with pytest.raises(ConfigError) as caught:
        load({}, text.format(name="openai"), tmp_path=tmp_path, types=types)
    assert "is read by type bedrock or vertex only; this provider is type openai" in str(caught.value)
    assert "batch_bucket" in PROVIDER_TYPES["bedrock"].config_keys
    assert "batch_role_arn" in PROVIDER_TYPES["bedrock"].config_keys
