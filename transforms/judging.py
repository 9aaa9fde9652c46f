"""Verdicts on scored days and on accounts: the checker's flags joined to the candidate days,
and each account's verdict from its anomalies.

A Checker turns the rules' margins into flags (checks.suites.GXChecker in runs, MarginChecker
here: the same verdicts by the margins alone, without GX's import cost). It only reads the
margins it is given: no I/O of ours, so the computation that calls it stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import numpy as np
import polars as pl

from core.errors import AudienceError, plural
from transforms.series import Arrays, concat
from transforms.signals import RULES
from transforms.verdicts import judge_account

CHECK_BATCH_ROWS = 500_000  # new days validated together by the checker


class ChecksDisagree(AudienceError):
    """The checker flagged a day whose margins crossed no rule: the two disagree, nothing is written."""


class Checker(Protocol):
    """Turns margins into flags, and checks snapshot quality (GX in runs: checks.suites.GXChecker)."""

    name: str
    validates_snapshots: bool

    def flag(self, margins: Arrays) -> tuple[Arrays, dict[str, Any]]: ...

    def snapshots(
        self, rows: pl.DataFrame, accounts: pl.DataFrame, as_of: date
    ) -> dict[str, Any]: ...

    def check_name(self, rule: str) -> str: ...


class MarginChecker:
    """Flags by the margins alone (the same verdicts as the GX suite, without GX's import cost)."""

    name = "margins"
    validates_snapshots = False

    def flag(self, margins: Arrays) -> tuple[Arrays, dict[str, Any]]:
        return {rule: margins[f"{rule}_margin"] > 1.0 for rule in RULES}, {}

    def snapshots(self, rows: pl.DataFrame, accounts: pl.DataFrame, as_of: date) -> dict[str, Any]:
        return {}

    def check_name(self, rule: str) -> str:
        return f"{rule}_margin > 1"


class Verdicts:
    """The checker's flags on the new days, validated in batches of CHECK_BATCH_ROWS."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.batch: list[Arrays] = []
        self.rows = 0
        self.flags: list[Arrays] = []
        self.summaries: list[dict[str, Any]] = []

    def add(self, margins: Arrays) -> None:
        self.batch.append(margins)
        self.rows += len(margins["aid"])
        if self.rows >= CHECK_BATCH_ROWS:
            self.run()

    def run(self) -> None:
        if not self.rows:
            return
        margins = concat(self.batch)
        self.batch, self.rows = [], 0
        flags, summary = self.checker.flag(margins)
        self.summaries.append(summary)
        hit = np.flatnonzero(np.logical_or.reduce([flags[r] for r in RULES]))
        self.flags.append(
            {"aid": margins["aid"][hit], "day": margins["day"][hit]}
            | {f"flag_{r}": flags[r][hit] for r in RULES}
        )

    def apply(self, candidates: pl.DataFrame) -> pl.DataFrame:
        """Flags on the candidate days: the checker's on new days, the margins' on older ones."""
        if candidates.is_empty():
            return candidates
        found = pl.DataFrame(concat(self.flags)) if self.flags else pl.DataFrame()
        keys = ["aid", "day"]
        joined = candidates.sort(keys)
        if found.height:
            found = found.with_columns(pl.col("day").cast(pl.Date))
            stray = found.join(candidates.filter("new"), on=keys, how="anti")
            if stray.height:
                raise ChecksDisagree(
                    f"{self.checker.name} flagged {plural(stray.height, 'day')} whose margins crossed no "
                    f"rule (first: account {stray.item(0, 'aid')} on {stray.item(0, 'day')}); "
                    "nothing was written"
                )
            joined = joined.join(found, on=keys, how="left", maintain_order="left")
        else:
            joined = joined.with_columns(pl.lit(None, pl.Boolean).alias(f"flag_{r}") for r in RULES)
        return joined.with_columns(
            pl.when(pl.col("new"))
            .then(pl.col(f"flag_{r}").fill_null(False))
            .otherwise((pl.col(f"{r}_margin") > 1.0).fill_null(False))
            .alias(f"flag_{r}")
            for r in RULES
        )


# one stored anomaly of an account's history: (day, kind, verdict, confidence), as a row or a
# struct (DuckDB reads a list of structs as dicts)
StoredAnomaly = Sequence[object] | Mapping[str, object]


def _as_text(row: StoredAnomaly) -> tuple[str, str, str, str]:
    day, kind, verdict, confidence = (
        str(v) for v in (row.values() if isinstance(row, Mapping) else row)
    )
    return day, kind, verdict, confidence


def account_verdicts(
    histories: Iterable[tuple[str, str, int | None, Sequence[StoredAnomaly] | None]],
) -> pl.DataFrame:
    """Each account's verdict from its history: (platform, handle, days with a figure, its
    anomalies as (day, kind, verdict, confidence) rows or dicts), as read by
    warehouse.analysis_load.account_histories."""
    records = []
    for platform, handle, observed, found in histories:
        anomalies = [_as_text(row) for row in found or []]
        judged = judge_account(anomalies, int(observed or 0))
        suspected = sum(1 for a in anomalies if a[2] == "suspected_purchase")
        records.append(
            {
                "platform": platform,
                "handle": handle,
                "account_verdict": judged.code,
                "account_confidence": judged.confidence,
                "suspected_purchases_all": suspected,
            }
        )
    return pl.DataFrame(
        records,
        schema={
            "platform": pl.String,
            "handle": pl.String,
            "account_verdict": pl.String,
            "account_confidence": pl.String,
            "suspected_purchases_all": pl.Int32,
        },
    )
