"""What each coding agent needs to talk to a gateway: environment variables, configuration files in a
directory of the launcher's own, and command-line arguments, so that nothing in the user's own agent
configuration changes (`babelgate launch`, docs/cli.md). `--write-config` writes the lasting form into
the agent's own configuration instead (`user_config`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from babelgate.operator.launch_checks import (
    claude_refusal,
    codex_refusal,
    gemini_settings_refusal,
    gemini_user_selects_api_key,
)

PROVIDER_ID: Final = "babelgate"  # the provider / profile name written into agents' configurations
KEY_ENV: Final = "BABELGATE_API_KEY"  # where Codex, opencode and Kilo read the key from (their config names it)


@dataclass(frozen=True, slots=True)
class Target:
    """The gateway an agent is pointed at: its base URL (no `/v1`), the key, the model, and the
    gateway's other chat models (opencode lists them to switch between)."""

    url: str
    key: str
    model: str
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Setup:
    env: dict[str, str]  # set for the agent's process
    files: dict[str, str] = field(default_factory=dict)  # name in the launcher's directory → content
    args: tuple[str, ...] = ()  # before the user's own (`--` …)
    unset: tuple[str, ...] = ()  # the user's variables that would override the gateway's
    refusal: str | None = None  # what the agent would refuse of this setup, said instead of starting it


@dataclass(frozen=True, slots=True)
class Agent:
    name: str  # as `babelgate launch NAME` takes it
    title: str
    binary: str  # found on PATH unless --agent-path
    prefers: tuple[str, ...]  # the default model: the first listed model whose name holds one of these, in order
    setup: Callable[[Target, Path], Setup]  # the target, the launcher's directory for its files
    # home → files written by --write-config; None: the agent reads its provider from the environment only
    user_config: Callable[[Target, Path], dict[Path, str]] | None
    # What the agent would refuse of the user's own arguments (after `--`) in this environment, or None.
    refuses: Callable[[Sequence[str], Mapping[str, str]], str | None] | None = None


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _merged_json(path: Path, update: dict[str, Any]) -> str:
    """`path`'s JSON object with `update` merged in (nested objects merged key by key)."""
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = {}
    if not isinstance(current, dict):
        current = {}

    def merge(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        for name, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(name), dict):
                merge(into[name], value)
            else:
                into[name] = value
        return into

    return _json(merge(current, update))


def _merged_env_file(path: Path, values: dict[str, str]) -> str:
    """A `.env` file with `values` set (their old lines replaced, every other line kept)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    kept = [line for line in lines if line.split("=", 1)[0].strip().removeprefix("export ").strip() not in values]
    return "\n".join([*kept, *(f"{name}={value}" for name, value in values.items())]) + "\n"


# -- Claude Code: the Messages API -------------------------------------------------------------------


def _claude_env(target: Target) -> dict[str, str]:
    # A bearer token (not ANTHROPIC_API_KEY): Claude Code asks before it uses a custom API key, not a token.
    # Every model tier and the side queries go to the chosen model: the gateway may know no Claude names.
    model = target.model
    return {
        "ANTHROPIC_BASE_URL": target.url,
        "ANTHROPIC_AUTH_TOKEN": target.key,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
    }


def _claude(target: Target, _: Path) -> Setup:
    return Setup(env=_claude_env(target), unset=("ANTHROPIC_API_KEY",))


def _claude_user(target: Target, home: Path) -> dict[Path, str]:
    path = home / ".claude" / "settings.json"
    return {path: _merged_json(path, {"env": _claude_env(target)})}


# -- Codex CLI: the Responses API through a model provider -------------------------------------------


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def _codex_provider(target: Target) -> dict[str, str]:
    return {
        "name": PROVIDER_ID,
        "base_url": f"{target.url}/v1",
        "env_key": KEY_ENV,
        "wire_api": "responses",
    }


def _codex(target: Target, _: Path) -> Setup:
    # `-c` overrides for this run: the user's CODEX_HOME (sign-in, sessions, settings) stays as it is.
    provider = _codex_provider(target)
    overrides = [f"model_providers.{PROVIDER_ID}.{name}={_toml(value)}" for name, value in provider.items()]
    overrides += [f"model_provider={_toml(PROVIDER_ID)}", f"model={_toml(target.model)}"]
    # `-c` is global: it reaches `codex exec …` after it as well as the interactive CLI.
    return Setup(env={KEY_ENV: target.key}, args=tuple(part for override in overrides for part in ("-c", override)))


def _codex_user(target: Target, home: Path) -> dict[Path, str]:
    """A profile of its own, `$CODEX_HOME/babelgate.config.toml` (Codex's profile files; it refuses the
    older `[profiles.*]` tables beside them): `codex --profile babelgate`, the key from
    $BABELGATE_API_KEY. The user's config.toml is not touched."""
    path = _codex_home(home) / f"{PROVIDER_ID}.config.toml"
    lines = [f"model = {_toml(target.model)}", f"model_provider = {_toml(PROVIDER_ID)}", ""]
    lines += [f"[model_providers.{PROVIDER_ID}]"]
    lines += [f"{name} = {_toml(value)}" for name, value in _codex_provider(target).items()]
    return {path: "\n".join(lines) + "\n"}


