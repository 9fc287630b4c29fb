"""`babelgate launch AGENT`: start a coding agent (Claude Code, Codex CLI, Gemini CLI, opencode, Qwen Code,
GitHub Copilot CLI, Kilo Code CLI, Cline CLI) against a gateway, with a key and a model of that gateway,
leaving the user's own agent configuration as it is; `--print` shows what it would set instead,
`--write-config` writes it into the agent's own configuration (docs/cli.md). What each agent needs is in
launch_agents.py.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Final

from babelgate.operator.client import Failed, Gateway, UsageError, gateway_url
from babelgate.operator.launch_agents import AGENTS, ALIASES, Agent, Setup, Target
from babelgate.operator.render import problem

KEY_ENV: Final = "BABELGATE_API_KEY"
MASTER_ENV: Final = "BABELGATE_MASTER_KEY"
CONFIG_ENV: Final = "BABELGATE_CONFIG"
NO_KEY: Final = "babelgate"  # what an agent is given for a gateway that asks for no key (none accepts an empty one)
# Models no coding agent can chat with, known by their names where the listing does not say.
NOT_CHAT: Final = ("embed", "tts", "whisper", "transcribe", "dall-e", "image", "moderation", "rerank")


def add_launch(commands: Any) -> None:
    launch = commands.add_parser(
        "launch",
        help=f"start a coding agent against a gateway ({', '.join(AGENTS)})",
        description=__doc__,
        epilog="Arguments after `--` go to the agent: babelgate launch codex -- exec 'fix the tests'",
    )
    launch.add_argument("agent", choices=sorted([*AGENTS, *ALIASES]), metavar="agent", help=", ".join(AGENTS))
    launch.add_argument(
        "--gateway",
        help="the gateway's URL (default: $BABELGATE_URL, else the address in the config (--config), "
        "else http://127.0.0.1:8080)",
    )
    launch.add_argument("--config", help=f"the gateway's config file, for its address (default: ${CONFIG_ENV})")
    launch.add_argument("--key", help=f"a gateway key (default: ${KEY_ENV}, else a new virtual key)")
    launch.add_argument(
        "--master-key", help=f"the master key, to make a new virtual key for the agent (default: ${MASTER_ENV})"
    )
    launch.add_argument("--model", help="the model (default: the agent's preference among the gateway's models)")
    launch.add_argument("--agent-path", help="the agent's executable (default: found on PATH)")
    shown = launch.add_mutually_exclusive_group()
    shown.add_argument("--print", action="store_true", help="print the environment and configuration, run nothing")
    shown.add_argument(
        "--write-config", action="store_true", help="write the gateway into the agent's own configuration, run nothing"
    )
    launch.set_defaults(func=run_launch)


def run_launch(args: argparse.Namespace) -> int:
    agent = AGENTS[ALIASES.get(args.agent, args.agent)]
    extra = list(getattr(args, "agent_args", ()))  # cli.main sets it: what followed `--`
    if args.write_config and agent.user_config is None:
        problem(
            f"{agent.title} reads its provider from the environment only, no configuration file: "
            f"run it with `babelgate launch {agent.name}`, or set what `--print` shows in your shell's profile"
        )
        return 2
    try:
        binary = None if args.print or args.write_config else _binary(agent, args.agent_path)
        url = gateway_url(
            args.gateway
            or os.environ.get("BABELGATE_URL")
            or _configured_address(args.config or os.environ.get(CONFIG_ENV))
        )
        key = _key(args, url, agent)
        models = chat_models(Gateway(url, key=key))
        model = args.model or default_model(agent, models)
    except UsageError as wrong:
        problem(str(wrong))
        return 2
    except Failed as failed:
        problem(str(failed))
        return 1
    target = Target(url, key, model, tuple(models))
    if args.write_config:
        assert agent.user_config is not None
        for path, text in agent.user_config(target, Path.home()).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            # A new file may hold the key: the user's alone (an existing one keeps its mode).
            path.touch(mode=0o600, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
        return 0
    if args.print:
        directory = _print_directory(agent)
        setup = agent.setup(target, directory)
        if setup.refusal:
            problem(setup.refusal)
            return 1
        _write_files(setup, directory)
        print(describe(agent, setup, directory, extra))
        return 0
    assert binary is not None
    refused = agent.refuses(extra, os.environ) if agent.refuses else None
    if refused:
        problem(refused)
        return 1
    # Not the system's temporary directory: Gemini CLI skips a settings file under a world-writable one.
    _launch_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{agent.name}-", dir=_launch_root()) as temporary:
        directory = Path(temporary)
        setup = agent.setup(target, directory)
        if setup.refusal:
            problem(setup.refusal)
            return 1
        _write_files(setup, directory)
        return run_agent([binary, *setup.args, *extra], environment(setup, os.environ))


def run_agent(argv: list[str], env: dict[str, str]) -> int:
    """The agent in the foreground, as a shell runs it: Ctrl-C is the agent's to handle (the terminal
    sends it the signal itself; the launcher ignores it and waits), a SIGTERM or SIGHUP to the launcher is
    passed on. Its exit code, or 128 + the signal that ended it."""
    child = subprocess.Popen(argv, env=env)

    def forward(signum: int, _: FrameType | None) -> None:
        child.send_signal(signum)

    handlers: dict[signal.Signals, signal.Handlers | Callable[[int, FrameType | None], None]] = {
        signal.SIGINT: signal.SIG_IGN,
        signal.SIGTERM: forward,
        signal.SIGHUP: forward,
    }
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def environment(setup: Setup, current: Mapping[str, str]) -> dict[str, str]:
    """The agent's environment: the current one with the setup's variables, and without those of the
    user's that would override them."""
    env = {name: value for name, value in current.items() if name not in setup.unset}
    env.update(setup.env)
    return env


