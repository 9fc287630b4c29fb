"""The operator commands' place in `babelgate`'s command line, and their shared options."""

from __future__ import annotations

import argparse
from typing import Any

from babelgate.operator.chat import add_chat
from babelgate.operator.directory import add_directory
from babelgate.operator.keys import add_keys
from babelgate.operator.launch import add_launch
from babelgate.operator.mcp import add_mcp
from babelgate.operator.models import add_models
from babelgate.operator.usage import add_usage


def _options(*, admin: bool, inherited: bool) -> argparse.ArgumentParser:
    """--url and --json (and --master-key for the admin API). `inherited`: options a level below the
    command may repeat (`keys --url U list` and `keys list --url U` both work), with no default of
    their own that would override the upper one's."""
    options = argparse.ArgumentParser(add_help=False)
    default: Any = argparse.SUPPRESS if inherited else None
    options.add_argument(
        "--url", default=default, help="the gateway (default: $BABELGATE_URL, else http://127.0.0.1:8080)"
    )
    options.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if inherited else False,
        help="print JSON alone on stdout, for scripts (the API's answer; chat: a summary object)",
    )
    if admin:
        options.add_argument("--master-key", default=default, help="the master key (default: $BABELGATE_MASTER_KEY)")
    return options


def add_operator_commands(commands: Any) -> None:
    add_chat(commands, _options(admin=False, inherited=False))
    admin = _options(admin=True, inherited=False)
    add_models(commands, admin)
    add_usage(commands, admin)
    add_keys(commands, admin, _options(admin=True, inherited=True))
    add_launch(commands)  # a coding agent against a gateway
    add_mcp(commands, admin, _options(admin=True, inherited=True))
    add_directory(commands, admin, _options(admin=True, inherited=True))
