"""Analysis run: snapshots -> daily metrics -> checks -> anomalies, incrementally.

Accounts are scored CHUNK_ACCOUNTS at a time on THREADS threads (transforms.signals.score);
each chunk's metrics go to the warehouse as soon as they are ready, and only the days that
may become anomalies (a margin above 1), the new days' margins for the checker and the last
91 days for the account summary are kept.

A nightly run rewrites each account's metrics after its last figure before the new days (a
returning account's gap days included) and the anomalies of the last RETENTION_DAYS + 1
days (retention looks 30 days ahead), loading the longest look-back of history before them.
Any snapshot written since the last analysis for an older day (an import) triggers a full
rebuild. Either way the stored result equals a computation from scratch (tested).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import duckdb
import numpy as np
import polars as pl

from audience.config import DetectionSettings, Settings
from audience.errors import AudienceError, plural
from audience.records import AnalysisSummary, ChecksSummary, SuiteCheck
from checks.suites import merge_failures
from transforms.anomalies import (
    ANOMALY_SCHEMA,
    DAY_EVIDENCE,
    RULE_EVIDENCE,
    candidates,
    finalize,
)
from transforms.growth import WINDOWS
from transforms.layout import first_rows, with_account_ids
from transforms.quality import READS as SUMMARY_READS
from transforms.quality import WINDOW_DAYS, account_summary
from transforms.series import ACCOUNT, EPOCH, VALUES, Observations, build_series, named_frame
from transforms.signals import (
    RULES,
    co_movement_events,
    drip_runs,
    evidence_at,
    moved_unusually,
    padding,
    score,
)
from transforms.verdicts import judge_account
from warehouse.db import open_warehouse
from warehouse.query import fetch_one
from warehouse.runs import finish_run, start_run

RETENTION_DAYS = 30
CHUNK_ACCOUNTS = 100  # accounts scored together: arrays of about 1 MB, a bounded memory
THREADS = 2  # chunks scored side by side (NumPy releases the GIL)
CHECK_BATCH_ROWS = 500_000  # new days validated together by the checker
NEVER = np.iinfo(np.int32).min  # "no day yet": every day of the account is new
DUCKDB_MEMORY = "256MB"  # DuckDB's buffer memory while analysing


Arrays = dict[str, np.ndarray]  # columns of equal length


def concat(parts: list[Arrays]) -> Arrays:
    """Columns of several chunks, one after another."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]} if parts else {}


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


# what daily_metrics stores of a scored day, besides platform, handle and day
METRIC_VALUES = [
    "followers",
    "following",
    "posts",
    "observed",
    "spread_days",
    "daily_gain",
    *[f"growth_{k}_{w}" for w in WINDOWS for k in ("abs", "rel")],
    "avg_daily_gain_28",
    "baseline_median",
    "baseline_sigma",
    "robust_z",
    "spike_margin",
    "drop_margin",
    "drip_excess",
    "drip_z",
    "drip_margin",
    "churn_gross",
    "churn_net",
    "following_churn_margin",
    "posts_3d",
    "posts_usual_3d",
]
# what a flagged day carries into the anomalies (transforms.anomalies)
EVIDENCE = [*DAY_EVIDENCE, *RULE_EVIDENCE, *[f"{rule}_margin" for rule in RULES]]


def context_days(t: DetectionSettings) -> int:
    """Days of history needed before the first day written, so windows see what a full run sees.

    The longest look-back of any column (transforms.signals.padding): a figure depends on
    no day further back than that (the baseline of a drip's window start included).
    """
    return padding(t)


