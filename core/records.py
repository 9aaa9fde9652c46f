"""The records a run's steps hand on, up to the flow's summary and the command that tells it.

Frozen dataclasses instead of string-keyed dicts: what the analysis found and what its checks
said, what the collection and the alerts did, and the nightly run's summary. Plain data, no
behaviour but their form as stored (`as_dict`: the JSON of the runs ledger, unchanged). This
module imports nothing of the project's, so that every stage may use it.

`CheckFailure.of` and `SuiteCheck.of` read what a checker returns: the loosely typed mapping
of `transforms.judging.Checker` (GX's result), hence their loose parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any


@dataclass(frozen=True)
class CheckFailure:
    """An expectation a suite found not met, how often, and a few examples."""

    expectation: str
    kwargs: Mapping[str, object]  # the expectation's arguments, as GX gives them
    unexpected_count: int | None
    examples: tuple[str, ...] = ()

    @classmethod
    def of(cls, failure: Mapping[str, Any]) -> CheckFailure:
        """From a checker's failure (keys expectation, kwargs, unexpected_count, examples)."""
        return cls(
            str(failure["expectation"]),
            dict(failure.get("kwargs") or {}),
            failure.get("unexpected_count"),
            tuple(str(e) for e in failure.get("examples") or ()),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "expectation": self.expectation,
            "kwargs": dict(self.kwargs),
            "unexpected_count": self.unexpected_count,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class SuiteCheck:
    """What one suite said of a run's new rows: success, how many expectations, what failed."""

    suite: str
    success: bool
    evaluated: int
    failed: tuple[CheckFailure, ...] = ()

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> SuiteCheck | None:
        """From a checker's summary (keys suite, success, evaluated, failed); None when empty
        (the checker ran no suite)."""
        if not summary:
            return None
        return cls(
            str(summary["suite"]),
            bool(summary["success"]),
            int(summary["evaluated"]),
            tuple(CheckFailure.of(f) for f in summary.get("failed") or ()),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": [f.as_dict() for f in self.failed],
        }


@dataclass(frozen=True)
class ChecksSummary:
    """The checks of one analysis: which checker, and its suites (None: not run)."""

    checker: str
    growth: SuiteCheck | None = None
    snapshots: SuiteCheck | None = None

    def suites(self) -> tuple[SuiteCheck, ...]:
        """The suites that ran, snapshots first (the order an operator reads them in)."""
        return tuple(s for s in (self.snapshots, self.growth) if s is not None)

    def as_dict(self) -> dict[str, object]:
        return {
            "checker": self.checker,
            "growth": self.growth.as_dict() if self.growth else {},
            "snapshots": self.snapshots.as_dict() if self.snapshots else {},
        }


@dataclass(frozen=True)
class AnalysisSummary:
    """What one analysis did: through which day, how, and what it found."""

    as_of: date
    mode: str  # "full", "incremental" or "unchanged" (nothing new since the stored analysis)
    accounts: int
    days_written: int
    anomalies: int
    new_anomalies: int
    suspected_purchases: int
    checks: ChecksSummary
    seconds: dict[str, float] = field(default_factory=dict)  # where the run's time went
    unchanged_since: datetime | None = None  # unchanged: when the stored analysis ran
    run_id: str | None = None  # the runs ledger's row, once the run is recorded

    def as_dict(self) -> dict[str, object]:
        """As the runs ledger stores it: the run's id first, then every figure."""
        stored = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "run_id"}
        stored["checks"] = self.checks.as_dict()  # in its place among the figures
        return {"run_id": self.run_id, **stored}

    def unchanged_text(self) -> str:
        """What an `unchanged` analysis says, wherever it is told (terminal, log, artifact)."""
        since = self.unchanged_since
        when = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if since else "the last run"
        return f"unchanged since {when}: nothing new to analyse (analysed through {self.as_of})"


@dataclass(frozen=True)
class CollectionFailure:
    """An account the collection could not read for a reason worth retrying."""

    account: str  # platform:handle
    outcome: str
    reason: str  # redacted


@dataclass(frozen=True)
class CollectionReport:
    """What a collection did, for the flow's summary: one line, and counts by outcome."""

    description: str
    outcomes: dict[str, int]
    failed: int
    failures: tuple[CollectionFailure, ...] = ()


@dataclass(frozen=True)
class AlertsReport:
    """What the alerts step did: messages sent, anomaly alerts marked sent, what stays queued."""

    sent: int
    anomalies: int
    still_queued: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class NightlySummary:
    """What a nightly run did, step by step (collection and alerts: None when skipped)."""

    warehouse: str
    day: str  # ISO
    analysis: AnalysisSummary
    report: str  # the report's path
    collection: CollectionReport | None = None
    alerts: AlertsReport | None = None
    report_reused: bool = False  # nothing the report shows had changed: the page was kept
    seconds: dict[str, float] = field(default_factory=dict)  # per step, as the flow timed them
