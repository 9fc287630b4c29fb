"""What an agent would refuse about the way `babelgate launch` starts it, found before it starts, so that
launch says so in one line instead of the agent failing later with its own message (or, worse, silently
ignoring launch's configuration and asking for a sign-in). Each check follows the agent's own code, read
from its pinned release (docs/agents.md names the versions).
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path


def gemini_settings_refusal(path: Path) -> str | None:
    """Why Gemini CLI would skip a system settings file at `path`, or None. It reads one only if the file
    and every directory above it are owned by root and writable by neither group nor others (it says
    "Security Warning: Skipping system settings file" and goes on without it); the file is launch's own,
    so it is owned by whoever runs launch."""
    if os.geteuid() != 0:
        return f"Gemini CLI takes a system settings file only if root owns it, and launch runs as uid {os.geteuid()}"
    for directory in (path.parent, *path.parent.parents):
        try:
            found = directory.stat()
        except OSError:
            continue  # not there yet: launch makes it, as root, writable by root alone
        if found.st_uid != 0:
            return (
                f"Gemini CLI takes a system settings file only under directories root owns, "
                f"and {directory} is owned by uid {found.st_uid}"
            )
        if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return (
                f"Gemini CLI takes a system settings file only under directories no one else can write, "
                f"and {directory} has mode {stat.S_IMODE(found.st_mode):o}"
            )
    return None


def gemini_user_selects_api_key() -> bool:
    """The user's own Gemini CLI settings already sign in with an API key (the one launch sets)."""
    home = Path(os.environ.get("GEMINI_CLI_HOME") or Path.home())
    try:
        settings = json.loads((home / ".gemini" / "settings.json").read_text())
    except (OSError, ValueError):
        return False
    auth = ((settings.get("security") if isinstance(settings, dict) else None) or {}).get("auth") or {}
    return isinstance(auth, dict) and auth.get("selectedType") == "gemini-api-key"


def claude_refusal(args: Sequence[str], env: Mapping[str, str]) -> str | None:
    """Claude Code refuses to skip its permission prompts as root unless the environment says the machine
    is a deliberate sandbox (IS_SANDBOX=1, or its bubblewrap sandbox)."""
    bypass = "--dangerously-skip-permissions" in args or "--permission-mode=bypassPermissions" in args
    bypass = bypass or ("--permission-mode", "bypassPermissions") in itertools.pairwise(args)
    if not bypass or os.geteuid() != 0 or env.get("IS_SANDBOX") == "1" or env.get("CLAUDE_CODE_BUBBLEWRAP"):
        return None
    return (
        "Claude Code refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1 says this machine is "
        "a sandbox: set IS_SANDBOX=1 if it is, or run as another user"
    )


CODEX_EXEC_UNCHECKED = frozenset({"--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--yolo"})


def codex_refusal(args: Sequence[str], env: Mapping[str, str]) -> str | None:
    """Codex's `exec` refuses to start outside a Git repository ("Not inside a trusted directory and
    --skip-git-repo-check was not specified") unless told to, or unless approvals and the sandbox are
    bypassed, or the directory is trusted in its config.toml. Said only when sure: a trusted ancestor,
    or a configuration that cannot be read, lets it through to Codex's own judgement."""
    if not args or args[0] not in ("exec", "e") or CODEX_EXEC_UNCHECKED.intersection(args):
        return None
    directory = Path.cwd()  # or exec's -C / --cd, relative to it
    for first, second in itertools.pairwise(args):
        if first in ("-C", "--cd"):
            directory = directory / second
    for arg in args:
        if arg.startswith("--cd="):
            directory = directory / arg.removeprefix("--cd=")
    directory = directory.resolve()
    places = (directory, *directory.parents)
    if any((place / ".git").is_file() or (place / ".git" / "HEAD").is_file() for place in places):
        return None
    config = Path(env.get("CODEX_HOME") or Path.home() / ".codex") / "config.toml"
    try:
        projects = (tomllib.loads(config.read_text()).get("projects") if config.exists() else None) or {}
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(projects, dict):
        return None
    if any(
        isinstance(projects.get(str(place)), dict) and projects[str(place)].get("trust_level") == "trusted"
        for place in places
    ):
        return None
    return (
        f"Codex's exec refuses to run outside a Git repository ({directory} is in none): pass "
        "--skip-git-repo-check after exec, or trust the directory in Codex's config.toml"
    )