@dataclass(frozen=True)
class Accounts:
    """The accounts of a computation: id -> platform and handle, in platform, handle order."""

    names: pl.DataFrame  # aid (Int32), platform, handle
    platforms: list[str]  # platform of each code
    platform_code: np.ndarray  # per account id

    @classmethod
    def of(cls, names: pl.DataFrame) -> Accounts:
        names = names.select(pl.col("aid").cast(pl.Int32), *ACCOUNT).sort("aid")
        platforms = sorted(set(names.get_column("platform").to_list()))
        size = int(names.get_column("aid").to_numpy().max(initial=-1)) + 1
        code = np.zeros(size, dtype=np.int64)
        code[names.get_column("aid").to_numpy()] = (
            names.get_column("platform")
            .replace_strict({p: i for i, p in enumerate(platforms)}, return_dtype=pl.Int64)
            .to_numpy()
        )
        return cls(names, platforms, code)

    @property
    def youtube(self) -> np.ndarray:
        code = self.platforms.index("youtube") if "youtube" in self.platforms else -1
        rounded: np.ndarray = self.platform_code == code
        return rounded


@dataclass
class _Scored:
    """What one chunk of accounts leaves behind once its metrics are written."""

    metrics: Arrays  # the new days
    margins: Arrays  # aid, day and the rules' margins of the new days
    candidates: Arrays  # every day whose margin crossed a rule, with its evidence
    counts: np.ndarray  # co-movement: accounts, moved up, moved down per platform-day
    recent: Arrays  # the days from `recent_from` on: what the account summary reads


def _score_chunk(
    obs: Observations,
    t: DetectionSettings,
    accounts: Accounts,
    new_after: np.ndarray | None,
    first_day: int,
    days: int,
    recent_from: int,
) -> _Scored:
    """Score one chunk of accounts (pure: runs on a worker thread)."""
    series = build_series(obs, t.max_gap_days)
    plan, padded = score(series, t, accounts.youtube)
    new = None if new_after is None else series.day > new_after[series.aid]
    keep = plan.real if new is None else plan.take_mask(new)
    # the metrics stay padded: whoever writes them takes the rows to keep (DuckDB, in a scan)
    metrics = {
        "aid": plan.spread(series.aid, fill=-1).astype(np.int32),
        "day": plan.spread(series.day, fill=0).astype(np.int32),
        "spread_days": plan.spread(series.spread_days.astype(np.float64)),
        "keep": keep,
    } | {name: padded[name] for name in METRIC_VALUES if name in padded}
    margins = {name: metrics[name][keep] for name in ("aid", "day")} | {
        f"{r}_margin": padded[f"{r}_margin"][keep] for r in RULES
    }
    crossed = padded["spike_margin"] > 1.0
    for rule in RULES[1:]:
        crossed |= padded[f"{rule}_margin"] > 1.0
    rows = np.flatnonzero(crossed[plan.position])  # the series' rows whose margin crossed a rule
    at = plan.position[rows]
    candidates = (
        {
            "aid": series.aid[rows],
            "day": series.day[rows],
            "new": np.ones(len(rows), dtype=bool) if new is None else new[rows],
        }
        | {"spread_days": series.spread_days[rows].astype(np.float64)}
        | {name: padded[name][at] for name in EVIDENCE if name in padded}
        | evidence_at(padded, at, t)
    )
    # platform events: how many of a platform's accounts moved unusually on each day
    z = plan.take(padded["robust_z"])
    seen = series.observed & ~np.isnan(z)
    slot = accounts.platform_code[series.aid[seen]] * days + (series.day[seen] - first_day)
    size = len(accounts.platforms) * days
    z, gain = z[seen], series.daily_gain[seen]
    counts = np.stack(
        [
            np.bincount(slot, minlength=size),
            *(
                np.bincount(
                    slot, weights=moved_unusually(z, gain, t.platform_event_z, up), minlength=size
                )
                for up in (True, False)
            ),
        ]
    ).astype(np.int64)
    recent = plan.real & (metrics["day"] >= recent_from)
    latest = {name: metrics[name][recent] for name in ("aid", "day", *SUMMARY_READS)}
    return _Scored(metrics, margins, candidates, counts, latest)


