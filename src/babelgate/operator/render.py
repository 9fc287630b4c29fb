"""How the operator commands draw: one console for answers (stdout) and one for problems (stderr),
rich tables in one style, and the numbers formatted alike everywhere (counts, dollars, milliseconds)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Piped or captured, tables keep their full width (rich would squeeze them into 80 columns) unless
# COLUMNS says otherwise.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
# No emoji codes: an answer's ":smile:" is printed as the model wrote it.
out = Console(highlight=False, emoji=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, emoji=False)

CIRCUIT_STYLE = {"closed": "green", "open": "bold red", "half_open": "yellow"}
STATE_STYLE = {
    "ok": "green",
    "active": "green",
    "cooling_down": "yellow",
    "unreachable": "red",
    "credentials": "red",
    "revoked": "dim",
}


def table(*columns: str, title: str | None = None) -> Table:
    """A table in the commands' style; a column named with a leading '>' is right-aligned (numbers)."""
    drawn = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=None,
        pad_edge=False,
        show_edge=False,
        padding=(0, 2, 0, 0),
    )
    for column in columns:
        drawn.add_column(
            column.lstrip(">"), justify="right" if column.startswith(">") else "left", no_wrap=column.startswith(">")
        )
    return drawn


def print_json(value: Any) -> None:
    """What --json prints: the API's answer, indented, alone on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def problem(message: str) -> None:
    err.print(compose("[bold red]error:[/] ", literal(message)))


def literal(value: str, style: str = "") -> Text:
    """`value` as it was written, never read as markup or emoji codes: an answer, a label, a message
    (escaping cannot do that in every place: rich's escape doubles a trailing backslash, right only
    where a tag follows)."""
    return Text(value, style=style)


def compose(*parts: str | Text) -> Text:
    """One line of markup written here (`str`) and values as written (`Text`)."""
    return Text.assemble(*(Text.from_markup(part, emoji=False) if isinstance(part, str) else part for part in parts))


def count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def styled(value: str, styles: dict[str, str]) -> Text:
    return Text(value, style=styles.get(value, ""))
