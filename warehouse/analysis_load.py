"""What an analysis run reads: its state, its plan (what a night rewrites), and the snapshots
it computes on, as arrays by account id and day.

A nightly run rewrites each account's metrics after its last figure before the new days (a
returning account's gap days included) and the anomalies of the last RETENTION_DAYS + 1
days (retention looks 30 days ahead), loading the longest look-back of history before them.
A snapshot written since the last analysis for an older day (a back-dated import) moves that
start back to its day, for every account (platform events count them all), unless that would
rewrite half the history or more: then it is a full rebuild. Loading registers the temporary
table `_accounts` (aid, platform, handle) that the analysis's writes
(warehouse.analysis_store) join on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import polars as pl

from warehouse.query import fetch_one, registered

RETENTION_DAYS = 30
NEVER = np.iinfo(np.int32).min  # "no day yet": every day of the account is new
LOADED_VALUES = ("followers", "following", "posts")


def analysis_state(con: duckdb.DuckDBPyConnection) -> tuple[date, datetime] | None:
    """(the day the stored analysis runs through, the newest snapshot write it saw)."""
    row = fetch_one(con, "SELECT analysed_through, written_watermark FROM analysis_state")
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class StoredAnalysis:
    """The stored analysis's watermark (analysis_state): through which day, the newest snapshot
    write it saw, when it ran, and the digest and [detection] values it was computed from
    (None before migration 0013)."""

    analysed_through: date
    watermark: datetime
    updated_at: datetime
    inputs_digest: str | None
    detection: str | None


def stored_analysis(con: duckdb.DuckDBPyConnection) -> StoredAnalysis | None:
    row = fetch_one(
        con,
        "SELECT analysed_through, written_watermark, updated_at, inputs_digest, detection "
        "FROM analysis_state",
    )
    return StoredAnalysis(*row) if row else None


# a table's rows as one line, whatever their order: how many, and the sum and the exclusive or
# of their hashes (DuckDB's hash(): stable within one DuckDB version, which the caller's digest
# names)
_ROWS_DIGEST = "count(*) || ':' || coalesce(sum(h), 0) || ':' || coalesce(bit_xor(h), 0)"


@dataclass(frozen=True)
class Inputs:
    """What an analysis up to a day reads from the warehouse, as figures that change whenever
    it does: the snapshots' count and newest write (None: no snapshot), and the content of the
    finished jump samples and of the engagement rows up to the day."""

    snapshots: int
    newest_write: datetime | None
    samples: str
    engagement: str

    def line(self) -> str:
        written = self.newest_write.isoformat() if self.newest_write else "-"
        return f"snapshots {self.snapshots} {written}; samples {self.samples}; engagement {self.engagement}"


def analysis_inputs(con: duckdb.DuckDBPyConnection, as_of: date) -> Inputs:
    """The Inputs of an analysis up to `as_of`: what warehouse.samples.sample_evidence and
    sampled_since_analysis, and warehouse.engagement.interaction_evidence and latest_rates read,
    hashed in DuckDB (one pass each; the snapshots' figures are not read, their writes are)."""
    row = fetch_one(
        con,
        f"""
        SELECT (SELECT count(*) FROM snapshots), (SELECT max(written_at) FROM snapshots),
               (SELECT {_ROWS_DIGEST} FROM (
                    SELECT hash(platform, handle, day, what, size, flagged, share, share_low,
                                share_high, baseline_share, p_value, sampled_at) AS h
                    FROM sample_summaries WHERE kind = 'jump' AND status = 'done')),
               (SELECT {_ROWS_DIGEST} FROM (
                    SELECT hash(platform, handle, day, median_interactions, engagement_rate) AS h
                    FROM engagement WHERE day <= ?
                      AND (median_interactions IS NOT NULL OR engagement_rate IS NOT NULL)))
        """,
        [as_of],
    )
    assert row is not None  # an aggregate always answers
    return Inputs(int(row[0]), row[1], str(row[2]), str(row[3]))


def latest_snapshot_day(con: duckdb.DuckDBPyConnection) -> date | None:
    row = fetch_one(con, "SELECT max(day) FROM snapshots")
    return row[0] if row and isinstance(row[0], date) else None


def snapshot_watermark(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest snapshot was written (now, in DuckDB's transaction time, without any)."""
    row = fetch_one(con, "SELECT coalesce(max(written_at), now()) FROM snapshots")
    return row[0] if row else None


@dataclass(frozen=True)
class Plan:
    """What a run rewrites: anomalies from `write_from`, each account's metrics after its `after`."""

    write_from: date | None  # None: a full rebuild
    # platform, handle, new (has figures to write), after (the last day kept; None: all new),
    # load_from (the first day its computation needs)
    accounts: pl.DataFrame = field(default_factory=pl.DataFrame)


def plan_run(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    full: bool,
    *,
    context_days: int,
    summary_days: int,
) -> Plan:
    """The plan of a run up to `as_of`: a full rebuild, or what a night rewrites. Each account is
    loaded `context_days` before its first rewritten day (the longest look-back of a figure),
    and `summary_days` before its newest day (the account summary's growth)."""
    state = analysis_state(con)
    if full or state is None or as_of < state[0]:
        return Plan(None)
    analysed_through, watermark = state
    row = fetch_one(
        con, "SELECT min(day) FROM snapshots WHERE written_at > ? AND day <= ?", [watermark, as_of]
    )
    changed = row[0] if row and row[0] is not None else None
    first_new = min(d for d in (changed, analysed_through + timedelta(days=1)) if d is not None)
    write_from = first_new - timedelta(days=RETENTION_DAYS + 1)
    write_from = _open_drips_from(con, as_of, write_from)
    if changed is not None and changed < analysed_through - timedelta(days=RETENTION_DAYS):
        # history changed further back than a night covers (a back-dated import): everything
        # from there on is rewritten, unless that is most of the history anyway
        earliest = fetch_one(con, "SELECT min(day) FROM snapshots WHERE day <= ?", [as_of])
        first = earliest[0] if earliest and earliest[0] is not None else write_from
        if (as_of - write_from).days >= (as_of - first).days / 2:
            return Plan(None)
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
            "summary_days": summary_days,
            "context": context_days,
            "as_of": as_of,
        },
    ).pl()
    return Plan(write_from, accounts)


def _open_drips_from(con: duckdb.DuckDBPyConnection, as_of: date, write_from: date) -> date:
    """A drip is dated on its first day but its evidence runs to its last day plus 30: a run
    still open within those 30 days is rewritten from its first day."""
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
    return min(write_from, row[0]) if row and row[0] is not None else write_from


@dataclass(frozen=True)
class Loaded:
    """Snapshots by account id and day (sorted), NaN where a figure is unknown; the accounts'
    names; and each account's last day kept (a day number; None: every day is new)."""

    aid: np.ndarray  # int32
    day: np.ndarray  # int32 days since 1970-01-01
    values: dict[str, np.ndarray]  # LOADED_VALUES, float64
    names: pl.DataFrame  # aid, platform, handle
    after: np.ndarray | None


def load_snapshots(con: duckdb.DuckDBPyConnection, as_of: date, plan: Plan) -> Loaded:
    """The snapshots a run computes on, up to `as_of`: all of them, or the plan's windows."""
    values = ", ".join(LOADED_VALUES)
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
        rows, after = _windows(con, as_of, plan, values)
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
    names: pl.DataFrame = con.sql("SELECT aid, platform, handle FROM _accounts ORDER BY aid").pl()
    return Loaded(
        np.asarray(arrays["aid"], dtype=np.int32),
        np.asarray(arrays["day"], dtype=np.int32),
        {name: np.asarray(arrays[name], dtype=np.float64) for name in LOADED_VALUES},
        names,
        after,
    )


def _windows(
    con: duckdb.DuckDBPyConnection, as_of: date, plan: Plan, values: str
) -> tuple[str, np.ndarray]:
    """The query of the plan's windows, and each account's last day kept."""
    with registered(con, "_plan", plan.accounts):
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _windows AS
            SELECT a.aid, p.load_from, p.after, p.new
            FROM _accounts a JOIN _plan p USING (platform, handle)
            """
        )
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
    return rows, after


def loaded_snapshots(loaded: Loaded) -> tuple[pl.DataFrame, pl.DataFrame]:
    """new_snapshots with no `since` (every snapshot up to the day: a first analysis), from a
    full load's arrays instead of the warehouse: the same rows and accounts, the figures as
    the arrays hold them (NaN where unknown, which the checks read as missing)."""
    aid = loaded.aid
    last = np.flatnonzero(np.r_[aid[1:] != aid[:-1], True]) if len(aid) else np.zeros(0, int)
    day = pl.Series("day", loaded.day).cast(pl.Date)
    rows = pl.DataFrame({"account": loaded.aid, "day": day} | loaded.values)
    newest = pl.DataFrame({"aid": loaded.aid[last], "day": day.gather(last)})
    accounts = (
        loaded.names.join(newest, on="aid")
        .select(pl.col("aid").alias("account"), "platform", "handle", "day")
        .sort("account")
    )
    return rows, accounts


def new_snapshots(
    con: duckdb.DuckDBPyConnection, as_of: date, since: datetime | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Snapshots written since the last analysis (all of them the first time): what is new.

    As numbers (account id, day, counts) sorted by account and day, and per account with a
    new row its platform, handle and newest day up to `as_of` in the warehouse, new or not
    (what freshness judges: a batch of back-dated rows, an import, leaves an account as fresh
    as it was): what checks.suites.validate_snapshot_rows reads.
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
    # one pass over the accounts' snapshots: those with a row written since `since`
    with_new = "" if since is None else "HAVING bool_or(s.written_at > ?)"
    accounts: pl.DataFrame = con.sql(
        f"""
        SELECT a.aid AS account, a.platform, a.handle, max(s.day) AS day
        FROM snapshots s JOIN _accounts a USING (platform, handle)
        WHERE s.day <= DATE '{as_of}' GROUP BY ALL {with_new} ORDER BY account
        """,
        params=params,
    ).pl()
    return rows, accounts


def stored_anomalies(con: duckdb.DuckDBPyConnection, write_from: date | None) -> pl.DataFrame:
    """The stored anomalies a run rewrites (from `write_from`; all when None), with when each
    was first detected (in UTC)."""
    since = "" if write_from is None else f"WHERE day >= DATE '{write_from}'"
    stored: pl.DataFrame = con.sql(
        f"SELECT platform, handle, day, kind, detected_at FROM anomalies {since}"
    ).pl()
    return stored.with_columns(pl.col("detected_at").dt.convert_time_zone("UTC"))


def anomalies_between(con: duckdb.DuckDBPyConnection, since: date, until: date) -> pl.DataFrame:
    """The anomalies after `since`, up to `until`."""
    found: pl.DataFrame = con.sql(
        f"SELECT * FROM anomalies WHERE day > DATE '{since}' AND day <= DATE '{until}'"
    ).pl()
    return found


def account_histories(
    con: duckdb.DuckDBPyConnection, as_of: date, accounts: pl.DataFrame
) -> list[tuple[Any, ...]]:
    """Per account (platform, handle): its days with a figure up to `as_of`, and its anomalies
    up to `as_of` as (day, kind, verdict, confidence), by day."""
    with registered(con, "_judged_accounts", accounts):
        return con.execute(
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
