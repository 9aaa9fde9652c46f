"""The CSV history format of DESIGN.md: its columns, and the frame its problems are listed in."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

REQUIRED = ("platform", "handle", "date", "followers")
OPTIONAL = ("following", "posts", "views")
COUNTS = ("followers", "following", "posts", "views")
KEY = ("platform", "handle", "day")


def given(column: str) -> str:
    """The flag column that says whether the row's file has `column` at all."""
    return f"{column}_given"


GIVEN = tuple(given(c) for c in OPTIONAL)

Progress = Callable[[int], None]  # called with the number of bytes just read

# the problems of a call: one row per problem; an error lists the first SHOWN_PROBLEMS
SHOWN_PROBLEMS = 20
PROBLEM_SCHEMA = {"file": pl.String, "line": pl.Int64, "field": pl.String, "reason": pl.String}
