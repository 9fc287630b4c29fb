"""The feature matrix in docs/providers.md is the one the code declares (run `make docs` to update)."""

from __future__ import annotations

from pathlib import Path

from babelgate.providers.matrix import END, START, render_matrix, replace_matrix

DOC = Path(__file__).parents[2] / "docs" / "providers.md"


def test_docs_matrix_matches_the_declared_capabilities() -> None:
    document = DOC.read_text("utf-8")
    assert replace_matrix(document) == document, "docs/providers.md is stale: run `make docs`"


def test_matrix_has_a_row_per_provider_type() -> None:
    rows = render_matrix().splitlines()
    assert rows[0].startswith("| provider type | text | stream | tools |")
    assert [row.split("|")[1].strip() for row in rows[2:]] == [
        "`openai`",
        "`anthropic`",
        "`gemini`",
        "`mistral`",
        "`bedrock`",
        "`vertex`",
        "`azure`",
        "`cohere`",
    ]
    assert START in DOC.read_text("utf-8") and END in DOC.read_text("utf-8")
