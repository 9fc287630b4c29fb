"""`babelgate launch` without running an agent: what `--print` shows for each agent, where the key and the
model come from, what `--write-config` writes, and that the user's own configuration is otherwise left alone."""

from __future__ import annotations

import json
import os
import signal
import tomllib
from pathlib import Path
from typing import Any

import pytest

from babelgate.cli import main
from babelgate.operator import launch_agents
from babelgate.operator.client import Answer, Failed, Gateway
from babelgate.operator.launch import default_model, environment, run_agent
from babelgate.operator.launch_agents import AGENTS, Target

URL = "http://gateway.test:8080"
KEY = "sk-launch-unit-key"
MASTER = "sk-master-unit"
MODELS = [
    {"id": "text-embedding-3-small", "object": "model"},
    {"id": "openai/gpt-4o-mini", "object": "model"},
    {"id": "speech", "object": "model", "output_modalities": ["audio"]},
    {"id": "anthropic/claude-sonnet-4-5", "object": "model"},
    {"id": "gemini/gemini-2.5-flash", "object": "model"},
    {"id": "openai/gpt-5", "object": "model"},
]


class FakeGateway:
    """Gateway.call answered from here; every call kept as (method, path, body, key)."""

    def __init__(self, *, open_models: bool = False) -> None:
        self.calls: list[tuple[str, str, Any, str | None]] = []
        self.open_models = open_models

    def call(self, gateway: Gateway, method: str, path: str, body: Any = None, **_: Any) -> Answer:
        self.calls.append((method, path, body, gateway.key))
        if path == "/admin/keys" and method == "POST":
            if gateway.key != MASTER:
                raise Failed("the gateway answered 401: no", status=401)
            return Answer(200, {}, {"id": "key_1", "key": "sk-bg-made-for-the-agent"})
        if path == "/v1/models":
            if gateway.key is None and not self.open_models:
                raise Failed("the gateway answered 401: Missing or invalid API key", status=401)
            return Answer(200, {}, {"object": "list", "data": MODELS})
        raise AssertionError(path)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeGateway:
    monkeypatch.delenv("CODEX_HOME", raising=False)
    fake = FakeGateway()
    monkeypatch.setattr(Gateway, "call", lambda gateway, *args, **kwargs: fake.call(gateway, *args, **kwargs))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("BABELGATE_API_KEY", "BABELGATE_MASTER_KEY", "BABELGATE_URL", "BABELGATE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "home").mkdir()
    return fake


def launch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["launch", *args])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


EXPECTED = {
    "claude": [
        f"export ANTHROPIC_BASE_URL={URL}",
        f"export ANTHROPIC_AUTH_TOKEN={KEY}",
        "export ANTHROPIC_SMALL_FAST_MODEL=openai/gpt-4o-mini",
        "unset ANTHROPIC_API_KEY",
        "claude --verbose",
    ],
    "codex": [
        f"export BABELGATE_API_KEY={KEY}",
        f"-c 'model_providers.babelgate.base_url=\"{URL}/v1\"'",
        "-c 'model_provider=\"babelgate\"' -c 'model=\"openai/gpt-4o-mini\"' --verbose",
    ],
    "gemini": [
        f"export GOOGLE_GEMINI_BASE_URL={URL}",
        f"export GEMINI_API_KEY={KEY}",
        '"selectedType": "gemini-api-key"',
        "gemini --model openai/gpt-4o-mini --verbose",
    ],
    "opencode": [
        f"export BABELGATE_API_KEY={KEY}",
        '"npm": "@ai-sdk/openai-compatible"',
        f'"baseURL": "{URL}/v1"',
        '"apiKey": "{env:BABELGATE_API_KEY}"',
        '"model": "babelgate/openai/gpt-4o-mini"',
        "opencode --verbose",
    ],
    "qwen": [
        f"export OPENAI_BASE_URL={URL}/v1",
        f"export OPENAI_API_KEY={KEY}",
        "export OPENAI_MODEL=openai/gpt-4o-mini",
        "qwen --auth-type openai --model openai/gpt-4o-mini --verbose",
    ],
    "copilot": [
        f"export COPILOT_PROVIDER_BASE_URL={URL}/v1",
        "export COPILOT_PROVIDER_TYPE=openai",
        f"export COPILOT_PROVIDER_API_KEY={KEY}",
        "export COPILOT_MODEL=openai/gpt-4o-mini",
        "unset COPILOT_PROVIDER_BEARER_TOKEN",
        "copilot --model openai/gpt-4o-mini --verbose",
    ],
    "kilo": [
        f"export BABELGATE_API_KEY={KEY}",
        '"$schema": "https://app.kilo.ai/config.json"',
        f'"baseURL": "{URL}/v1"',
        '"apiKey": "{env:BABELGATE_API_KEY}"',
        '"model": "babelgate/openai/gpt-4o-mini"',
        "kilo --verbose",
    ],
    "cline": [
        "export CLINE_SESSION_BACKEND_MODE=local",
        '"provider": "openai-compatible"',
        f'"baseUrl": "{URL}/v1"',
        "cline --provider openai-compatible --model openai/gpt-4o-mini --verbose",
    ],
}


