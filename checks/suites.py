"""The expectation suites, run on pandas frames in an ephemeral GX context.

GX 1.24 validates pandas (not Polars, and its DuckDB path is broken: docs/stack-notes.md §2),
so each check converts only the columns it needs. Suspicious growth is expressed as
`ExpectColumnValuesToBeBetween(<rule>_margin, max_value=1)`: a row whose margin is above 1
crossed every threshold of that rule, so GX's unexpected rows are the flagged days.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import polars as pl

from transforms.signals import RULES

MARGIN_LIMIT = 1.0


@dataclass
class CheckResult:
    """What one suite said: overall success, and per expectation what failed and how often."""

    suite: str
    success: bool
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": self.failed,
        }


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")  # never a gx/ folder on disk
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _expectations() -> Any:
    """The expectations module, imported late (GX is slow to import) and typed loosely."""
    import importlib

    return importlib.import_module("great_expectations.expectations")


@cache
def _batch(name: str) -> Any:
    context = _context()
    source = context.data_sources.add_pandas(f"{name}_source")
    return source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("whole")


def _run(name: str, frame: pl.DataFrame, expectations: list[Any], result_format: str) -> Any:
    import great_expectations as gx

    context = _context()
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=_batch(name), suite=suite)
    )
    return definition.run(
        batch_parameters={"dataframe": frame.to_pandas()}, result_format=result_format
    )


def _failures(result: Any) -> list[dict[str, Any]]:
    failed = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        failed.append(
            {
                "expectation": config.type,
                "kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                "unexpected_count": r.result.get("unexpected_count"),
                "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
            }
        )
    return failed


def validate_snapshots(snapshots: pl.DataFrame, as_of: date) -> CheckResult:
    """Types, ranges, one row per account and day, nothing from the future, and freshness."""
    gxe = _expectations()
    frame = snapshots.select(
        "platform",
        "handle",
        pl.col("day").cast(pl.Datetime("us")),
        "followers",
        "following",
        "posts",
        pl.col("observed_at").dt.replace_time_zone(None).alias("observed_at"),
    )
    latest = datetime(as_of.year, as_of.month, as_of.day, 23, 59, 59)
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column=c)
        for c in ("platform", "handle", "day", "followers")
    ] + [
        gxe.ExpectColumnValuesToBeBetween(column="followers", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="following", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="posts", min_value=0),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["platform", "handle", "day"]),
        gxe.ExpectColumnValuesToBeInSet(
            column="platform",
            value_set=[
                "mastodon",
                "bluesky",
                "github",
                "youtube",
                "x",
                "twitch",
                "reddit",
                "instagram",
            ],
        ),
        gxe.ExpectColumnValuesToBeBetween(column="day", max_value=latest),
        # freshness: the newest snapshot is no older than two days before the analysed day
        gxe.ExpectColumnMaxToBeBetween(
            column="day", min_value=datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=2)
        ),
    ]
    result = _run("snapshots", frame, expectations, "SUMMARY")
    return CheckResult("snapshots", bool(result.success), len(result.results), _failures(result))


def growth_expectations() -> list[Any]:
    """One expectation per rule: its margin stays at or below 1."""
    gxe = _expectations()
    return [
        gxe.ExpectColumnValuesToBeBetween(column=f"{rule}_margin", max_value=MARGIN_LIMIT)
        for rule in RULES
    ]


def check_name(rule: str) -> str:
    return f"expect_column_values_to_be_between({rule}_margin, max_value={MARGIN_LIMIT:g})"


def flag_suspicious_growth(
    scored: pl.DataFrame, rows: pl.Expr | None = None
) -> tuple[pl.DataFrame, CheckResult]:
    """Flag, with GX, the days whose margins break the suspicious-growth expectations.

    Only the rows selected by `rows` (what is new) are validated; the others are not flagged
    again here. Returns the frame with flag_<rule> columns, and the suite's result.
    """
    selected = scored.with_row_index("_row").filter(rows if rows is not None else pl.lit(True))
    frame = selected.select("_row", *[pl.col(f"{rule}_margin").cast(pl.Float64) for rule in RULES])
    flagged: dict[str, set[int]] = {rule: set() for rule in RULES}
    failed: list[dict[str, Any]] = []
    success, evaluated = True, 0
    if frame.height:
        # nulls (no baseline yet) are not unexpected; COMPLETE lists the unexpected row indexes
        result = _run("growth", frame.drop("_row"), growth_expectations(), "COMPLETE")
        success, evaluated = bool(result.success), len(result.results)
        index = frame.get_column("_row").to_list()
        for r in result.results:
            column = r.expectation_config.kwargs["column"]
            rule = column.removesuffix("_margin")
            positions = r.result.get("unexpected_index_list") or []
            flagged[rule] = {index[p] for p in positions}
        failed = _failures(result)
    out = scored.with_columns(
        pl.int_range(pl.len()).is_in(sorted(flagged[rule])).alias(f"flag_{rule}") for rule in RULES
    )
    return out, CheckResult("suspicious_growth", success, evaluated, failed)


class GXChecker:
    """The checks the nightly run uses: GX suites on what is new."""

    name = "great_expectations"
    validates_snapshots = True

    def flag(self, scored: pl.DataFrame, new_rows: pl.Expr) -> tuple[pl.DataFrame, dict[str, Any]]:
        flagged, result = flag_suspicious_growth(scored, new_rows)
        return flagged, result.summary()

    def snapshots(self, snapshots: pl.DataFrame, as_of: date) -> dict[str, Any]:
        return validate_snapshots(snapshots, as_of).summary()

    def check_name(self, rule: str) -> str:
        return check_name(rule)