def _codex_home(home: Path) -> Path:
    configured = os.environ.get("CODEX_HOME")
    return Path(configured) if configured else home / ".codex"


# -- Gemini CLI and Qwen Code: settings files and .env -------------------------------------------------


def _gemini_env(target: Target) -> dict[str, str]:
    return {"GOOGLE_GEMINI_BASE_URL": target.url, "GEMINI_API_KEY": target.key}


def _gemini(target: Target, directory: Path) -> Setup:
    # System settings outrank the user's: the API-key sign-in for this run only. Gemini CLI takes such a
    # file only where root alone could have written it; elsewhere it needs the user's own settings to
    # select the API key already (or it asks for a Google sign-in, and headless it stops).
    settings = directory / "gemini-system-settings.json"
    env, files, refusal = {**_gemini_env(target), "GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(settings)}, {}, None
    skipped = gemini_settings_refusal(settings)
    if skipped is None:
        files = {settings.name: _json({"security": {"auth": {"selectedType": "gemini-api-key"}}})}
    else:
        del env["GEMINI_CLI_SYSTEM_SETTINGS_PATH"]
        if not gemini_user_selects_api_key():
            refusal = (
                f"{skipped}, so it would ask for a Google sign-in: select the API key in your own settings once "
                '(`babelgate launch gemini --write-config`, or security.auth.selectedType "gemini-api-key" '
                "in ~/.gemini/settings.json)"
            )
    return Setup(
        env=env,
        files=files,
        args=("--model", target.model),  # Gemini CLI reads no variable for the model
        unset=("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA"),
        refusal=refusal,
    )


def _gemini_user(target: Target, home: Path) -> dict[Path, str]:
    settings, env = home / ".gemini" / "settings.json", home / ".gemini" / ".env"
    return {
        settings: _merged_json(
            settings, {"security": {"auth": {"selectedType": "gemini-api-key"}}, "model": {"name": target.model}}
        ),
        env: _merged_env_file(env, {"GOOGLE_GEMINI_BASE_URL": target.url, "GEMINI_API_KEY": target.key}),
    }


def _qwen_env(target: Target) -> dict[str, str]:
    return {"OPENAI_BASE_URL": f"{target.url}/v1", "OPENAI_API_KEY": target.key, "OPENAI_MODEL": target.model}


def _qwen(target: Target, _: Path) -> Setup:
    return Setup(env=_qwen_env(target), args=("--auth-type", "openai", "--model", target.model))


def _qwen_user(target: Target, home: Path) -> dict[Path, str]:
    settings, env = home / ".qwen" / "settings.json", home / ".qwen" / ".env"
    return {
        settings: _merged_json(
            settings, {"security": {"auth": {"selectedType": "openai"}}, "model": {"name": target.model}}
        ),
        env: _merged_env_file(env, _qwen_env(target)),
    }


# -- opencode and Kilo Code (an opencode fork): a provider on the AI SDK's OpenAI-compatible package ----


def _opencode_config(target: Target, api_key: str, schema: str = "https://opencode.ai/config.json") -> dict[str, Any]:
    # Every chat model of the gateway, to switch to in the agent; the chosen one first if it is not listed.
    names = target.models if target.model in target.models else (target.model, *target.models)
    return {
        "$schema": schema,
        "provider": {
            PROVIDER_ID: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "babelgate",
                "options": {"baseURL": f"{target.url}/v1", "apiKey": api_key},
                "models": {name: {"name": name} for name in names},
            }
        },
        "model": f"{PROVIDER_ID}/{target.model}",
    }


