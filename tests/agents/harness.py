"""Running a coding agent against a gateway: its environment, its configuration, its process.

Each run gets a fresh home and working directory, talks only to the gateway on 127.0.0.1, and is
bounded in time; what it printed goes into any assertion message, so a failure says why. Both agents
print their progress as JSON lines (Claude Code's `--output-format stream-json`, Codex's `--json`):
the final answer and the retries the agent reports are read from there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from babelgate import Hook
from babelgate.hooks import Completion, RequestContext
from tests.agents.brain import Brain, responder
from tests.agents.install import cache_dir
from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes.bedrock_upstream import AwsKey
from tests.fakes.scripted import ScriptedStreams
from tests.fakes.servers import RunningApp

RUN_TIMEOUT_S: Final = 120
GATEWAY_KEY: Final = "sk-agent-test-gateway-key"
TASK: Final = "Create the file proof.txt with your shell tool, then tell me what the command printed."
# The model each provider is reached by: `provider/model`, as a user would ask.
MODELS: Final = {
    "openai": "openai/gpt-4o-mini",
    "anthropic": "anthropic/claude-sonnet-4-5",
    "gemini": "gemini/gemini-3-pro-preview",
    "mistral": "mistral/mistral-large-latest",
    "bedrock": "aws/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
}
# The fake Bedrock's IAM knows this key pair; the gateway signs with it.
AWS_KEY_ID: Final = "AKIAAGENTTESTKEY0001"
AWS_SECRET: Final = "agent/test/Secret+Key/For+Bedrock/0123456"


@dataclass
class Run:
    agent: str  # "claude-code", "codex", "gemini-cli", "qwen-code", "opencode", "kilo", "copilot" or "cline"
    returncode: int
    stdout: str
    stderr: str
    workdir: Path

    def explain(self) -> str:
        return (
            f"exit {self.returncode}; the agent's last word: {self.last_word()}\n"
            f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )

    def last_word(self) -> str | None:
        """How the run ended, as the agent put it: its answer, or the error it stopped on."""
        if self.agent == "gemini-cli":
            report = self.report
            error = report.get("error")
            return str(error.get("message")) if isinstance(error, dict) else self.final_text()
        if self.agent in ("claude-code", "qwen-code"):
            results = [event for event in self.events if event.get("type") == "result"]
            return str(results[-1].get("result")) if results else None
        if self.agent in ("opencode", "kilo"):
            errors = [event for event in self.events if event.get("type") == "error"]
            return str(errors[-1].get("error")) if errors else self.final_text()
        if self.agent == "copilot":
            errors = [event for event in self.events if str(event.get("type")).endswith("error")]
            return str(errors[-1].get("data")) if errors else self.final_text()
        if self.agent == "cline":  # {"type": "run_result", "finishReason": "completed" or "error", "text": …}
            results = [event for event in self.events if event.get("type") == "run_result"]
            return str(results[-1].get("text")) if results else None
        ends = [event for event in self.events if event.get("type") in ("turn.failed", "error", "turn.completed")]
        if ends and ends[-1].get("type") == "turn.failed":
            return str((ends[-1].get("error") or {}).get("message"))
        return self.final_text()

    @property
    def events(self) -> list[dict[str, Any]]:
        """The JSON lines the agent printed (anything else on stdout is left out); Qwen Code's
        `--output-format json` prints them as one array."""
        try:
            printed = json.loads(self.stdout)
        except ValueError:
            printed = None
        if isinstance(printed, list):
            return [event for event in printed if isinstance(event, dict)]
        events = []
        for line in self.stdout.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    @property
    def report(self) -> dict[str, Any]:
        """Gemini CLI's `--output-format json`: one object (`response`, `stats`, or `error`), on stdout
        (or stderr when the run failed)."""
        for text in (self.stdout, self.stderr[self.stderr.find("{") :] if "{" in self.stderr else ""):
            try:
                report = json.loads(text)
            except ValueError:
                continue
            if isinstance(report, dict):
                return report
        return {}

    def final_text(self) -> str | None:
        """The agent's last answer: Claude Code's `result` event, Codex's last `agent_message` item, Gemini
        CLI's `response`."""
        if self.agent == "gemini-cli":
            response = self.report.get("response")
            return str(response) if response is not None else None
        if self.agent in ("claude-code", "qwen-code"):
            results = [event for event in self.events if event.get("type") == "result"]
            if not results or results[-1].get("is_error"):
                return None
            return str(results[-1].get("result"))
        if self.agent in ("opencode", "kilo"):
            texts = [
                event["part"].get("text")
                for event in self.events
                if event.get("type") == "text" and isinstance(event.get("part"), dict)
            ]
            return str(texts[-1]) if texts else None
        if self.agent == "copilot":  # {"type": "assistant.message", "data": {"content": …, "toolRequests": []}}
            said = [
                event["data"].get("content")
                for event in self.events
                if event.get("type") == "assistant.message" and isinstance(event.get("data"), dict)
            ]
            return str(said[-1]) if said and said[-1] else None
        if self.agent == "cline":
            results = [event for event in self.events if event.get("type") == "run_result"]
            if not results or results[-1].get("finishReason") != "completed":
                return None
            return str(results[-1].get("text"))
        messages = [
            event["item"].get("text")
            for event in self.events
            if event.get("type") == "item.completed"
            and isinstance(event.get("item"), dict)
            and event["item"].get("type") == "agent_message"
        ]
        return messages[-1] if messages else None

    def retried_statuses(self) -> list[int]:
        """The HTTP statuses after which the agent itself tried again, as it reported them."""
        if self.agent == "claude-code":
            # {"type": "system", "subtype": "api_retry", "attempt": 1, "retry_delay_ms": 1168, "error_status": 429, …}
            return [
                int(event["error_status"])
                for event in self.events
                if event.get("type") == "system" and event.get("subtype") == "api_retry"
            ]
        # {"type": "error", "message": "Reconnecting... 1/5 (…, last status: 429 Too Many Requests, …)"}
        return [
            int(found.group(1))
            for event in self.events
            if event.get("type") == "error"
            for found in [_CODEX_RETRY.search(str(event.get("message")))]
            if found
        ]


