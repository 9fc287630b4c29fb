"""Text a stream builds piece by piece and reads whole only when an item closes.

`text += piece` on an attribute copies the whole text every time (CPython extends a string in place
only when it is a local variable), so a long stream turns quadratic: 32,000 deltas into one attribute
cost about half a second of the event loop here, in a list about 5 ms.
"""

from __future__ import annotations


class TextPieces:
    __slots__ = ("_pieces",)

    def __init__(self) -> None:
        self._pieces: list[str] = []

    def add(self, piece: str) -> None:
        self._pieces.append(piece)

    def text(self) -> str:
        pieces = self._pieces
        if len(pieces) > 1:
            pieces[:] = ["".join(pieces)]  # read more than once (done events, the item): joined once
        return pieces[0] if pieces else ""