def _opencode(target: Target, directory: Path) -> Setup:
    # OPENCODE_CONFIG is merged over the user's own configuration; the key stays in the environment.
    config = directory / "opencode.json"
    return Setup(
        env={KEY_ENV: target.key, "OPENCODE_CONFIG": str(config)},
        files={config.name: _json(_opencode_config(target, "{env:" + KEY_ENV + "}"))},
    )  # no `--model`: it would have to follow `run`; the configuration's `model` is the default


def _opencode_user(target: Target, home: Path) -> dict[Path, str]:
    path = home / ".config" / "opencode" / "opencode.json"
    return {path: _merged_json(path, _opencode_config(target, target.key))}


KILO_SCHEMA: Final = "https://app.kilo.ai/config.json"


def _kilo(target: Target, directory: Path) -> Setup:
    # opencode's provider configuration under Kilo's names: KILO_CONFIG is merged over the user's own.
    config = directory / "kilo.json"
    return Setup(
        env={KEY_ENV: target.key, "KILO_CONFIG": str(config)},
        files={config.name: _json(_opencode_config(target, "{env:" + KEY_ENV + "}", KILO_SCHEMA))},
        unset=("KILO_CONFIG_CONTENT",),  # inline configuration, merged over KILO_CONFIG's file
    )


def _kilo_user(target: Target, home: Path) -> dict[Path, str]:
    path = home / ".config" / "kilo" / "kilo.json"
    return {path: _merged_json(path, _opencode_config(target, target.key, KILO_SCHEMA))}


# -- GitHub Copilot CLI: its own-provider ("BYOK") variables, no GitHub sign-in ------------------------

# The user's own provider settings that would change where, how or as what model Copilot calls.
COPILOT_PROVIDER_UNSET: Final = (
    "COPILOT_PROVIDER_BEARER_TOKEN",  # both take precedence over COPILOT_PROVIDER_API_KEY
    "COPILOT_PROVIDER_API_KEY_COMMAND",
    "COPILOT_PROVIDER_HEADERS",
    "COPILOT_PROVIDER_MODEL_ID",
    "COPILOT_PROVIDER_WIRE_MODEL",
    "COPILOT_PROVIDER_TRANSPORT",
    "COPILOT_PROVIDER_AZURE_API_VERSION",
    "COPILOT_PROVIDER_GHES_HOST",
)


def _copilot(target: Target, _: Path) -> Setup:
    # COPILOT_PROVIDER_BASE_URL alone switches Copilot to a provider of the user's, with no GitHub sign-in.
    # The chat API: every model of the gateway takes it (the Responses API is Copilot's choice for GPT-5).
    return Setup(
        env={
            "COPILOT_PROVIDER_BASE_URL": f"{target.url}/v1",
            "COPILOT_PROVIDER_TYPE": "openai",
            "COPILOT_PROVIDER_WIRE_API": "completions",
            "COPILOT_PROVIDER_API_KEY": target.key,
            "COPILOT_MODEL": target.model,
        },
        args=("--model", target.model),  # over a `model` in the user's ~/.copilot/config.json
        unset=COPILOT_PROVIDER_UNSET,
    )


