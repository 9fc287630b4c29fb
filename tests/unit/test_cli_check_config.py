"""`babelgate check-config FILE` (cli.py): exit code, the model table, and errors naming file, key and problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babelgate.cli import main
from babelgate.providers import PROVIDER_TYPES
from babelgate.providers.openai.profiles import PROFILES

AVAILABLE = ", ".join(sorted(PROVIDER_TYPES))

ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "MISTRAL_API_KEY",
    "MISTRAL_BASE_URL",
    "OLLAMA_BASE_URL",
    "BABELGATE_API_KEYS",
    "BABELGATE_UPSTREAM_TIMEOUT",
    "BABELGATE_CONFIG",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return str(path)


def check(path: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["check-config", path])
    out, err = capsys.readouterr()
    return code, out, err


GOOD = """\
server:
  api_keys: [env:GATEWAY_KEY]
providers:
  local:
    base_url: http://127.0.0.1:8000/v1
    api_key: env:LOCAL_KEY
models:
  fast: {provider: local, model: "qwen2.5:7b"}
aliases:
  default: fast
  gpt: openai/gpt-4o
"""


def test_good_config_prints_the_model_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "gk")
    monkeypatch.setenv("LOCAL_KEY", "lk")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    path = write(tmp_path, GOOD)
    code, out, err = check(path, capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{path}: OK",
        "providers: local (openai), openai (openai), ollama (openai)",
        "models:",
        "  fast     →  local: qwen2.5:7b",
        "  default  →  local: qwen2.5:7b",
        "  gpt      →  openai: gpt-4o",
        "prefixes: local/<model>, openai/<model>, ollama/<model>",
    ]


def test_minimal_config_has_no_model_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "server:\n  port: 8081\n")
    code, out, _ = check(path, capsys)
    assert code == 0
    assert out.splitlines() == [f"{path}: OK", "providers: ollama (openai)", "prefixes: ollama/<model>"]


def test_missing_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOCAL_KEY", "lk")
    path = write(tmp_path, GOOD)
    code, out, err = check(path, capsys)
    assert (code, out) == (1, "")
    assert err == f"{path}: server.api_keys[0]: environment variable GATEWAY_KEY is not set\n"


def test_literal_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "providers:\n  local:\n    api_key: sk-abc\n")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == (
        f"{path}: providers.local.api_key: must be an 'env:VAR_NAME' reference, "
        "so that the secret stays out of the file\n"
    )


def test_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, 'providers:\n  local:\n    base_url: "http://h\n')
    code, _, err = check(path, capsys)
    assert code == 1
    assert err.startswith(f"{path}: line 4, column 1: invalid YAML: ")


def test_unknown_provider_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "providers:\n  g:\n    type: watsonx\n")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == f"{path}: providers.g.type: unknown provider type 'watsonx' (available: {AVAILABLE})\n"


def test_unknown_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "providers:\n  local:\n    base_url: http://h/v1\n    profile: lmstudio\n")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == (f"{path}: providers.local: unknown profile 'lmstudio' (known: {', '.join(sorted(PROFILES))})\n")


def test_model_with_unknown_provider(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "models:\n  fast: {provider: local, model: m}\n")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == f"{path}: models.fast.provider: unknown provider 'local' (configured: ollama)\n"


def test_alias_to_an_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "aliases:\n  smart: claude-sonnet-4\n")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == (
        f"{path}: aliases.smart: target 'claude-sonnet-4' does not resolve: provider 'anthropic' is not "
        "enabled (set ANTHROPIC_API_KEY)\n"
    )


def test_alias_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "aliases:\n  a: b\n  b: a\n")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == f"{path}: aliases.a: target 'b' does not resolve: aliases form a cycle or a chain longer than 8\n"


def test_bad_env_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BABELGATE_UPSTREAM_TIMEOUT", "ten")
    path = write(tmp_path, "")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == f"{path}: BABELGATE_UPSTREAM_TIMEOUT: not a number of seconds: 'ten'\n"


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.yaml")
    code, _, err = check(path, capsys)
    assert code == 1
    assert err == f"{path}: <top>: cannot read the file: No such file or directory\n"


def test_env_provider_appears_in_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://gpu:11434")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    code, out, _ = check(write(tmp_path, "aliases:\n  mini: gpt-4o-mini\n"), capsys)
    assert code == 0
    assert "  mini  →  openai: gpt-4o-mini" in out.splitlines()


def test_check_config_requires_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check-config"])
    assert caught.value.code == 2
    assert "the following arguments are required: file" in capsys.readouterr().err


CLOUD_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_BEARER_TOKEN_BEDROCK",
)


@pytest.fixture
def no_cloud_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No cloud credentials from the environment; AWS's shared files in tmp_path (one profile, `team`)."""
    for name in CLOUD_ENV:
        monkeypatch.delenv(name, raising=False)
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "config").write_text("[profile team]\nregion = eu-west-1\n")
    (aws / "credentials").write_text("[team]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = shh\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    return tmp_path


SECRET = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-not-a-real-key"


@pytest.mark.parametrize(
    ("provider", "words"),
    [
        ("{type: vertex, project: p, credentials_file: '{tmp}/missing.json'}", "missing.json cannot be read"),
        ("{type: vertex, project: p, credentials_file: '{tmp}/broken.json'}", "is not a service-account JSON key"),
        ("{type: bedrock, region: us-east-1, aws_profile: nowhere}", "the AWS profile 'nowhere' is in no shared"),
        (
            "{type: bedrock, region: us-east-1, aws_access_key_id: env:HALF_KEY}",
            "aws_access_key_id is set without aws_secret_access_key",
        ),
        (
            "{type: azure, base_url: 'https://r.openai.azure.com', tenant_id: t, client_id: c,"
            " options: {credential: workload_identity, federated_token_file: '{tmp}/token'}}",
            "federated token file {tmp}/token cannot be read",
        ),
    ],
    ids=["vertex-missing", "vertex-broken", "bedrock-profile", "bedrock-half-pair", "azure-token-file"],
)
def test_credentials_a_provider_can_check_at_load_fail_the_check(
    provider: str,
    words: str,
    no_cloud_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = str(no_cloud_env)
    broken = {"type": "service_account", "client_email": "a@b", "token_uri": "https://t", "private_key": SECRET}
    (no_cloud_env / "broken.json").write_text(json.dumps(broken))
    monkeypatch.setenv("HALF_KEY", "AKIAHALFAPAIR")
    path = write(no_cloud_env, f"providers:\n  cloud: {provider.replace('{tmp}', tmp)}\n")
    code, out, err = check(path, capsys)
    assert code == 1 and "OK" not in out
    kind = provider.split("type: ")[1].split(",")[0]
    assert f"providers.cloud ({kind}): " in err and words.replace("{tmp}", tmp) in err, err
    assert SECRET not in err + out and "AKIAHALFAPAIR" not in err + out


def test_credentials_that_are_there_pass_the_check(no_cloud_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = no_cloud_env / "token"
    token.write_text("a federated token")
    path = write(
        no_cloud_env,
        "providers:\n"
        "  aws: {type: bedrock, region: us-east-1, aws_profile: team}\n"
        "  az: {type: azure, base_url: 'https://r.openai.azure.com', tenant_id: t, client_id: c,"
        f" options: {{credential: workload_identity, federated_token_file: '{token}'}}}}\n",
    )
    code, out, err = check(path, capsys)
    assert code == 0 and "OK" in out, err
