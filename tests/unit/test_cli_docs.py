"""Every `babelgate …` command line the docs show parses with the CLI's own parser, as written (parsed
only, never run); `babelgate --version` names the installed version.

A command line is a line of a fenced shell block (```sh, bash, shell, console, zsh) or a `$ `-prompted line
of any fenced block, split into its commands at pipes, `&&`, `||` and `;`, whose command word is
`babelgate` (after `VAR=value` assignments; any path to it). Unprompted lines of plain blocks are usage
synopses (`[--json]`, `A | B`), not command lines."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from babelgate.cli import main, parse

ROOT = Path(__file__).parents[2]
SHELLS = frozenset({"sh", "bash", "shell", "console", "zsh"})
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w-]*)")
SEPARATORS = frozenset({"|", "||", "&&", ";", "&"})
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class CommandLine:
    where: str
    argv: list[str]

    def __str__(self) -> str:
        return f"{self.where}: babelgate {shlex.join(self.argv)}"


def _shell_lines(text: str) -> list[tuple[int, str, bool]]:
    """(line number, line with its continuations joined, whether it is in a shell block) of fenced blocks."""
    found: list[tuple[int, str, bool]] = []
    fence: str | None = None
    shell = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if opened and (fence is None or opened.group(1).startswith(fence)):
            fence, shell = (opened.group(1), opened.group(2).lower() in SHELLS) if fence is None else (None, False)
            continue
        if fence is None:
            continue
        start, joined = pending if pending is not None else (number, "")
        joined += line.rstrip()
        if joined.endswith("\\"):
            pending = (start, joined[:-1] + " ")
            continue
        pending = None
        found.append((start, joined, shell))
    return found


def _commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def command_lines(path: Path) -> list[CommandLine]:
    found: list[CommandLine] = []
    for number, line, shell in _shell_lines(path.read_text(encoding="utf-8")):
        text = line.strip()
        if text.startswith("$ "):
            text = text[2:]
        elif not shell:
            continue
        for command in _commands(text):
            while command and ASSIGNMENT.match(command[0]):
                command = command[1:]
            if command and command[0].rsplit("/", 1)[-1] == "babelgate":
                cut = [i for i, token in enumerate(command) if token.startswith((">", "<")) and len(token) <= 2]
                argv = command[1 : cut[0]] if cut else command[1:]
                found.append(CommandLine(f"{path.relative_to(ROOT)}:{number}", argv))
    return found


DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
LINES = [line for path in DOCS for line in command_lines(path)]


def test_the_docs_show_command_lines_to_check() -> None:
    where = {line.where.split(":")[0] for line in LINES}
    assert {"docs/mcp.md", "docs/cli.md", "README.md"} <= where, where
    assert any(line.argv[:2] == ["mcp", "add"] and "-y" in line.argv for line in LINES)


@pytest.mark.parametrize("line", LINES, ids=str)
def test_every_command_line_in_the_docs_parses_as_written(
    line: CommandLine, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        parse(line.argv)
    except SystemExit as exit:
        pytest.fail(f"{line} does not parse (exit {exit.code}): {capsys.readouterr().err.strip()}")


def test_a_stdio_server_argument_may_look_like_an_option() -> None:
    args = parse(
        ["mcp", "add", "files", "npx", "--arg", "-y", "--arg", "@scope/pkg", "--arg=--verbose", "--arg", "/srv"]
    )
    assert args.command_args == ["-y", "@scope/pkg", "--verbose", "/srv"]
    # What follows `launch`'s `--` is the agent's, untouched.
    launched = parse(["launch", "claude", "--model", "m", "--", "--arg", "-y"])
    assert launched.agent_args == ["--arg", "-y"]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"babelgate {version('babelgate')}\n"