def describe(agent: Agent, setup: Setup, directory: Path, extra: Sequence[str]) -> str:
    """What `--print` shows: the files, then the shell lines that run the agent as `launch` would."""
    lines = [f"# {agent.title} against the gateway"]
    for name, text in setup.files.items():
        lines += [f"# {directory / name}:", *(f"#   {line}" for line in text.splitlines())]
    lines += [f"unset {name}" for name in setup.unset]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in setup.env.items()]
    lines.append(shlex.join([agent.binary, *setup.args, *extra]))
    return "\n".join(lines)


def chat_models(gateway: Gateway) -> list[str]:
    """The gateway's models an agent can chat with, in its listing's order."""
    listed = gateway.call("GET", "/v1/models").body.get("data")
    if not isinstance(listed, list):
        raise Failed("the gateway's /v1/models answered no list of models")
    return [str(model["id"]) for model in listed if isinstance(model, dict) and "id" in model and _chats(model)]


def _chats(model: dict[str, Any]) -> bool:
    outputs = model.get("output_modalities")
    if isinstance(outputs, list) and outputs and "text" not in outputs:
        return False
    name = str(model["id"]).lower()
    return not any(word in name for word in NOT_CHAT)


def default_model(agent: Agent, models: Sequence[str]) -> str:
    """The first of the agent's preferences the gateway has, else its first chat model."""
    for preferred in agent.prefers:
        found = next((model for model in models if preferred in model.lower()), None)
        if found is not None:
            return found
    if not models:
        raise Failed("the gateway lists no chat model: pass --model")
    return models[0]


def _key(args: argparse.Namespace, url: str, agent: Agent) -> str:
    """--key, $BABELGATE_API_KEY, a new virtual key when the master key is at hand, or, for a gateway that
    asks for none, a placeholder."""
    key = args.key or os.environ.get(KEY_ENV)
    if key:
        return str(key)
    master = args.master_key or os.environ.get(MASTER_ENV)
    if master:
        return create_key(Gateway(url, key=master), agent)
    try:
        Gateway(url).call("GET", "/v1/models")
    except Failed as failed:
        if failed.status in (401, 403):
            raise UsageError(
                f"the gateway wants a key: pass --key (or set {KEY_ENV}), or give the master key "
                f"(--master-key or {MASTER_ENV}) to make one"
            ) from None
        raise
    return NO_KEY


def create_key(admin: Gateway, agent: Agent) -> str:
    """A new virtual key for the agent, made through the admin API; said on stderr, with its id."""
    made = admin.call("POST", "/admin/keys", {"label": f"babelgate launch {agent.name}"}).body
    print(
        f"made virtual key {made['id']} for {agent.title} (`babelgate keys revoke {made['id']}` ends it)",
        file=sys.stderr,
    )
    return str(made["key"])


def _binary(agent: Agent, given: str | None) -> str:
    found = shutil.which(given or agent.binary)
    if found is None:
        raise UsageError(
            f"{given or agent.binary} not found"
            + ("" if given else f" on PATH: install {agent.title} or pass --agent-path")
        )
    return found


def _configured_address(path: str | None) -> str | None:
    """The local gateway's address from its config file (server.host, server.port), a wildcard host
    reached on the loopback."""
    if not path:
        return None
    import yaml

    try:
        server = (yaml.safe_load(Path(path).read_text()) or {}).get("server") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    if not isinstance(server, dict):
        return None
    host = str(server.get("host") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{int(server.get('port') or 8080)}"


def _launch_root() -> Path:
    """Where launch keeps the files it hands an agent: its own cache, no agent's configuration."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "babelgate" / "launch"


def _print_directory(agent: Agent) -> Path:
    """Where `--print` leaves the files its lines name (they stay: the printed lines use them)."""
    return _launch_root() / agent.name


def _write_files(setup: Setup, directory: Path) -> None:
    if setup.files:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, text in setup.files.items():
        (directory / name).touch(mode=0o600)  # Cline's provider settings hold the key (it reads it from no variable)
        (directory / name).write_text(text)
