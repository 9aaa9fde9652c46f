"""Verdicts on scored days and on accounts: the checker's flags joined to the candidate days,
and each account's verdict from its anomalies.

A Checker turns the rules' margins into flags (checks.suites.GXChecker in runs, MarginChecker
here: the same verdicts by the margins alone, without GX's import cost). It only reads the
margins it is given: no I/O of ours, so the computation that calls it stays pure.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import polars as pl

from core.errors import AudienceError, plural
from transforms.series import Arrays, concat
from transforms.signals import RULES
from transforms.verdicts import judge_account

CHECK_BATCH_ROWS = 500_000  # new days validated together by the checker
CHECKS_AHEAD = 2  # batches handed to the checker's thread and not yet validated, at most


class ChecksDisagree(AudienceError):
    """The checker flagged a day whose margins crossed no rule: the two disagree, nothing is written."""


class Checker(Protocol):
    """Turns margins into flags, and checks snapshot quality (GX in runs: checks.suites.GXChecker)."""

    name: str
    validates_snapshots: bool

    def prepare(self) -> None:
        """An analysis is about to run (not called when nothing changed): get ready for it."""

    def flag(self, margins: Arrays) -> tuple[Arrays, dict[str, Any]]: ...

    def snapshots(
        self, rows: pl.DataFrame, accounts: pl.DataFrame, as_of: date
    ) -> dict[str, Any]: ...

    def check_name(self, rule: str) -> str: ...


class MarginChecker:
    """Flags by the margins alone (the same verdicts as the GX suite, without GX's import cost)."""

    name = "margins"
    validates_snapshots = False

    def prepare(self) -> None:
        """Nothing to get ready."""

    def flag(self, margins: Arrays) -> tuple[Arrays, dict[str, Any]]:
        return {rule: margins[f"{rule}_margin"] > 1.0 for rule in RULES}, {}

    def snapshots(self, rows: pl.DataFrame, accounts: pl.DataFrame, as_of: date) -> dict[str, Any]:
        return {}

    def check_name(self, rule: str) -> str:
        return f"{rule}_margin > 1"


class Verdicts:
    """The checker's flags on the new days, validated in batches of CHECK_BATCH_ROWS.

    The batches are validated on a thread of their own, in order, while the caller goes on
    scoring and writing (GX's growth suite over a rebuild's 10 million days is about 5 s of
    Python and pandas; DuckDB's writes meanwhile need little of the interpreter). At most
    CHECKS_AHEAD batches wait for it. Use it as a context manager: on the way out, what is
    not validated yet is dropped and the thread stopped; finish() waits for every flag.
    """

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.batch: list[Arrays] = []
        self.rows = 0
        self.flags: list[Arrays] = []
        self.summaries: list[dict[str, Any]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[tuple[dict[str, Any], Arrays]]] = deque()

    def __enter__(self) -> Verdicts:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)  # the batch under way ends first
            self._pool = None

    def add(self, margins: Arrays) -> None:
        self.batch.append(margins)
        self.rows += len(margins["aid"])
        if self.rows >= CHECK_BATCH_ROWS:
            self.run()

    def run(self) -> None:
        """The batch so far handed to the checker's thread."""
        if not self.rows:
            return
        margins = concat(self.batch)
        self.batch, self.rows = [], 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="checks")
        self._pending.append(self._pool.submit(self._check, margins))
        while len(self._pending) > CHECKS_AHEAD:
            self._collect()

    def finish(self) -> None:
        """The last batch validated, and every batch's flags and summary gathered."""
        self.run()
        while self._pending:
            self._collect()

    def _check(self, margins: Arrays) -> tuple[dict[str, Any], Arrays]:
        flags, summary = self.checker.flag(margins)
        hit = np.flatnonzero(np.logical_or.reduce([flags[r] for r in RULES]))
        return summary, {"aid": margins["aid"][hit], "day": margins["day"][hit]} | {
            f"flag_{r}": flags[r][hit] for r in RULES
        }

    def _collect(self) -> None:
        summary, flags = self._pending.popleft().result()
        self.summaries.append(summary)
        self.flags.append(flags)

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
