"""The expectation suites, run on pandas frames in an ephemeral GX context.

GX 1.24 validates pandas (not Polars, and its DuckDB path is broken: docs/stack-notes.md §2),
so each check converts only the columns it needs. Suspicious growth is expressed as
`ExpectColumnValuesToBeBetween(<rule>_margin, max_value=1)`: a row whose margin is above 1
crossed every threshold of that rule, so GX's unexpected rows are the flagged days.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, TypedDict

import numpy as np
import polars as pl

from core.platforms import PLATFORMS
from transforms.series import EPOCH
from transforms.signals import RULES

MARGIN_LIMIT = 1.0
BATCH_ROWS = 500_000  # rows validated in one run of a suite: bounds GX's memory


class Failure(TypedDict):
    """An expectation not met, as the ledger stores it (core.records.CheckFailure reads it)."""

    expectation: str
    kwargs: dict[str, object]
    unexpected_count: int | None
    examples: list[str]


@dataclass
class CheckResult:
    """What one suite said: overall success, and per expectation what failed and how often."""

    suite: str
    success: bool
    evaluated: int
    failed: list[Failure] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": self.failed,
        }


# GX is imported and its context built once per process, by whichever thread asks first,
# under this lock: the others wait for all of it. Python's import locks alone are not enough:
# one thread importing great_expectations while another asks for great_expectations.expectations
# can each hold a module the other needs, and Python then fails one of the imports.
_IMPORT_LOCK = threading.RLock()
_warming: threading.Thread | None = None
_WARMING_LOCK = threading.Lock()
# the growth suite's batches and a first analysis' snapshot checks run on threads of their own
_RUN_LOCK = threading.Lock()


def _context() -> Any:
    with _IMPORT_LOCK:
        return _new_context()


@cache
def _new_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")  # never a gx/ folder on disk
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def warm() -> None:
    """GX imported and its context built ahead of a validation (5 s of a night's analysis at
    10,000 accounts when it is not)."""
    with _IMPORT_LOCK:
        _expectations()
        _context()


def warm_in_background() -> threading.Thread:
    """warm() in a thread, while the caller does something else: the nightly run's collection
    waits on the platforms, an analysis loads its snapshots in DuckDB. A validation that
    comes first waits for it (_IMPORT_LOCK). A failure there is left for the validation to
    meet and report."""

    global _warming
    with _WARMING_LOCK:
        if _warming is None:  # once a process

            def quietly() -> None:
                with contextlib.suppress(Exception):
                    warm()

            _warming = threading.Thread(
                target=quietly, name="import-great-expectations", daemon=True
            )
            _warming.start()
        return _warming


def _expectations() -> Any:
    """The expectations module, imported late (GX is slow to import) and typed loosely."""
    import importlib

    with _IMPORT_LOCK:
        return importlib.import_module("great_expectations.expectations")


@cache
def _batch(name: str) -> Any:
    context = _context()
    source = context.data_sources.add_pandas(f"{name}_source")
    return source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("whole")


def _run(name: str, frame: pl.DataFrame, expectations: list[Any], result_format: str) -> Any:
    context = _context()  # GX imported by then (by this thread or another)
    import great_expectations as gx

    with _RUN_LOCK:  # one validation at a time: GX's context is shared and not thread-safe
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(name=name, expectations=expectations)
        )
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=_batch(name), suite=suite)
        )
        return definition.run(
            batch_parameters={"dataframe": frame.to_pandas()}, result_format=result_format
        )


def _failures(result: Any, names: dict[int, str] | None = None) -> list[Failure]:
    """What failed, with up to 5 examples (an account id shown as platform:handle)."""
    failed: list[Failure] = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        failed.append(
            {
                "expectation": config.type,
                "kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                "unexpected_count": r.result.get("unexpected_count"),
                "examples": [
                    str(_named(v, names, config.kwargs.get("column")))
                    for v in (r.result.get("partial_unexpected_list") or [])[:5]
                ],
            }
        )
    return failed


def _day_number() -> pl.Expr:
    """A day as its number of days since EPOCH, in 64 bits: GX compares an int64 or float64
    column at once, any other type (int32 included) one Python call per row."""
    return (pl.col("day").cast(pl.Date) - pl.lit(EPOCH)).dt.total_days().cast(pl.Int64).alias("day")


def merge_failures(parts: Iterable[list[Failure]]) -> list[Failure]:
    """The failures of several runs of one suite (batches) as one list: per expectation and
    arguments, the unexpected counts added up and the first 5 examples."""
    failed: dict[tuple[str, str], Failure] = {}
    for part in parts:
        for f in part:
            key = (f["expectation"], json.dumps(f["kwargs"], sort_keys=True, default=str))
            if key in failed:
                merged = failed[key]
                merged["unexpected_count"] = (merged["unexpected_count"] or 0) + (
                    f["unexpected_count"] or 0
                )
                merged["examples"] = (merged["examples"] + f["examples"])[:5]
            else:
                failed[key] = f.copy()
    return list(failed.values())


def merge_checks(summaries: list[dict[str, Any]]) -> dict[str, object]:
    """One suite summary from the summaries of several batches (empty ones: a checker without
    a suite, e.g. transforms.judging.MarginChecker); loosely typed as
    transforms.judging.Checker returns them."""
    summaries = [s for s in summaries if s]
    if not summaries:
        return {}
    return {
        "suite": summaries[0]["suite"],
        "success": all(s["success"] for s in summaries),
        "evaluated": max(s["evaluated"] for s in summaries),
        "failed": merge_failures(s["failed"] for s in summaries),
    }


def _named(example: object, names: dict[int, str] | None, column: object) -> object:
    """An example as a person reads it: the account's name, a day as a date."""
    if isinstance(example, dict):
        return {
            k: (names or {}).get(v, v)
            if k == "account"
            else (EPOCH + timedelta(days=int(v))).isoformat()
            if k == "day"
            else v
            for k, v in example.items()
        }
    if column == "day" and isinstance(example, int | np.integer):
        return (EPOCH + timedelta(days=int(example))).isoformat()
    return example


