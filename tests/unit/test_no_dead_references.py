"""No tracked file cites what a clone does not have: the planning folder beside the repository, numbered
decisions or numbered work items. A reason belongs where it is used, or in docs/decisions.md, cited by its
section's title."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The planning folder's name, spelled in pieces so this file does not itself cite it.
PLANNING = ".." + "/" + "shared"
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Each pattern, a quick test a text must pass before the pattern is worth running (the patterns start with a
# class or a look-behind, which are slow over every byte of the tree), and what to write instead. A GitHub
# reference with its repository (`owner/name#123`) names something anyone can open and is not matched.
DEAD: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (
        re.compile(re.escape(PLANNING) + r"\b"),
        re.compile(re.escape(PLANNING)),
        "the planning folder beside the repository",
    ),
    (
        re.compile(r"\b(?:TRANSLATION|DECISIONS|ARCHITECTURE|STYLE)\.md\b"),
        re.compile(r"[A-Z]\.md"),
        "a planning document beside the repository: docs/ holds what a reader needs",
    ),
    (
        re.compile(r"\bDECISIONS(?:\.md)?(?:,? item)? ?§? ?\d+"),
        re.compile("DECISIONS"),
        "a numbered decision: cite docs/decisions.md's section",
    ),
    (re.compile(r"\b[Ii]ssues? #?\d+\b"), re.compile("ssues? #?[0-9]"), "a numbered work item: say the reason instead"),
    (
        re.compile(r"(?<![\w/.#&-])(?:PR|[Tt]icket|[Ff]ixes|[Cc]loses|see|in) ?#\d+\b"),
        re.compile("#[0-9]"),
        "a numbered work item",
    ),
    (re.compile(r"\(#\d+\)"), re.compile(r"\(#"), "a numbered work item"),
)


def tracked_text_files() -> list[Path]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing says which files are tracked")
    listed = subprocess.run([git, "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True, timeout=30)
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name and name != THIS]


def dead_references(text: str) -> list[tuple[int, str, str]]:
    """(line number, the match, what it is) for each dead reference in `text`."""
    found = [
        (text.count("\n", 0, match.start()) + 1, match.group(0), what)
        for pattern, quick, what in DEAD
        if quick.search(text)
        for match in pattern.finditer(text)
    ]
    return sorted(found)


def test_the_patterns_catch_each_kind_and_spare_public_references() -> None:
    caught = f"see {PLANNING}/ARCHITECTURE.md; DECISIONS 9; DECISIONS.md item 2; issue 29; Issue 33's; (#12); fixes #4"
    assert {match for _, match, _ in dead_references(caught + "; TRANSLATION.md §2.4")} == {
        PLANNING,
        "ARCHITECTURE.md",
        "DECISIONS.md",
        "TRANSLATION.md",
        "DECISIONS 9",
        "DECISIONS.md item 2",
        "issue 29",
        "Issue 33",
        "(#12)",
        "fixes #4",
    }
    spared = "mypyc/mypyc#1114, openai/gpt-4o#1, a session's first request, the tissue 3, `#4 response.output_text`"
    spared += ", docs/architecture.md, README.md"
    assert dead_references(spared) == []


def test_no_tracked_file_cites_a_dead_reference() -> None:
    problems = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue  # binary, a submodule, or deleted in the working tree
        relative = path.relative_to(ROOT).as_posix()
        problems.extend(f"{relative}:{line}: {match!r} ({what})" for line, match, what in dead_references(text))
    assert not problems, "dead references:\n" + "\n".join(problems)