@pytest.mark.parametrize("agent", list(AGENTS))
def test_print_shows_the_environment_the_files_and_the_command(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], tmp_path: Path, agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The launcher's cache is under /tmp here, where Gemini CLI would skip its settings file (tested below).
    monkeypatch.setattr(launch_agents, "gemini_settings_refusal", lambda _: None)
    code, out, err = launch(
        capsys,
        agent,
        "--print",
        "--gateway",
        URL + "/v1",
        "--key",
        KEY,
        "--model",
        "openai/gpt-4o-mini",
        "--",
        "--verbose",
    )
    assert code == 0, err
    for line in EXPECTED[agent]:
        assert line in out, f"{line!r} not in\n{out}"
    # The files it names exist where it says (the launcher's cache), and nothing went into the home.
    named = [line[2:-1] for line in out.splitlines() if line.startswith(f"# {tmp_path}")]
    assert len(named) == (1 if agent in ("gemini", "opencode", "kilo", "cline") else 0), out
    for path in named:
        assert Path(path).is_file() and Path(path).is_relative_to(tmp_path / "cache")
        assert Path(path).stat().st_mode & 0o077 == 0  # Cline's holds the key: each the user's alone
    assert not any((tmp_path / "home").iterdir())


def test_print_without_a_key_makes_a_virtual_key_with_the_master_key(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    code, out, err = launch(capsys, "qwen", "--print", "--gateway", URL)
    assert code == 0, err
    assert fake.calls[0] == ("POST", "/admin/keys", {"label": "babelgate launch qwen"}, MASTER)
    assert "export OPENAI_API_KEY=sk-bg-made-for-the-agent" in out
    assert "made virtual key key_1" in err
    # The models were listed with the new key, not the master key.
    assert fake.calls[1] == ("GET", "/v1/models", None, "sk-bg-made-for-the-agent")


def test_the_key_from_the_environment_wins_over_making_one(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BABELGATE_API_KEY", KEY)
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    code, out, _ = launch(capsys, "qwen", "--print", "--gateway", URL)
    assert code == 0 and f"export OPENAI_API_KEY={KEY}" in out
    assert [call[:2] for call in fake.calls] == [("GET", "/v1/models")]


def test_no_key_for_a_gateway_that_wants_one_is_a_usage_error(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = launch(capsys, "claude", "--print", "--gateway", URL)
    assert code == 2 and out == ""
    assert "--key" in err and "BABELGATE_MASTER_KEY" in err


def test_a_gateway_without_keys_gets_a_placeholder(fake: FakeGateway, capsys: pytest.CaptureFixture[str]) -> None:
    fake.open_models = True
    code, out, _ = launch(capsys, "qwen", "--print", "--gateway", URL)
    assert code == 0 and "export OPENAI_API_KEY=babelgate" in out


def test_the_default_model_is_the_agents_preference_else_the_first_chat_model() -> None:
    chat = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash", "openai/gpt-5"]
    assert default_model(AGENTS["claude"], chat) == "anthropic/claude-sonnet-4-5"
    assert default_model(AGENTS["codex"], chat) == "openai/gpt-5"
    assert default_model(AGENTS["gemini"], chat) == "gemini/gemini-2.5-flash"
    assert default_model(AGENTS["qwen"], chat) == "openai/gpt-4o-mini"  # no Qwen model: the first
    with pytest.raises(Failed):
        default_model(AGENTS["qwen"], [])


def test_models_that_cannot_chat_are_not_chosen(fake: FakeGateway, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = launch(capsys, "qwen", "--print", "--gateway", URL, "--key", KEY)
    assert code == 0 and "export OPENAI_MODEL=openai/gpt-4o-mini" in out  # not the embedding model listed first
    code, out, _ = launch(capsys, "opencode", "--print", "--gateway", URL, "--key", KEY)
    config = json.loads(Path(out.splitlines()[1][2:-1]).read_text())
    assert list(config["provider"]["babelgate"]["models"]) == [
        model["id"]
        for model in MODELS
        if model["id"]
        in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash", "openai/gpt-5")
    ]


def test_write_config_merges_into_the_users_own_files(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"theme": "dark", "env": {"FOO": "1"}}))
    (home / ".codex").mkdir()
    codex_config = 'model = "o3"\n\n[tui]\nnotifications = true\n'
    (home / ".codex" / "config.toml").write_text(codex_config)
    (home / ".qwen").mkdir()
    (home / ".qwen" / ".env").write_text("OPENAI_API_KEY=old\nOTHER=kept\n")
    for agent in AGENTS:
        code, out, err = launch(capsys, agent, "--write-config", "--gateway", URL, "--key", KEY, "--model", "m/x")
        if agent == "copilot":  # its provider is read from the environment only: said, and nothing written
            assert code == 2 and out == "" and "environment only" in err
            continue
        assert code == 0 and "wrote " in out, err
    claude = json.loads((home / ".claude" / "settings.json").read_text())
    assert claude["theme"] == "dark" and claude["env"]["FOO"] == "1"
    assert claude["env"]["ANTHROPIC_BASE_URL"] == URL and claude["env"]["ANTHROPIC_MODEL"] == "m/x"
    assert (home / ".codex" / "config.toml").read_text() == codex_config  # a profile file of its own instead
    codex = tomllib.loads((home / ".codex" / "babelgate.config.toml").read_text())
    assert (codex["model"], codex["model_provider"]) == ("m/x", "babelgate")
    assert codex["model_providers"]["babelgate"] == {
        "name": "babelgate",
        "base_url": f"{URL}/v1",
        "env_key": "BABELGATE_API_KEY",
        "wire_api": "responses",
    }
    assert (home / ".qwen" / ".env").read_text().splitlines() == [
        "OTHER=kept",
        f"OPENAI_BASE_URL={URL}/v1",
        f"OPENAI_API_KEY={KEY}",
        "OPENAI_MODEL=m/x",
    ]
    assert (home / ".gemini" / ".env").stat().st_mode & 0o077 == 0  # new files with the key: the user's alone
    gemini = json.loads((home / ".gemini" / "settings.json").read_text())
    assert gemini["security"]["auth"]["selectedType"] == "gemini-api-key"
    opencode = json.loads((home / ".config" / "opencode" / "opencode.json").read_text())
    assert opencode["provider"]["babelgate"]["options"] == {"baseURL": f"{URL}/v1", "apiKey": KEY}
    kilo = json.loads((home / ".config" / "kilo" / "kilo.json").read_text())
    assert (kilo["provider"]["babelgate"]["options"], kilo["model"]) == (
        opencode["provider"]["babelgate"]["options"],
        "babelgate/m/x",
    )
    cline = json.loads((home / ".cline" / "data" / "settings" / "providers.json").read_text())
    assert cline["lastUsedProvider"] == "openai-compatible"
    assert cline["providers"]["openai-compatible"]["settings"] == {
        "provider": "openai-compatible",
        "apiKey": KEY,
        "model": "m/x",
        "baseUrl": f"{URL}/v1",
    }


def test_an_agent_not_on_path_is_a_usage_error(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = launch(capsys, "opencode", "--gateway", URL, "--key", KEY)
    assert code == 2 and "opencode not found on PATH" in err


def test_the_gateway_defaults_to_the_address_in_the_local_config(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "babelgate.yaml"
    config.write_text("server:\n  host: 0.0.0.0\n  port: 9181\n")
    monkeypatch.setenv("BABELGATE_CONFIG", str(config))
    code, out, _ = launch(capsys, "qwen", "--print", "--key", KEY)
    assert code == 0 and "export OPENAI_BASE_URL=http://127.0.0.1:9181/v1" in out
    monkeypatch.setenv("BABELGATE_URL", "http://elsewhere:7000")  # the variable wins over the file
    code, out, _ = launch(capsys, "qwen", "--print", "--key", KEY)
    assert code == 0 and "export OPENAI_BASE_URL=http://elsewhere:7000/v1" in out


def test_the_agents_exit_code_is_the_launchers() -> None:
    assert run_agent(["sh", "-c", "exit 3"], {}) == 3
    assert run_agent(["sh", "-c", "kill -TERM $$"], {}) == 128 + signal.SIGTERM


def test_the_agents_environment_sets_ours_and_drops_what_would_override_it() -> None:
    setup = AGENTS["claude"].setup(Target(URL, KEY, "m"), Path("/unused"))
    env = environment(setup, {"ANTHROPIC_API_KEY": "sk-ant-users-own", "PATH": "/bin", "ANTHROPIC_BASE_URL": "x"})
    assert "ANTHROPIC_API_KEY" not in env and env["PATH"] == "/bin"
    assert env["ANTHROPIC_BASE_URL"] == URL and env["ANTHROPIC_AUTH_TOKEN"] == KEY


# -- what an agent would refuse, said before it starts -----------------------------------------------------


def fake_agent(tmp_path: Path) -> Path:
    """An executable standing for the agent: it leaves its arguments and environment in `ran.json`."""
    agent = tmp_path / "agent"
    agent.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        f"json.dump({{'args': sys.argv[1:], 'env': dict(os.environ)}}, open({str(tmp_path / 'ran.json')!r}, 'w'))\n"
    )
    agent.chmod(0o755)
    return agent


def test_gemini_under_a_world_writable_directory_is_refused_in_one_line(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Gemini CLI would skip a settings file under /tmp (mode 1777) and ask for a Google sign-in: launch says
    so, and starts nothing."""
    agent = fake_agent(tmp_path)
    for how in ("--print", f"--agent-path={agent}"):
        code, out, err = launch(capsys, "gemini", how, "--gateway", URL, "--key", KEY, "--model", "m/x")
        assert code == 1 and out == "", err
        assert "/tmp has mode 1777" in err and "--write-config" in err, err
    assert not (tmp_path / "ran.json").exists()


def test_gemini_under_a_world_writable_directory_runs_on_the_users_own_api_key_sign_in(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Where the user's settings already select the API key, launch needs no settings file of its own."""
    settings = tmp_path / "home" / ".gemini" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    code, _, err = launch(capsys, "gemini", f"--agent-path={fake_agent(tmp_path)}", "--gateway", URL, "--key", KEY)
    assert code == 0, err
    ran = json.loads((tmp_path / "ran.json").read_text())
    assert (ran["env"]["GOOGLE_GEMINI_BASE_URL"], ran["env"]["GEMINI_API_KEY"]) == (URL, KEY)
    assert "GEMINI_CLI_SYSTEM_SETTINGS_PATH" not in ran["env"]
    assert ran["args"][:1] == ["--model"]


@pytest.mark.skipif(os.geteuid() != 0, reason="Claude Code's refusal is a root's")
def test_claude_code_skipping_permissions_as_root_outside_a_sandbox_is_refused_in_one_line(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = fake_agent(tmp_path)
    monkeypatch.delenv("IS_SANDBOX", raising=False)
    monkeypatch.delenv("CLAUDE_CODE_BUBBLEWRAP", raising=False)
    given = ("claude", f"--agent-path={agent}", "--gateway", URL, "--key", KEY, "--model", "m/x", "--")
    for bypass in (["--dangerously-skip-permissions"], ["--permission-mode", "bypassPermissions"]):
        code, _, err = launch(capsys, *given, "-p", "task", *bypass)
        assert code == 1 and "IS_SANDBOX=1" in err and len(err.strip().splitlines()) <= 3, err
        assert not (tmp_path / "ran.json").exists()
    monkeypatch.setenv("IS_SANDBOX", "1")  # a sandbox, said: Claude Code goes on, and so does launch
    code, _, err = launch(capsys, *given, "-p", "task", "--dangerously-skip-permissions")
    assert code == 0 and json.loads((tmp_path / "ran.json").read_text())["args"][-1] == "--dangerously-skip-permissions"


def test_codex_exec_outside_a_git_repository_is_refused_in_one_line(
    fake: FakeGateway, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`codex exec` outside a Git repository stops at once unless told to go on: launch says so first. A
    repository, the check skipped, approvals bypassed, or the directory trusted: it starts."""
    agent, work = fake_agent(tmp_path), tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    given = ("codex", f"--agent-path={agent}", "--gateway", URL, "--key", KEY, "--model", "m/x", "--")
    code, _, err = launch(capsys, *given, "exec", "task")
    assert code == 1 and "--skip-git-repo-check" in err and str(work) in err.replace("\n", ""), err
    assert not (tmp_path / "ran.json").exists()
    for extra in (["--skip-git-repo-check"], ["--dangerously-bypass-approvals-and-sandbox"], ["--yolo"]):
        code, _, err = launch(capsys, *given, "exec", *extra, "task")
        assert code == 0 and (tmp_path / "ran.json").exists(), err
        (tmp_path / "ran.json").unlink()
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(f'[projects."{work}"]\ntrust_level = "trusted"\n')
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    code, _, err = launch(capsys, *given, "exec", "task")
    assert code == 0 and (tmp_path / "ran.json").exists(), err
    (tmp_path / "ran.json").unlink()
    monkeypatch.delenv("CODEX_HOME")
    (work / ".git").mkdir()
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    code, _, err = launch(capsys, *given, "exec", "task")
    assert code == 0 and (tmp_path / "ran.json").exists(), err