# -- Cline CLI: its provider settings file, named by CLINE_PROVIDER_SETTINGS_PATH -------------------------

CLINE_PROVIDER: Final = "openai-compatible"


def _cline_settings(target: Target) -> dict[str, Any]:
    # The shape `cline auth -p openai -k … -m … -b …` writes into ~/.cline/data/settings/providers.json.
    # Cline skips an entry without `updatedAt` (and then calls no one: "Cannot connect to API").
    settings = {"provider": CLINE_PROVIDER, "apiKey": target.key, "model": target.model, "baseUrl": f"{target.url}/v1"}
    updated = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "version": 1,
        "lastUsedProvider": CLINE_PROVIDER,
        "modes": {},
        "providers": {CLINE_PROVIDER: {"settings": settings, "updatedAt": updated, "tokenSource": "manual"}},
    }


def _cline(target: Target, directory: Path) -> Setup:
    # Only the provider settings are the launcher's: sessions, history and the rest stay in the user's ~/.cline.
    # The session runs in Cline's own process: by default it goes to a background "hub" that outlives the run
    # and serves every later `cline` with the environment of the one that started it (this run's settings
    # file, gone once it ends).
    settings = directory / "cline-providers.json"
    return Setup(
        env={"CLINE_PROVIDER_SETTINGS_PATH": str(settings), "CLINE_SESSION_BACKEND_MODE": "local"},
        files={settings.name: _json(_cline_settings(target))},
        args=("--provider", CLINE_PROVIDER, "--model", target.model),
        unset=("CLINE_PROVIDER", "CLINE_MODEL", "CLINE_API_KEY"),
    )


def _cline_user(target: Target, home: Path) -> dict[Path, str]:
    data = os.environ.get("CLINE_DATA_DIR") or Path(os.environ.get("CLINE_DIR") or home / ".cline") / "data"
    path = Path(data) / "settings" / "providers.json"
    return {path: _merged_json(path, _cline_settings(target))}


AGENTS: Final = {
    agent.name: agent
    for agent in (
        Agent("claude", "Claude Code", "claude", ("claude-sonnet", "claude"), _claude, _claude_user, claude_refusal),
        Agent(
            "codex",
            "Codex CLI",
            "codex",
            ("gpt-5", "codex", "gpt-4.1", "gpt-4o", "gpt"),
            _codex,
            _codex_user,
            codex_refusal,
        ),
        Agent("gemini", "Gemini CLI", "gemini", ("gemini-2.5-pro", "gemini"), _gemini, _gemini_user),
        Agent("opencode", "opencode", "opencode", ("claude-sonnet", "gpt-5", "gemini"), _opencode, _opencode_user),
        Agent("qwen", "Qwen Code", "qwen", ("qwen3-coder", "qwen"), _qwen, _qwen_user),
        Agent("copilot", "GitHub Copilot CLI", "copilot", ("claude-sonnet", "gpt-5", "gpt-4.1"), _copilot, None),
        Agent("kilo", "Kilo Code CLI", "kilo", ("claude-sonnet", "gpt-5", "gemini"), _kilo, _kilo_user),
        Agent("cline", "Cline CLI", "cline", ("claude-sonnet", "gpt-5", "gemini"), _cline, _cline_user),
    )
}
# Other names users type for the same agents.
ALIASES: Final = {
    "claude-code": "claude",
    "codex-cli": "codex",
    "gemini-cli": "gemini",
    "qwen-code": "qwen",
    "copilot-cli": "copilot",
    "github-copilot": "copilot",
    "kilocode": "kilo",
    "kilo-code": "kilo",
    "cline-cli": "cline",
}
