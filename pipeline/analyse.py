"""Analysis run: snapshots -> daily metrics -> checks -> anomalies, incrementally.

The steps: load what the run needs (warehouse.analysis_load: a full rebuild, or a night's
windows), compute (transforms.compute, its metrics written chunk by chunk as they are ready),
check (the checker: GX in runs, checks.suites.GXChecker), store (warehouse.analysis_store).
Either way the stored result equals a computation from scratch (tested).

A run finds nothing to do (`unchanged`: only the run is recorded) when the stored analysis runs
through the same day, no snapshot was written since, and the digest of everything else it was
computed from is the same (inputs_digest); other [detection] values than the stored analysis's
rebuild it whole, so that every day is judged by the same thresholds.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from checks.suites import merge_checks
from core.detection import DetectionSettings
from core.records import AnalysisSummary, ChecksSummary, SuiteCheck
from core.settings import Settings
from pipeline.engagement import with_engagement
from transforms.compute import carry_detected_at, compute, context_days
from transforms.judging import Checker, MarginChecker, account_verdicts
from transforms.series import ACCOUNT, EPOCH, Arrays, Observations
from transforms.summary import WINDOW_DAYS, account_summary
from warehouse.analysis_load import (
    Inputs,
    Loaded,
    Plan,
    StoredAnalysis,
    account_histories,
    analysis_inputs,
    analysis_state,
    anomalies_between,
    latest_snapshot_day,
    load_snapshots,
    loaded_snapshots,
    new_snapshots,
    plan_run,
    snapshot_watermark,
    stored_analysis,
    stored_anomalies,
)
from warehouse.analysis_store import (
    MetricsWriter,
    capped_memory,
    delete_rewritten_metrics,
    insert_frame,
    replace_account_metrics,
    replace_anomalies,
    shadow_analysis_tables,
    shadow_snapshots,
    write_state,
)
from warehouse.db import in_transaction, open_warehouse
from warehouse.engagement import interaction_evidence
from warehouse.runs import finish_run, start_run
from warehouse.samples import sample_evidence, sampled_since_analysis

# what the readers (audit, report) use of daily_metrics, in an analysis as of a past day
AS_OF_METRICS = ("followers", "observed", "daily_gain", "baseline_median", "baseline_sigma")

# the code an analysis runs (its source is in the inputs' digest: an upgrade recomputes), and
# the libraries whose versions are
ANALYSED_PACKAGES = ("core", "transforms", "checks", "pipeline", "warehouse")
LIBRARIES = ("duckdb", "polars", "numpy", "great-expectations")
_ROOT = Path(__file__).resolve().parents[1]


@cache
def code_digest() -> str:
    """source_digest of the code this process runs (read once: it runs what it imported)."""
    return source_digest(_ROOT)


def source_digest(root: Path) -> str:
    """Of the code that computes an analysis: the Python and library versions (from the
    packages' metadata: nothing is imported) and the source (.py, .sql) of ANALYSED_PACKAGES
    under `root`."""
    h = hashlib.sha256(f"python {sys.version}\n".encode())
    for name in LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{name} {version}\n".encode())
    for package in ANALYSED_PACKAGES:
        for source in sorted((root / package).rglob("*")):
            if source.suffix in (".py", ".sql") and source.is_file():
                h.update(source.relative_to(root).as_posix().encode() + b"\0")
                h.update(source.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_digest(t: DetectionSettings, checker: Checker, as_of: date, inputs: Inputs) -> str:
    """Of everything an analysis through `as_of` is computed from: the code, the day, the
    [detection] values, the checker, and what it reads from the warehouse."""
    h = hashlib.sha256(code_digest().encode())
    h.update(
        f"\n{as_of}\n{t.model_dump_json()}\nchecker {checker.name}\n{inputs.line()}\n".encode()
    )
    return h.hexdigest()


def _unchanged(stored: StoredAnalysis, as_of: date, inputs: Inputs, digest: str) -> bool:
    """The stored analysis is what this one would write: the same day, no snapshot written
    since it ran, the same digest."""
    return (
        stored.analysed_through == as_of
        and (inputs.newest_write is None or inputs.newest_write <= stored.watermark)
        and stored.inputs_digest == digest
    )


class _Clock:
    """Seconds per step of a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, step: str, less: float = 0.0) -> None:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self.last - less
        self.last = now


def _observations(loaded: Loaded) -> Observations:
    return Observations(loaded.aid, loaded.day, loaded.values)