def validate_snapshots(
    snapshots: pl.DataFrame, as_of: date, batch_rows: int = BATCH_ROWS
) -> CheckResult:
    """Types, ranges, one row per account and day, nothing from the future, and freshness.

    What concerns an account (a name, a known platform, its newest day) is checked once per
    account; the row checks run on numbers only (an account id for the names), in batches
    of whole accounts (so a day twice is always seen within one batch) of at most
    `batch_rows` rows, which keeps the first check of a large imported history quick and
    within memory.
    """
    accounts = (
        snapshots.group_by("platform", "handle", maintain_order=True)
        .agg(pl.col("day").max())
        .with_row_index("account")
    )
    rows = (
        snapshots.join(accounts.drop("day"), on=["platform", "handle"], nulls_equal=True)
        .select("account", "day", "followers", "following", "posts")
        .sort("account", "day")
    )
    return validate_snapshot_rows(rows, accounts, as_of, batch_rows)


def validate_snapshot_rows(
    rows: pl.DataFrame, accounts: pl.DataFrame, as_of: date, batch_rows: int = BATCH_ROWS
) -> CheckResult:
    """validate_snapshots on numbers: `rows` (account, day, followers, following, posts),
    sorted by account and day, and `accounts` (account, platform, handle, day: its newest day
    in the warehouse up to `as_of`, not only among `rows`: a batch of back-dated rows leaves
    an account as fresh as it was).

    No rows (nothing new since the last analysis): nothing to check, so nothing failed; a
    freshness expectation on no rows would fail with no unexpected value to show.
    """
    if not rows.height:
        return CheckResult("snapshots", True, 0)
    gxe = _expectations()
    # days as numbers: GX compares datetimes one Python call per row (7 s a million)
    rows = rows.with_columns(_day_number())
    accounts = accounts.with_columns(pl.col("day").cast(pl.Datetime("us")))
    latest = (as_of - EPOCH).days

    def row_checks() -> list[Any]:  # new objects for each run: an expectation belongs to one suite
        return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("day", "followers")] + [
            gxe.ExpectColumnValuesToBeBetween(column="followers", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="following", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="posts", min_value=0),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["account", "day"]),
            gxe.ExpectColumnValuesToBeBetween(column="day", max_value=latest),
        ]

    account_checks = [
        gxe.ExpectColumnValuesToNotBeNull(column="platform"),
        gxe.ExpectColumnValuesToNotBeNull(column="handle"),
        gxe.ExpectColumnValuesToBeInSet(column="platform", value_set=list(PLATFORMS)),
        # freshness: the newest day held for the accounts with new rows is no older than two
        # days before the analysed day (the accounts' newest, not the batch's: an import of
        # older days is not stale; a night whose newest collected day is old is)
        gxe.ExpectColumnMaxToBeBetween(
            column="day",
            min_value=datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=2),
        ),
    ]
    results = [
        _run("snapshots", part, row_checks(), "SUMMARY") for part in _batches(rows, batch_rows)
    ]
    results.append(_run("snapshot_accounts", accounts, account_checks, "SUMMARY"))
    names = {
        i: f"{p}:{h}" for i, p, h in accounts.select("account", "platform", "handle").iter_rows()
    }
    failed = merge_failures(_failures(result, names) for result in results)
    success = all(bool(r.success) for r in results)
    evaluated = len(results[0].results) + len(results[-1].results)
    return CheckResult("snapshots", success, evaluated, failed)