def _in_order(
    work: Callable[[Observations], _Scored], chunks: Iterator[Observations], threads: int
) -> Iterator[_Scored]:
    """Results of `work` over the chunks, in order, with at most 2 x threads chunks in flight."""
    if threads <= 1:
        yield from map(work, chunks)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="score") as pool:
        pending: deque[Future[_Scored]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(work, chunk))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def compute(
    snapshots: pl.DataFrame | Observations,
    as_of: date,
    t: DetectionSettings,
    checker: Checker | None = None,
    new_after: np.ndarray | None = None,
    *,
    names: pl.DataFrame | None = None,
    sink: Callable[[Arrays], None] | None = None,
    chunk_accounts: int = CHUNK_ACCOUNTS,
    threads: int = THREADS,
) -> Computed:
    """Pure but for the checker: snapshots -> daily metrics, anomalies, the checks' summary.

    `snapshots` holds platform, handle, day, followers (following, posts optional), or an
    `aid` sorted by aid and day with `names` (aid, platform, handle); or is Observations
    with `names`. Days after
    `new_after[aid]` (a day number; every day when None) are new: written to `sink` (one
    dict of arrays per chunk; without a sink they are returned) and validated by the
    checker. Older days keep the flags of their margins, which earlier runs validated.
    Platform events are counted over all chunks before any anomaly is attributed.
    """
    checker = checker or MarginChecker()
    if isinstance(snapshots, Observations):
        obs = snapshots.until(as_of)
    else:
        if names is None:
            snapshots = with_account_ids(snapshots)
            names = snapshots.select("aid", *ACCOUNT).unique("aid")
        obs = Observations.from_frame(snapshots).until(as_of)
    if names is None:
        raise ValueError("compute: observations need the accounts' names")
    accounts = Accounts.of(names)
    first_day = int(obs.day.min()) if len(obs.day) else 0
    days = (as_of - EPOCH).days - first_day + 1
    bounds = first_rows(obs.aid)[::chunk_accounts]
    edges = np.r_[bounds, len(obs.aid)]

    recent_from = (as_of - EPOCH).days - WINDOW_DAYS

    def work(chunk: Observations) -> _Scored:
        return _score_chunk(chunk, t, accounts, new_after, first_day, days, recent_from)

    chunks = (obs.slice(int(a), int(b)) for a, b in itertools.pairwise(edges))
    parts: list[Arrays] = []
    found: list[Arrays] = []
    recent: list[Arrays] = []
    verdicts = _Verdicts(checker)
    counts = np.zeros((3, len(accounts.platforms) * days), dtype=np.int64)
    for scored in _in_order(work, chunks, threads):
        counts += scored.counts
        found.append(scored.candidates)
        recent.append(scored.recent)
        verdicts.add(scored.margins)
        if sink is not None:
            sink(scored.metrics)
        else:
            parts.append(scored.metrics)
    verdicts.run()
    flagged = verdicts.apply(named_frame(concat(found), accounts.names, ["new", *EVIDENCE]))
    events = co_movement_events(_count_frame(counts, accounts, first_day, days), t)
    anomalies = _anomalies(flagged, events, t, as_of)
    anomalies = anomalies.with_columns(
        pl.col("kind")
        .replace_strict({r: checker.check_name(r) for r in RULES}, return_dtype=pl.String)
        .alias("check_name")
    )
    metrics = metrics_frame(parts, accounts) if sink is None else pl.DataFrame()
    latest = named_frame(concat(recent), accounts.names, SUMMARY_READS)
    return Computed(metrics, anomalies, merge_checks(verdicts.summaries), latest)


class Computed(NamedTuple):
    metrics: pl.DataFrame  # the new days' metrics (empty when they went to a sink)
    anomalies: pl.DataFrame
    checks: SuiteCheck | None  # the checker's summary (None: it ran no suite)
    recent: pl.DataFrame  # every account's last WINDOW_DAYS days up to as_of (the summary's input)


class _Verdicts:
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