def analyse(
    con: duckdb.DuckDBPyConnection,
    t: DetectionSettings,
    as_of: date,
    *,
    full: bool = False,
    checker: Checker | None = None,
) -> AnalysisSummary:
    """Bring daily_metrics and anomalies up to `as_of`; the caller owns the transaction.

    DuckDB's memory is capped meanwhile: the blocks it writes go to the file, not to a cache.
    """
    with capped_memory(con):
        return _analyse(con, t, as_of, full=full, checker=checker or MarginChecker())


def _analyse(
    con: duckdb.DuckDBPyConnection,
    t: DetectionSettings,
    as_of: date,
    *,
    full: bool,
    checker: Checker,
) -> AnalysisSummary:
    clock = _Clock()
    stored = stored_analysis(con)
    inputs = analysis_inputs(con, as_of)
    digest = inputs_digest(t, checker, as_of, inputs)
    detection = t.model_dump_json()
    clock.lap("inputs")
    if not full and stored is not None and _unchanged(stored, as_of, inputs, digest):
        return AnalysisSummary(
            as_of=as_of,
            mode="unchanged",
            accounts=0,
            days_written=0,
            anomalies=0,
            new_anomalies=0,
            suspected_purchases=0,
            checks=ChecksSummary(checker.name),
            seconds={k: round(v, 3) for k, v in clock.seconds.items()},
            unchanged_since=stored.updated_at,
        )
    # other thresholds than the stored analysis's: every day judged again by the same ones
    rebuild = full or (stored is not None and stored.detection not in (None, detection))
    state = (stored.analysed_through, stored.watermark) if stored else None
    plan = plan_run(con, as_of, rebuild, context_days=context_days(t), summary_days=WINDOW_DAYS)
    sampled = sampled_since_analysis(con)
    if plan.write_from is not None and sampled is not None and sampled < plan.write_from:
        # a sample of an anomaly older than a night rewrites (`audit --sample`, a queued one):
        # judged again with it, by a rebuild (once: the next nights are incremental again)
        plan = Plan(None)
    if plan.write_from is None or plan.accounts.get_column("new").any():
        checker.prepare()  # days to validate: GX imported while the snapshots load
    loaded = load_snapshots(con, as_of, plan)
    watermark = snapshot_watermark(con)
    clock.lap("load")
    # every snapshot checked again: by a first analysis, and by --full (recompute everything)
    every = (state is None or full) and plan.write_from is None and checker.validates_snapshots
    early = _checked_meanwhile(checker, loaded, as_of) if every else None
    try:
        delete_rewritten_metrics(con, full=plan.write_from is None)
        clock.lap("delete_rewritten_metrics")
        now = datetime.now(UTC)
        writer = MetricsWriter(con, now)
        _, anomalies, checks, recent = compute(
            _observations(loaded),
            as_of,
            t,
            checker,
            loaded.after,
            names=loaded.names,
            sink=writer.add,
            detected_at=now,
            samples=sample_evidence(con),
            engagement=interaction_evidence(con, as_of),
        )
        writer.flush()
        clock.seconds["write_metrics"] = writer.seconds
        # what writing did not hide: the scoring threads go on while a chunk is written
        clock.lap("compute", less=clock.seconds["write_metrics"])
        del loaded
        if early is not None:
            quality = early.result()
        elif checker.validates_snapshots:
            quality = checker.snapshots(
                *new_snapshots(con, as_of, state[1] if state else None), as_of
            )
        else:
            quality = {}
        clock.lap("snapshot_checks")
        if plan.write_from is not None:
            anomalies = anomalies.filter(pl.col("day") >= plan.write_from)
        anomalies, new = carry_detected_at(anomalies, stored_anomalies(con, plan.write_from))
        replace_anomalies(con, anomalies, plan.write_from)
        _store_account_metrics(con, recent, as_of)
        write_state(con, as_of, watermark or now, now, inputs_digest=digest, detection=detection)
        clock.lap("anomalies_and_account_metrics")
        suspected = int(anomalies.get_column("suspected_purchase").sum()) if anomalies.height else 0
        return AnalysisSummary(
            as_of=as_of,
            mode="full" if plan.write_from is None else "incremental",
            accounts=len(writer.accounts),
            days_written=writer.days,
            anomalies=anomalies.height,
            new_anomalies=new,
            suspected_purchases=suspected,
            checks=ChecksSummary(
                checker.name, SuiteCheck.of(merge_checks(checks)), SuiteCheck.of(quality)
            ),
            seconds={k: round(v, 3) for k, v in clock.seconds.items()},
        )
    finally:
        if early is not None:
            early.cancel()


