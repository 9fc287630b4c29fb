"""The provider feature matrix of `docs/providers.md`, generated from declared capabilities.

`python -m babelgate.providers.matrix --write docs/providers.md` rewrites the table between its
markers; a test fails when the document and the code disagree, so the table cannot drift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from babelgate.providers import PROVIDER_TYPES

START: Final = "<!-- capability-matrix:start -->"
END: Final = "<!-- capability-matrix:end -->"
COLUMNS: Final = (
    ("text", "text"),
    ("streaming", "stream"),
    ("tools", "tools"),
    ("streamed_tools", "streamed tools"),
    ("structured_output", "structured output"),
    ("images_in", "images in"),
    ("images_out", "images out"),
    ("audio_in", "audio in"),
    ("reasoning", "reasoning"),
    ("embeddings", "embeddings"),
    ("image_generation", "image generation"),
    ("image_edits", "image edits"),
    ("transcription", "transcription"),
    ("speech", "speech"),
    ("rerank", "rerank"),
    ("moderations", "moderations"),
    ("count_tokens", "token counts"),
    ("batch", "batch API"),
    ("hosted_tools", "hosted tools"),
)


def render_matrix() -> str:
    header = "| provider type | " + " | ".join(title for _, title in COLUMNS) + " |"
    rows = [header, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, declaration in PROVIDER_TYPES.items():
        capabilities = declaration.factory.capabilities  # type: ignore[attr-defined]
        marks = [_mark(getattr(capabilities, field)) for field, _ in COLUMNS]
        rows.append(f"| `{name}` | " + " | ".join(marks) + " |")
    return "\n".join(rows)


def _mark(value: object) -> str:
    """✓ or — for a flag; the names, for a set (the hosted tools a provider maps)."""
    if isinstance(value, frozenset):
        return ", ".join(f"`{name}`" for name in sorted(value)) or "—"
    return "✓" if value else "—"


def replace_matrix(document: str) -> str:
    before, start, rest = document.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the document has no {START} … {END} markers")
    return f"{before}{START}\n{render_matrix()}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="rewrite the matrix in this Markdown file")
    args = parser.parse_args(argv)
    if args.write is None:
        print(render_matrix())
        return 0
    args.write.write_text(replace_matrix(args.write.read_text("utf-8")), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