def _count_frame(counts: np.ndarray, accounts: Accounts, first_day: int, days: int) -> pl.DataFrame:
    slots = np.flatnonzero(counts[0])
    return pl.DataFrame(
        {
            "platform": pl.Series(
                [accounts.platforms[i] for i in (slots // days).tolist()], dtype=pl.String
            ),
            "day": pl.Series((slots % days + first_day).astype(np.int32)).cast(pl.Date),
            "accounts": counts[0, slots],
            "moved_up": counts[1, slots],
            "moved_down": counts[2, slots],
        }
    )


def _anomalies(
    flagged: pl.DataFrame, events: pl.DataFrame, t: DetectionSettings, as_of: date
) -> pl.DataFrame:
    if flagged.is_empty():
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    return finalize(candidates(drip_runs(flagged), t), events, t, datetime.now(UTC), as_of)


def kept(metrics: Arrays) -> Arrays:
    """The rows a chunk's padded metrics keep (the real, new days)."""
    keep = metrics["keep"]
    return {name: values[keep] for name, values in metrics.items() if name != "keep"}


def metrics_frame(parts: list[Arrays], accounts: Accounts) -> pl.DataFrame:
    """Chunks of padded metrics as one frame of the kept rows, with platform and handle."""
    return named_frame(concat([kept(p) for p in parts]), accounts.names, METRIC_VALUES)


def merge_checks(summaries: list[dict[str, Any]]) -> SuiteCheck | None:
    """One suite summary from the summaries of several chunks (None: no suite ran)."""
    summaries = [s for s in summaries if s]
    if not summaries:
        return None
    return SuiteCheck.of(
        {
            "suite": summaries[0]["suite"],
            "success": all(s["success"] for s in summaries),
            "evaluated": max(s["evaluated"] for s in summaries),
            "failed": merge_failures(s["failed"] for s in summaries),
        }
    )


def _state(con: duckdb.DuckDBPyConnection) -> tuple[date, datetime] | None:
    row = fetch_one(con, "SELECT analysed_through, written_watermark FROM analysis_state")
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class _Plan:
    """What a run rewrites: anomalies from `write_from`, each account's metrics after its `after`."""

    write_from: date | None  # None: a full rebuild
    # platform, handle, new (has figures to write), after (the last day kept; None: all new),
    # load_from (the first day its computation needs)
    accounts: pl.DataFrame


def _plan(con: duckdb.DuckDBPyConnection, as_of: date, t: DetectionSettings, full: bool) -> _Plan:
    state = _state(con)
    if full or state is None or as_of < state[0]:
        return _Plan(None, pl.DataFrame())
    analysed_through, watermark = state
    row = fetch_one(
        con, "SELECT min(day) FROM snapshots WHERE written_at > ? AND day <= ?", [watermark, as_of]
    )
    changed = row[0] if row and row[0] is not None else None
    if changed is not None and changed < analysed_through - timedelta(days=RETENTION_DAYS):
        return _Plan(None, pl.DataFrame())  # history changed further back than a night covers
    first_new = min(d for d in (changed, analysed_through + timedelta(days=1)) if d is not None)
    write_from = first_new - timedelta(days=RETENTION_DAYS + 1)
    # a drip is dated on its first day but its evidence runs to its last day plus 30: a run
    # still open within those 30 days is rewritten from its first day
    row = fetch_one(
        con,
        """
        SELECT min(first_day) FROM (
            SELECT min(day) AS first_day, max(day) AS last_day FROM (
                SELECT platform, handle, day,
                       day - row_number() OVER (PARTITION BY platform, handle ORDER BY day)::INTEGER AS run
                FROM daily_metrics WHERE drip_margin > 1 AND day <= ?
            ) GROUP BY platform, handle, run
        ) WHERE last_day >= ?
        """,
        [as_of, write_from],
    )
    if row and row[0] is not None:
        write_from = min(write_from, row[0])
    context = context_days(t)
    # an account with figures from first_new on is rewritten after its last figure before it
    # (the days of a gap it returns from were never written), with the context that needs;
    # every account is loaded from far enough back for the anomalies from write_from and for
    # its newest day's growth in the account summary (an account gone quiet has an old one)
    accounts: pl.DataFrame = con.sql(
        """
        SELECT platform, handle, last_day >= $first_new AS new, last_before AS after,
               least(
                   $write_from,
                   CASE WHEN last_day >= $first_new
                        THEN coalesce(last_before + 1, DATE '1970-01-01')
                        ELSE last_day - $summary_days::INTEGER END
               ) - $context::INTEGER AS load_from
        FROM (
            SELECT platform, handle, max(day) FILTER (WHERE day < $first_new) AS last_before,
                   max(day) AS last_day
            FROM snapshots WHERE day <= $as_of GROUP BY ALL
        )
        """,
        params={
            "first_new": first_new,
            "write_from": write_from,
            "summary_days": WINDOW_DAYS,
            "context": context,
            "as_of": as_of,
        },
    ).pl()
    return _Plan(write_from, accounts)


def _load(
    con: duckdb.DuckDBPyConnection, as_of: date, plan: _Plan, t: DetectionSettings
) -> tuple[Observations, pl.DataFrame, np.ndarray | None]:
    """(snapshots by account id and day; the accounts' names; each account's last day kept)."""
    values = "followers, following, posts"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _accounts AS
        SELECT (row_number() OVER (ORDER BY platform, handle) - 1)::INTEGER AS aid, platform, handle
        FROM (SELECT DISTINCT platform, handle FROM snapshots WHERE day <= DATE '{as_of}')
        """
    )
    if plan.write_from is None:
        rows = f"SELECT aid, day, {values} FROM snapshots JOIN _accounts USING (platform, handle) WHERE day <= DATE '{as_of}'"
        after = None
    else:
        con.register("_plan", plan.accounts)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _windows AS
            SELECT a.aid, p.load_from, p.after, p.new
            FROM _accounts a JOIN _plan p USING (platform, handle)
            """
        )
        con.unregister("_plan")
        # plus each account's last figure before its window, so gaps interpolate as in a full run
        rows = f"""
            SELECT aid, day, {values} FROM snapshots JOIN _accounts USING (platform, handle)
            JOIN _windows USING (aid) WHERE day BETWEEN load_from AND DATE '{as_of}'
            UNION ALL
            SELECT aid, max(day), arg_max(followers, day), arg_max(following, day), arg_max(posts, day)
            FROM snapshots JOIN _accounts USING (platform, handle) JOIN _windows USING (aid)
            WHERE day < load_from GROUP BY aid
        """
        windows = con.sql("SELECT aid, new, after FROM _windows ORDER BY aid").pl()
        after = np.where(
            windows.get_column("new").to_numpy(),
            windows.get_column("after").cast(pl.Int32).fill_null(NEVER).to_numpy(),
            np.iinfo(np.int32).max,  # nothing new: nothing written
        ).astype(np.int32)
    # straight into arrays: no frame of millions of rows in between
    arrays = con.sql(
        f"""
        SELECT aid, (day - DATE '1970-01-01')::INTEGER AS day,
               followers::DOUBLE AS followers,
               coalesce(following::DOUBLE, 'NaN'::DOUBLE) AS following,
               coalesce(posts::DOUBLE, 'NaN'::DOUBLE) AS posts
        FROM ({rows}) ORDER BY aid, day
        """
    ).fetchnumpy()
    obs = Observations(
        np.asarray(arrays["aid"], dtype=np.int32),
        np.asarray(arrays["day"], dtype=np.int32),
        {name: np.asarray(arrays[name], dtype=np.float64) for name in VALUES},
    )
    names: pl.DataFrame = con.sql("SELECT aid, platform, handle FROM _accounts ORDER BY aid").pl()
    return obs, names, after


def analyze(
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
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    # on an error (Ctrl-C included) the transaction is aborted: the caller rolls it back and
    # closes the connection, its setting with it; a RESET then would only fail
    summary = _analyze(con, t, as_of, full=full, checker=checker)
    con.execute("RESET memory_limit")
    return summary


def _analyze(
    con: duckdb.DuckDBPyConnection,
    t: DetectionSettings,
    as_of: date,
    *,
    full: bool,
    checker: Checker | None,
) -> AnalysisSummary:
    checker = checker or MarginChecker()
    clock = _Clock()
    state = _state(con)
    plan = _plan(con, as_of, t, full)
    snapshots, names, after = _load(con, as_of, plan, t)
    watermark = fetch_one(con, "SELECT coalesce(max(written_at), now()) FROM snapshots")
    clock.lap("load")
    if plan.write_from is None:
        con.execute("DELETE FROM daily_metrics")
    else:
        con.execute(
            """
            DELETE FROM daily_metrics d USING _windows w, _accounts a
            WHERE w.new AND a.aid = w.aid AND d.platform = a.platform AND d.handle = a.handle
              AND (w.after IS NULL OR d.day > w.after)
            """
        )
    clock.lap("delete_rewritten_metrics")
    now = datetime.now(UTC)

    writer = _MetricsWriter(con, now)
    _, anomalies, checks, recent = compute(
        snapshots, as_of, t, checker, after, names=names, sink=writer.add
    )
    writer.flush()
    clock.seconds["write_metrics"] = writer.seconds
    # what writing did not hide: the scoring threads go on while a chunk is written
    clock.lap("compute", less=clock.seconds["write_metrics"])
    del snapshots
    quality = (
        checker.snapshots(*_new_snapshots(con, as_of, state[1] if state else None), as_of)
        if checker.validates_snapshots
        else {}
    )
    clock.lap("snapshot_checks")
    since = "" if plan.write_from is None else f"WHERE day >= DATE '{plan.write_from}'"
    if plan.write_from is not None:
        anomalies = anomalies.filter(pl.col("day") >= plan.write_from)
    existing = (
        con.sql(f"SELECT platform, handle, day, kind, detected_at FROM anomalies {since}")
        .pl()
        .with_columns(pl.col("detected_at").dt.convert_time_zone("UTC"))
    )
    keys = ["platform", "handle", "day", "kind"]
    anomalies = (
        anomalies.join(existing, on=keys, how="left", suffix="_old")
        .with_columns(pl.coalesce("detected_at_old", "detected_at").alias("detected_at"))
        .drop("detected_at_old")
    )
    new = anomalies.height - existing.join(anomalies.select(keys), on=keys).height
    con.execute(f"DELETE FROM anomalies {since}")
    _insert_frame(con, "anomalies", anomalies)
    _write_account_metrics(con, recent, as_of)
    _write_state(con, as_of, watermark[0] if watermark else now, now)
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
        checks=ChecksSummary(checker.name, checks, SuiteCheck.of(quality)),
        seconds={k: round(v, 3) for k, v in clock.seconds.items()},
    )


class _MetricsWriter:
    """Appends chunks of padded metrics to daily_metrics, through DuckDB's replacement scan of
    the arrays (NaN arrives as NULL). A dense chunk (a rebuild) is written as it comes, DuckDB
    taking the rows to keep; the few new days of many chunks (a night) are gathered first,
    so that a night is one INSERT, not one per chunk."""

    def __init__(self, con: duckdb.DuckDBPyConnection, now: datetime) -> None:
        self.con, self.now = con, now
        self.pending: list[Arrays] = []
        self.pending_rows = 0
        self.days = 0
        self.accounts: set[int] = set()
        self.seconds = 0.0

    def add(self, metrics: Arrays) -> None:
        started = time.perf_counter()
        keep = metrics["keep"]
        rows = int(keep.sum())
        if rows > len(keep) // 2:
            self._insert(metrics, rows)
        elif rows:
            self.pending.append(kept(metrics) | {"keep": np.ones(rows, dtype=bool)})
            self.pending_rows += rows
            if self.pending_rows >= CHECK_BATCH_ROWS:
                self.flush()
        self.seconds += time.perf_counter() - started

    def flush(self) -> None:
        started = time.perf_counter()
        if self.pending:
            self._insert(concat(self.pending), self.pending_rows)
            self.pending, self.pending_rows = [], 0
        self.seconds += time.perf_counter() - started

    def _insert(self, metrics: Arrays, rows: int) -> None:
        _metrics = metrics  # read by DuckDB's replacement scan
        self.con.execute(
            """
            INSERT INTO daily_metrics BY NAME
            SELECT a.platform, a.handle, (DATE '1970-01-01' + m.day::INTEGER) AS day,
                   m.* EXCLUDE (aid, day, spread_days, keep),
                   nullif(m.spread_days, 0)::INTEGER AS spread_days, ?::TIMESTAMPTZ AS computed_at
            FROM _metrics m JOIN _accounts a USING (aid) WHERE m.keep
            """,
            [self.now],
        )
        del _metrics
        self.days += rows
        self.accounts.update(np.unique(metrics["aid"][metrics["keep"]]).tolist())


class _Clock:
    """Seconds per step of a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, step: str, less: float = 0.0) -> None:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self.last - less
        self.last = now


def _write_account_metrics(
    con: duckdb.DuckDBPyConnection, recent: pl.DataFrame, as_of: date
) -> None:
    """Every account's standing from its last 91 days (computed by this run: the same figures
    daily_metrics holds) and the anomalies of the same days; one row each."""
    since = as_of - timedelta(days=WINDOW_DAYS + 1)
    anomalies = con.sql(
        f"SELECT * FROM anomalies WHERE day > DATE '{since}' AND day <= DATE '{as_of}'"
    ).pl()
    con.execute("DELETE FROM account_metrics")
    summary = account_summary(recent, anomalies, as_of) if recent.height else pl.DataFrame()
    if summary.height:
        verdicts = _account_verdicts(con, as_of, summary.select(ACCOUNT))
        _insert_frame(con, "account_metrics", summary.join(verdicts, on=list(ACCOUNT), how="left"))


def _account_verdicts(
    con: duckdb.DuckDBPyConnection, as_of: date, accounts: pl.DataFrame
) -> pl.DataFrame:
    """Each account's verdict from all its anomalies up to `as_of` and its days with a figure."""
    con.register("_judged_accounts", accounts)
    try:
        rows = con.execute(
            """
            SELECT a.platform, a.handle,
                   (SELECT count(*) FROM snapshots s WHERE s.platform = a.platform
                        AND s.handle = a.handle AND s.day <= ?) AS observed,
                   (SELECT list((n.day::VARCHAR, n.kind, n.verdict, n.confidence) ORDER BY n.day)
                    FROM anomalies n WHERE n.platform = a.platform AND n.handle = a.handle
                        AND n.day <= ?) AS found
            FROM _judged_accounts a
            """,
            [as_of, as_of],
        ).fetchall()
    finally:
        con.unregister("_judged_accounts")
    records = []
    for platform, handle, observed, found in rows:
        anomalies = [
            tuple(str(v) for v in (row.values() if isinstance(row, dict) else row))
            for row in found or []
        ]
        judged = judge_account(anomalies, int(observed or 0))  # type: ignore[arg-type]
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


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a frame's rows to a table, by column name (DuckDB casts them to the table's types)."""
    con.register("_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def _write_state(
    con: duckdb.DuckDBPyConnection, as_of: date, watermark: datetime, now: datetime
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO analysis_state VALUES (1, ?, ?, ?)", [as_of, watermark, now]
    )


def _new_snapshots(
    con: duckdb.DuckDBPyConnection, as_of: date, since: datetime | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Snapshots written since the last analysis (all of them the first time): what is new.

    As numbers (account id, day, counts) sorted by account and day, and per account its
    platform, handle and newest new day: what checks.suites.validate_snapshot_rows reads.
    """
    after = "" if since is None else "AND written_at > ?"
    params = [since] if since is not None else None
    new = f"""
        SELECT a.aid AS account, s.* FROM snapshots s JOIN _accounts a USING (platform, handle)
        WHERE s.day <= DATE '{as_of}' {after}
    """
    rows: pl.DataFrame = con.sql(
        f"SELECT account, day, followers, following, posts FROM ({new}) ORDER BY account, day",
        params=params,
    ).pl()
    accounts: pl.DataFrame = con.sql(
        f"SELECT account, platform, handle, max(day) AS day FROM ({new}) GROUP BY ALL ORDER BY account",
        params=params,
    ).pl()
    return rows, accounts


