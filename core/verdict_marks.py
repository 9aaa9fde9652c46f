"""How a flagged day's verdict is marked on every chart (the report's SVG, the email's PNG):
a colour and a letter each, so a mark reads in colour, in print and in the legend alike.

The keys are transforms.verdicts.VERDICTS (the words beside them come from there too).
"""

from __future__ import annotations

from typing import NamedTuple


class VerdictMark(NamedTuple):
    colour: str  # "#rrggbb"
    letter: str  # drawn beside the mark, for print and colour blindness


VERDICT_MARKS: dict[str, VerdictMark] = {
    "suspected_purchase": VerdictMark("#dc2626", "P"),
    "unexplained": VerdictMark("#d97706", "U"),
    "organic": VerdictMark("#16a34a", "O"),
    "platform_event": VerdictMark("#7c3aed", "E"),
    "data_artifact": VerdictMark("#6b7280", "A"),
    "data_gap": VerdictMark("#0891b2", "G"),
    "pending": VerdictMark("#be185d", "W"),
}
UNKNOWN_MARK = VerdictMark("#111827", "?")


def verdict_mark(verdict: str | None) -> VerdictMark:
    return VERDICT_MARKS.get(verdict or "", UNKNOWN_MARK)


def rgb(colour: str) -> tuple[int, int, int]:
    """ "#rrggbb" as its three bytes."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