_CODEX_RETRY: Final = re.compile(r"Reconnecting\.\.\. .*last status: (\d{3})")


class Answers(Hook):
    """What the gateway answered the agent, request by request: (route, status)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        self.seen.append((context.route, completion.status))

    def statuses(self) -> list[int]:
        """The statuses, once the last answer is accounted for: hooks run just after an answer went out,
        and the agent has exited, so the list only has to stop growing."""
        settled = -1
        while settled != len(self.seen):
            settled = len(self.seen)
            time.sleep(0.1)
        return [status for _, status in self.seen]


def gateway_for(
    provider: str, fake: ScriptedStreams, make_gateway: GatewayFactory, answers: Answers | None = None
) -> RunningApp:
    """A gateway whose `provider` is the fake (the OpenAI fake is the default gateway's upstream)."""
    hooks = (answers,) if answers else ()
    if provider == "bedrock":  # no environment preset: a provider named `aws` in a file
        fake.iam[AWS_KEY_ID] = AwsKey(AWS_SECRET)  # type: ignore[attr-defined]
        config = (
            f"providers:\n  aws:\n    type: bedrock\n    region: us-east-1\n    base_url: {fake.base_url}\n"
            "    aws_access_key_id: env:AGENT_AWS_KEY_ID\n    aws_secret_access_key: env:AGENT_AWS_SECRET\n"
        )
        env = {"AGENT_AWS_KEY_ID": AWS_KEY_ID, "AGENT_AWS_SECRET": AWS_SECRET, "BABELGATE_API_KEYS": GATEWAY_KEY}
        return make_gateway(config, env=env, hooks=hooks)
    env = {
        "openai": {},
        "anthropic": {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": fake.base_url},
        "gemini": {"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": fake.base_url},
        "mistral": {"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": fake.base_url},
    }[provider]
    return make_gateway(env={**env, "BABELGATE_API_KEYS": GATEWAY_KEY}, hooks=hooks)


def script(fake: ScriptedStreams, provider: str) -> Brain:
    brain = Brain(command=f"printf 'babelgate {provider}\\n' > proof.txt && cat proof.txt")
    fake.responder = responder(brain, provider)
    return brain


def _base_env(home: Path) -> dict[str, str]:
    # Only what an agent needs to run: no proxy, no keys or settings of the machine's own user.
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "HOME": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _run(agent: str, argv: list[str], env: dict[str, str], workdir: Path) -> Run:
    try:
        done = subprocess.run(
            argv,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        return Run(
            agent,
            -1,
            _decode(expired.stdout),
            _decode(expired.stderr) + f"\n[timed out after {RUN_TIMEOUT_S} s]",
            workdir,
        )
    return Run(agent, done.returncode, done.stdout, done.stderr, workdir)


def _decode(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""


def _claude_code_env(home: Path, model: str) -> dict[str, str]:
    return {
        **_base_env(home),
        # Side queries use the "small fast" and tier models: keep them on the gateway's model too.
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "IS_SANDBOX": "1",
    }  # the tests run as root, where --dangerously-skip-permissions asks for a sandbox


def _run_claude_code(
    claude: Path, env: dict[str, str], model: str, workdir: Path, extra_args: tuple[str, ...] = ()
) -> Run:
    return _run(
        "claude-code",
        [
            str(claude),
            "-p",
            TASK,
            "--model",
            model,
            "--dangerously-skip-permissions",
            "--output-format",
            "stream-json",
            "--verbose",
            *extra_args,
        ],
        env,
        workdir,
    )


def run_claude_code(
    claude: Path,
    gateway: RunningApp,
    model: str,
    tmp: Path,
    *,
    mcp_config: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Run:
    """`claude -p` as docs/agents.md says: ANTHROPIC_BASE_URL at the gateway, every model tier on `model`;
    `mcp_config`: the `--mcp-config` JSON (docs/mcp.md), the only MCP servers it then knows."""
    home, workdir = tmp / "home", tmp / "work"
    home.mkdir()
    workdir.mkdir()
    env = {
        **_claude_code_env(home, model),
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_API_KEY": GATEWAY_KEY,
        **(extra_env or {}),
    }
    extra = ("--mcp-config", mcp_config, "--strict-mcp-config") if mcp_config is not None else ()
    return _run_claude_code(claude, env, model, workdir, extra)


# Claude Code's cloud modes as a company's managed settings set them, pointed at the gateway (docs/agents.md,
# "Claude Code in Bedrock or Vertex mode"): the gateway key as Bedrock's API key (a bearer token), or, with the
# cloud's own auth skipped, in a header of ANTHROPIC_CUSTOM_HEADERS.
CLOUD_MODES: Final = ("bedrock", "bedrock-skip-auth", "vertex")


def _cloud_env(gateway: RunningApp, mode: str) -> dict[str, str]:
    if mode == "bedrock":
        return {
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "ANTHROPIC_BEDROCK_BASE_URL": gateway.url,
            "AWS_REGION": "us-east-1",
            "AWS_BEARER_TOKEN_BEDROCK": GATEWAY_KEY,
        }
    if mode == "bedrock-skip-auth":
        return {
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "ANTHROPIC_BEDROCK_BASE_URL": gateway.url,
            "AWS_REGION": "us-east-1",
            "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
            "ANTHROPIC_CUSTOM_HEADERS": f"x-api-key: {GATEWAY_KEY}",
        }
    assert mode == "vertex", mode
    return {
        "CLAUDE_CODE_USE_VERTEX": "1",
        "ANTHROPIC_VERTEX_BASE_URL": gateway.url + "/v1",
        "ANTHROPIC_VERTEX_PROJECT_ID": "babelgate-agents",
        "CLOUD_ML_REGION": "us-east5",
        "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
        "ANTHROPIC_CUSTOM_HEADERS": f"Authorization: Bearer {GATEWAY_KEY}",
    }


def run_claude_code_cloud(claude: Path, gateway: RunningApp, model: str, tmp: Path, *, mode: str) -> Run:
    """`claude -p` in Bedrock or Vertex mode (`mode`, one of CLOUD_MODES) with the cloud's base URL at the
    gateway; no ANTHROPIC_BASE_URL or ANTHROPIC_API_KEY."""
    home, workdir = tmp / "home", tmp / "work"
    home.mkdir()
    workdir.mkdir()
    return _run_claude_code(claude, {**_claude_code_env(home, model), **_cloud_env(gateway, mode)}, model, workdir)


def run_codex(
    codex: Path,
    gateway: RunningApp,
    model: str,
    tmp: Path,
    *,
    reasoning_effort: str | None = None,
    extra_config: str = "",
    extra_env: dict[str, str] | None = None,
) -> Run:
    """`codex exec` with a model provider whose base URL is the gateway's /v1 (docs/agents.md).
    Codex knows no metadata for a gateway's model names and asks for no reasoning unless told to.
    `extra_config`: more of config.toml (its `[mcp_servers.…]` tables, docs/mcp.md)."""
    home, workdir, codex_home = tmp / "home", tmp / "work", tmp / "codex-home"
    for folder in (home, workdir, codex_home):
        folder.mkdir()
    effort = f'model_reasoning_effort = "{reasoning_effort}"\n' if reasoning_effort else ""
    (codex_home / "config.toml").write_text(
        f'model = "{model}"\n'
        f"{effort}"
        'model_provider = "babelgate"\n'
        "[model_providers.babelgate]\n"
        'name = "babelgate"\n'
        f'base_url = "{gateway.url}/v1"\n'
        'env_key = "BABELGATE_API_KEY"\n'
        'wire_api = "responses"\n'
        f"{extra_config}"
    )
    env = {**_base_env(home), "CODEX_HOME": str(codex_home), "BABELGATE_API_KEY": GATEWAY_KEY, **(extra_env or {})}
    return _run(
        "codex",
        [str(codex), "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", TASK],
        env,
        workdir,
    )


def run_gemini_cli(gemini: Path, gateway: RunningApp, model: str, tmp: Path) -> Run:
    """`gemini -p` as docs/agents.md says: GOOGLE_GEMINI_BASE_URL at the gateway, GEMINI_API_KEY a gateway
    key, the model by its gateway name (slashes and all: it goes in the URL)."""
    home, workdir = tmp / "home", tmp / "work"
    (home / ".gemini").mkdir(parents=True)
    workdir.mkdir()
    # Headless runs take the auth method from the settings: an API key (the gateway's).
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    env = {
        **_base_env(home),
        "GOOGLE_GEMINI_BASE_URL": gateway.url,
        "GEMINI_API_KEY": GATEWAY_KEY,
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "GEMINI_TELEMETRY_ENABLED": "false",
    }
    return _run(
        "gemini-cli",
        [str(gemini), "-p", TASK, "--model", model, "--yolo", "--skip-trust", "--output-format", "json"],
        env,
        workdir,
    )


def run_qwen_code(qwen: Path, gateway: RunningApp, model: str, tmp: Path) -> Run:
    """`qwen -p` as docs/agents.md says: Qwen Code's OpenAI sign-in (OPENAI_BASE_URL at the gateway's /v1,
    OPENAI_API_KEY a gateway key), the model by its gateway name."""
    home, workdir = tmp / "home", tmp / "work"
    (home / ".qwen").mkdir(parents=True)
    workdir.mkdir()
    (home / ".qwen" / "settings.json").write_text(json.dumps(QWEN_SETTINGS))
    env = {
        **_base_env(home),
        "OPENAI_BASE_URL": f"{gateway.url}/v1",
        "OPENAI_API_KEY": GATEWAY_KEY,
        "OPENAI_MODEL": model,
    }
    return _run("qwen-code", [str(qwen), *QWEN_ARGS, "--auth-type", "openai", "--model", model], env, workdir)


# Headless, everything allowed, no telemetry or update checks (there is no internet in the tests).
QWEN_SETTINGS: Final = {
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
}
QWEN_ARGS: Final = ("-p", TASK, "--yolo", "--output-format", "json")


def run_opencode(opencode: Path, gateway: RunningApp, model: str, tmp: Path) -> Run:
    """`opencode run` as docs/agents.md says: a provider on `@ai-sdk/openai-compatible` whose baseURL is the
    gateway's /v1, in the file OPENCODE_CONFIG names."""
    home, workdir = tmp / "home", tmp / "work"
    home.mkdir()
    workdir.mkdir()
    config = tmp / "opencode.json"
    config.write_text(
        json.dumps(
            {
                "provider": {
                    "babelgate": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "babelgate",
                        "options": {"baseURL": f"{gateway.url}/v1", "apiKey": "{env:BABELGATE_API_KEY}"},
                        "models": {model: {"name": model}},
                    }
                },
                "model": f"babelgate/{model}",
            }
        )
    )
    env = {**_base_env(home), **OPENCODE_OFFLINE, "OPENCODE_CONFIG": str(config), "BABELGATE_API_KEY": GATEWAY_KEY}
    return _run("opencode", [str(opencode), *OPENCODE_ARGS], env, workdir)


# opencode offline: no models.dev catalogue, no update check, no LSP or plugin downloads, no sharing.
OPENCODE_OFFLINE: Final = {
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_SHARE": "1",
}
OPENCODE_ARGS: Final = ("run", "--format", "json", "--auto", TASK)
# Kilo Code CLI offline: opencode's switches under Kilo's names, and no session upload to Kilo's service.
KILO_OFFLINE: Final = {
    "KILO_DISABLE_MODELS_FETCH": "1",
    "KILO_DISABLE_AUTOUPDATE": "1",
    "KILO_DISABLE_LSP_DOWNLOAD": "1",
    "KILO_DISABLE_DEFAULT_PLUGINS": "1",
    "KILO_DISABLE_SHARE": "1",
    "KILO_DISABLE_SESSION_INGEST": "1",
}


# -- `babelgate launch`: the same runs, the gateway's part set by the command (docs/cli.md) ----------------

# Per agent: its name in Run, what only the test adds (no network beyond the gateway, no prompts), and
# the arguments after `--` that make it do the task and exit.
LAUNCHED: Final[dict[str, tuple[str, dict[str, str], tuple[str, ...]]]] = {
    "claude": (
        "claude-code",
        {
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "IS_SANDBOX": "1",
        },
        ("-p", TASK, "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose"),
    ),
    "codex": (
        "codex",
        {},
        ("exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", TASK),
    ),
    "gemini": (
        "gemini-cli",
        # Its settings file (launch's system settings) must not be under a world-writable directory, which
        # the test's home is (/tmp): launch's cache in the real one.
        {
            "GEMINI_CLI_NO_RELAUNCH": "true",
            "GEMINI_TELEMETRY_ENABLED": "false",
            "XDG_CACHE_HOME": str(Path.home() / ".cache"),
        },
        ("-p", TASK, "--yolo", "--skip-trust", "--output-format", "json"),
    ),
    "qwen": ("qwen-code", {}, QWEN_ARGS),
    "opencode": ("opencode", OPENCODE_OFFLINE, OPENCODE_ARGS),
    "copilot": (
        "copilot",
        # Offline: no GitHub sign-in, telemetry, web tools or update check; its bundled package unpacked
        # once for every test (not into each test's home).
        {
            "COPILOT_OFFLINE": "true",
            "COPILOT_AUTO_UPDATE": "false",
            "COPILOT_CACHE_HOME": str(cache_dir() / "copilot-cache"),
        },
        ("-p", TASK, "--allow-all-tools", "--output-format", "json"),
    ),
    "kilo": ("kilo", KILO_OFFLINE, OPENCODE_ARGS),  # opencode's fork: its `run` and its events
    # Tools approved unless told otherwise; the session in its own process even as the user runs it after
    # `--write-config` (by default a background hub would serve it, and outlive the test).
    "cline": ("cline", {"CLINE_SESSION_BACKEND_MODE": "local"}, ("--json", TASK)),
}
# The user's own settings, as a user of each agent has them (here: no telemetry or update checks).
HOME_SETTINGS: Final = {
    "gemini": (".gemini/settings.json", {key: value for key, value in QWEN_SETTINGS.items()}),
    "qwen": (".qwen/settings.json", QWEN_SETTINGS),
}


def run_launched(
    agent: str,
    binary: Path,
    tmp: Path,
    launch_args: list[str],
    env: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[Run, Path]:
    """`babelgate launch AGENT --agent-path BINARY LAUNCH_ARGS -- <the task>` in a fresh home: the run,
    and the home (to show nothing was written into it). `settings`: more of the user's own settings."""
    name, extra_env, task_args = LAUNCHED[agent]
    home, workdir = tmp / "home", tmp / "work"
    home.mkdir()
    workdir.mkdir()
    if agent in HOME_SETTINGS:
        where, own = HOME_SETTINGS[agent]
        (home / where).parent.mkdir(parents=True)
        (home / where).write_text(json.dumps({**own, **(settings or {})}))
    environ = {**_base_env(home), **extra_env, **(env or {})}
    if "PYTHONPATH" in os.environ:  # this checkout's sources, wherever the agent's directory is
        environ["PYTHONPATH"] = os.pathsep.join(map(os.path.abspath, os.environ["PYTHONPATH"].split(os.pathsep)))
    argv = [sys.executable, "-m", "babelgate.cli", "launch", agent, "--agent-path", str(binary), *launch_args]
    return _run(name, [*argv, "--", *task_args], environ, workdir), home


def run_configured(agent: str, binary: Path, tmp: Path, launch_args: list[str]) -> tuple[Run, Run]:
    """`babelgate launch AGENT --write-config LAUNCH_ARGS`, then the agent run plainly in that home, with
    nothing of the gateway's in its environment (Codex: its `babelgate` profile, and the key's variable,
    as docs/cli.md says)."""
    name, extra_env, task_args = LAUNCHED[agent]
    wrote, home = run_launched(agent, binary, tmp, ["--write-config", *launch_args])
    environ = {**_base_env(home), **extra_env}
    if agent == "codex":
        environ["BABELGATE_API_KEY"] = GATEWAY_KEY
        task_args = (task_args[0], "--profile", "babelgate", *task_args[1:])
    return wrote, _run(name, [str(binary), *task_args], environ, tmp / "work")


def home_files(home: Path) -> dict[str, bytes]:
    """Every file under `home` that is a configuration an agent reads, with its content."""
    configs = (".claude/settings.json", ".codex/config.toml", ".gemini/settings.json", ".gemini/.env")
    more = (".qwen/settings.json", ".qwen/.env", ".config/opencode/opencode.json", ".config/kilo/kilo.json")
    more += (".copilot/config.json", ".cline/data/settings/providers.json")
    return {name: (home / name).read_bytes() for name in (*configs, *more) if (home / name).exists()}