def _batches(frame: pl.DataFrame, rows: int) -> list[pl.DataFrame]:
    """Slices of a frame sorted by account, each of whole accounts and about `rows` rows."""
    if frame.height <= rows:
        return [frame]
    account = frame.get_column("account").to_numpy()
    starts = np.flatnonzero(np.r_[True, account[1:] != account[:-1]])
    cuts, last = [0], 0
    for start in starts[1:]:
        if start - last >= rows:
            cuts.append(int(start))
            last = int(start)
    cuts.append(frame.height)
    return [frame.slice(a, b - a) for a, b in itertools.pairwise(cuts)]


def growth_expectations() -> list[Any]:
    """One expectation per rule: its margin stays at or below 1."""
    gxe = _expectations()
    return [
        gxe.ExpectColumnValuesToBeBetween(column=f"{rule}_margin", max_value=MARGIN_LIMIT)
        for rule in RULES
    ]


def check_name(rule: str) -> str:
    return f"expect_column_values_to_be_between({rule}_margin, max_value={MARGIN_LIMIT:g})"


def validate_margins(
    margins: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], CheckResult]:
    """Flag, with GX, the rows whose margins break the suspicious-growth expectations.

    `margins` holds an array per rule's margin column (NaN: no verdict possible). Returns a
    boolean array per rule (GX's unexpected rows) and the suite's result.
    """
    frame = pl.DataFrame(
        {f"{rule}_margin": margins[f"{rule}_margin"] for rule in RULES}
    ).with_columns(pl.all().cast(pl.Float64).fill_nan(None))
    flags = {rule: np.zeros(frame.height, dtype=bool) for rule in RULES}
    if not frame.height:
        return flags, CheckResult("suspicious_growth", True, 0)
    # nulls (no baseline yet) are not unexpected; COMPLETE lists the unexpected row indexes
    result = _run("growth", frame, growth_expectations(), "COMPLETE")
    for r in result.results:
        rule = r.expectation_config.kwargs["column"].removesuffix("_margin")
        flags[rule][np.asarray(r.result.get("unexpected_index_list") or [], dtype=np.int64)] = True
    return flags, CheckResult(
        "suspicious_growth", bool(result.success), len(result.results), _failures(result)
    )


class GXChecker:
    """The checks the nightly run uses: GX suites on what is new."""

    name = "great_expectations"
    validates_snapshots = True

    def prepare(self) -> None:
        """An analysis will validate: GX imported meanwhile (warm_in_background)."""
        warm_in_background()

    def flag(
        self, margins: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, object]]:
        flags, result = validate_margins(margins)
        return flags, result.summary()

    def snapshots(
        self, rows: pl.DataFrame, accounts: pl.DataFrame, as_of: date
    ) -> dict[str, object]:
        return validate_snapshot_rows(rows, accounts, as_of).summary()

    def check_name(self, rule: str) -> str:
        return check_name(rule)