def run_analysis(
    warehouse: Path,
    settings: Settings,
    as_of: date | None = None,
    *,
    full: bool = False,
    checker: Checker | None = None,
    lock_timeout_s: float = 10.0,
) -> AnalysisSummary:
    """One recorded analysis run in one transaction; `as_of` defaults to the newest snapshot."""
    with open_warehouse(warehouse, timeout_s=lock_timeout_s) as con:
        if as_of is None:
            row = fetch_one(con, "SELECT max(day) FROM snapshots")
            as_of = row[0] if row and isinstance(row[0], date) else datetime.now(UTC).date()
        con.execute("BEGIN TRANSACTION")
        try:
            run_id = start_run(con, "analyze", as_of)
            summary = analyze(con, settings.detection, as_of, full=full, checker=checker)
            result = replace(summary, run_id=run_id)
            finish_run(con, run_id, "ok", result.as_dict())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result


# what the readers (audit, report) use of daily_metrics, in an analysis as of a past day
AS_OF_METRICS = ("followers", "observed", "daily_gain", "baseline_median", "baseline_sigma")
# the analysis' tables, shadowed by temporary ones in an analysis as of a past day
ANALYSIS_TABLES = ("daily_metrics", "anomalies", "account_metrics", "analysis_state")


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
    state = _state(con)
    if state is None or as_of >= state[0]:
        return False
    row = fetch_one(con, "SELECT current_database()")
    database = '"' + str(row[0] if row else "").replace('"', '""') + '"'
    con.execute("SET temp_directory = ''")  # never spill next to the warehouse
    for table in ANALYSIS_TABLES:
        ddl = fetch_one(
            con,
            "SELECT sql FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [table],
        )
        if ddl is None:
            raise AudienceError(f"the warehouse has no {table} table")
        con.execute(str(ddl[0]).replace("CREATE TABLE ", "CREATE TEMP TABLE ", 1))
    now = datetime.now(UTC)
    snapshots, names, _ = _load(con, as_of, _Plan(None, pl.DataFrame()), t)
    if len(snapshots.aid):
        wanted = pl.DataFrame(
            list(accounts), schema={name: pl.String for name in ACCOUNT}, orient="row"
        )
        focus = names.join(wanted, on=list(ACCOUNT)).get_column("aid").to_numpy()
        since = (as_of - EPOCH).days - metric_days
        writer = _MetricsWriter(con, now)

        def read_later(metrics: Arrays) -> None:
            keep = metrics["keep"] & ((metrics["day"] > since) | np.isin(metrics["aid"], focus))
            writer.add(
                {name: metrics[name] for name in ("aid", "day", "spread_days", *AS_OF_METRICS)}
                | {"keep": keep}
            )

        _, anomalies, _, recent = compute(snapshots, as_of, t, names=names, sink=read_later)
        writer.flush()
        _insert_frame(con, "anomalies", anomalies)
        _write_account_metrics(con, recent, as_of)
    _write_state(con, as_of, now, now)
    con.execute(
        f"CREATE TEMP VIEW snapshots AS SELECT * FROM {database}.main.snapshots "
        f"WHERE day <= DATE '{as_of}'"
    )
    return True