def _checked_meanwhile(checker: Checker, loaded: Loaded, as_of: date) -> Future[dict[str, Any]]:
    """A first analysis (or --full) checks every snapshot: those just loaded
    (loaded_snapshots), on a thread of its own while the scoring and the writes go on (6 s of
    GX at 10 million snapshots, which followed the writes). The thread is a daemon: an
    interrupted analysis does not wait for it."""
    rows, accounts = loaded_snapshots(loaded)
    checked: Future[dict[str, Any]] = Future()

    def check() -> None:
        if not checked.set_running_or_notify_cancel():
            return
        try:
            checked.set_result(checker.snapshots(rows, accounts, as_of))
        except BaseException as exc:  # handed to whoever waits for the result
            checked.set_exception(exc)

    threading.Thread(target=check, name="snapshot-checks", daemon=True).start()
    return checked


def _store_account_metrics(
    con: duckdb.DuckDBPyConnection, recent: pl.DataFrame, as_of: date
) -> None:
    """Every account's standing from its last 91 days (computed by this run: the same figures
    daily_metrics holds) and the anomalies of the same days; one row each."""
    anomalies = anomalies_between(con, as_of - timedelta(days=WINDOW_DAYS + 1), as_of)
    summary = account_summary(recent, anomalies, as_of) if recent.height else pl.DataFrame()
    if summary.height:
        histories = account_histories(con, as_of, summary.select(ACCOUNT))
        summary = summary.join(account_verdicts(histories), on=list(ACCOUNT), how="left")
        summary = with_engagement(con, summary, as_of)
    replace_account_metrics(con, summary)


def run_analysis(
    warehouse: Path,
    settings: Settings,
    as_of: date | None = None,
    *,
    full: bool = False,
    checker: Checker | None = None,
    lock_timeout_s: float = 10.0,
    through_newest: bool = False,
) -> AnalysisSummary:
    """One recorded analysis run in one transaction; `as_of` defaults to the newest snapshot.

    `through_newest` (the nightly run): never analyse through an earlier day than the newest
    figure stored, whatever `as_of` says. A night collected late (`run --as-of` a missed day)
    adds its figures; it must not cut the analysis of the days after it, or an audit would
    answer from an older analysis than the data holds."""
    with open_warehouse(warehouse, timeout_s=lock_timeout_s) as con:
        newest = latest_snapshot_day(con)
        as_of = as_of or newest or datetime.now(UTC).date()
        if through_newest and newest is not None and newest > as_of:
            as_of = newest
        with in_transaction(con):
            run_id = start_run(con, "analyze", as_of)
            summary = analyse(con, settings.detection, as_of, full=full, checker=checker)
            result = replace(summary, run_id=run_id)
            finish_run(con, run_id, "ok", result.as_dict())
    return result


def shadow_as_of(
    con: duckdb.DuckDBPyConnection,
    t: DetectionSettings,
    as_of: date,
    *,
    metric_days: int = 0,
    accounts: Collection[tuple[str, str]] = (),
) -> bool:
    """Make this connection read the analysis as it stood on `as_of`, if the stored one is later.

    Computed in memory from the snapshots up to `as_of` only (of every account: size tiers,
    percentiles and platform events need them), by the code of a run (load, compute, the
    anomalies, the account summary), into temporary tables that shadow daily_metrics,
    anomalies, account_metrics and analysis_state, plus a temporary view that shows only the
    snapshots up to `as_of`, for the rest of the connection's life: whoever reads them reads
    what a run on `as_of` would have stored. Nothing is written to the warehouse (a read-only
    connection does). The shadow daily_metrics holds only AS_OF_METRICS, of every account's
    last `metric_days` days and of every day of `accounts`. False (nothing done) when the
    stored analysis is not later than `as_of`.
    """
    state = analysis_state(con)
    if state is None or as_of >= state[0]:
        return False
    database = shadow_analysis_tables(con)
    now = datetime.now(UTC)
    loaded = load_snapshots(con, as_of, Plan(None))
    if len(loaded.aid):
        wanted = pl.DataFrame(
            list(accounts), schema={name: pl.String for name in ACCOUNT}, orient="row"
        )
        focus = loaded.names.join(wanted, on=list(ACCOUNT)).get_column("aid").to_numpy()
        since = (as_of - EPOCH).days - metric_days
        writer = MetricsWriter(con, now)

        def read_later(metrics: Arrays) -> None:
            keep = metrics["keep"] & ((metrics["day"] > since) | np.isin(metrics["aid"], focus))
            writer.add(
                {name: metrics[name] for name in ("aid", "day", "spread_days", *AS_OF_METRICS)}
                | {"keep": keep}
            )

        _, anomalies, _, recent = compute(
            _observations(loaded), as_of, t, names=loaded.names, sink=read_later, detected_at=now
        )
        writer.flush()
        insert_frame(con, "anomalies", anomalies)
        _store_account_metrics(con, recent, as_of)
    write_state(con, as_of, now, now)
    shadow_snapshots(con, database, as_of)
    return True
