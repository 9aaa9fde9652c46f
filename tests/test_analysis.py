from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest

from checks.suites import GXChecker
from core.detection import DetectionSettings
from core.records import SuiteCheck
from pipeline.analyse import analyse
from warehouse.analysis_load import Plan, load_snapshots, loaded_snapshots, new_snapshots
from warehouse.snapshots import upsert_snapshots

T = DetectionSettings()
D0 = date(2024, 1, 1)


def history(n: int = 200, accounts: int = 6) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    frames = []
    for i in range(accounts):
        gains = rng.poisson(20 + 10 * i, n).astype(float)
        gains[140 - 15 * i] += 2500  # one purchase each, at different ages
        frames.append(
            pl.DataFrame(
                {
                    "platform": "x",
                    "handle": f"a{i}",
                    "day": [D0 + timedelta(d) for d in range(n)],
                    "followers": (1000 + np.cumsum(gains)).astype(np.int64),
                    "source": "import:test",
                }
            )
        )
    rows = pl.concat(frames)
    return rows.filter(
        ~(
            (pl.col("handle") == "a1")
            & pl.col("day").is_between(D0 + timedelta(150), D0 + timedelta(153))
        )
    )


def tables(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    metrics = con.sql("SELECT * EXCLUDE (computed_at) FROM daily_metrics ORDER BY ALL").pl()
    anomalies = con.sql("SELECT * EXCLUDE (detected_at) FROM anomalies ORDER BY ALL").pl()
    return metrics, anomalies


def test_nightly_increments_equal_a_full_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    # a5 goes quiet after day 150: its newest day's 90-day growth needs older history
    rows = history().filter((pl.col("handle") != "a5") | (pl.col("day") <= D0 + timedelta(150)))
    cut = D0 + timedelta(120)
    upsert_snapshots(con, rows.filter(pl.col("day") <= cut))
    assert analyse(con, T, cut).mode == "full"
    modes = set()
    for k in range(1, 80):
        day = cut + timedelta(k)
        upsert_snapshots(con, rows.filter(pl.col("day") == day))
        modes.add(analyse(con, T, day).mode)
    assert modes == {"incremental"}
    incremental = tables(con)
    standing = con.sql("SELECT * FROM account_metrics ORDER BY ALL").pl()
    assert analyse(con, T, day, full=True).mode == "full"
    rebuilt = tables(con)
    assert incremental[0].equals(rebuilt[0])
    assert incremental[1].equals(rebuilt[1])
    assert standing.equals(con.sql("SELECT * FROM account_metrics ORDER BY ALL").pl())
    assert standing.height == 6
    [(rows, distinct)] = con.execute(
        "SELECT count(*), count(DISTINCT (platform, handle, day)) FROM daily_metrics"
    ).fetchall()
    assert rows == distinct
    assert incremental[1].height == 6  # every purchase found, once


def test_old_history_arriving_triggers_a_full_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    rows = history()
    recent = rows.filter(pl.col("day") >= D0 + timedelta(100))
    upsert_snapshots(con, recent)
    last = D0 + timedelta(199)
    analyse(con, T, last)
    upsert_snapshots(
        con, rows.filter(pl.col("day") < D0 + timedelta(100))
    )  # an import of older days
    summary = analyse(con, T, last)
    assert summary.mode == "full"
    assert con.execute("SELECT min(day) FROM daily_metrics").fetchall()[0][0] == D0


def test_a_back_dated_change_rewrites_from_its_day_and_agrees_with_a_full_rebuild(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """A figure changed 140 days back (an `import --replace`) is analysed from there on, for
    every account, not by a rebuild of the whole history; the result is the rebuild's."""
    n = 700
    rows = history(n)
    last = D0 + timedelta(n - 1)
    upsert_snapshots(con, rows)
    assert analyse(con, T, last).mode == "full"
    changed = D0 + timedelta(n - 140)
    # a2's figures from that day on corrected upwards by 3,000: a jump the analysis had not seen
    fixed = rows.filter((pl.col("handle") == "a2") & (pl.col("day") >= changed)).with_columns(
        pl.col("followers") + 3000, pl.lit("import:fix").alias("source")
    )
    upsert_snapshots(con, fixed)
    summary = analyse(con, T, last)
    assert summary.mode == "incremental"
    assert summary.days_written < rows.height / 3  # not the whole history again
    incremental = tables(con)
    assert (
        incremental[1].filter((pl.col("handle") == "a2") & (pl.col("day") == changed)).height
    )  # the back-dated jump is found
    assert analyse(con, T, last, full=True).mode == "full"
    rebuilt = tables(con)
    assert incremental[0].equals(rebuilt[0])
    assert incremental[1].equals(rebuilt[1])


def test_a_first_analysis_checks_the_snapshots_it_loaded_as_the_warehouse_holds_them(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """A first analysis validates every snapshot from the arrays it loaded (on a thread of its
    own, beside the scoring): the same rows, accounts and verdict of the suite as read from
    the warehouse, unknown figures included, and a stale night said the same way."""
    rows = history().with_columns(
        pl.when(pl.col("day").dt.day() % 3 == 0)
        .then(None)
        .otherwise(pl.col("followers") // 9)
        .alias("following")
    )
    upsert_snapshots(con, rows)
    last = D0 + timedelta(209)  # ten days after the newest figure: not fresh
    loaded = load_snapshots(con, last, Plan(None))
    arrays = loaded_snapshots(loaded)
    stored = new_snapshots(con, last, None)
    assert arrays[1].equals(stored[1])
    figures = ("followers", "following", "posts")
    as_floats = stored[0].with_columns(
        pl.col(f).cast(pl.Float64).fill_null(np.nan) for f in figures
    )
    assert arrays[0].equals(as_floats)
    checker = GXChecker()
    verdict = checker.snapshots(*arrays, last)
    assert verdict == checker.snapshots(*stored, last)
    assert verdict["success"] is False
    assert [f["expectation"] for f in verdict["failed"]] == ["expect_column_max_to_be_between"]
    assert analyse(con, T, last, checker=checker).checks.snapshots == SuiteCheck.of(verdict)
    # --full checks every snapshot again, with the same verdict (it checked none before)
    assert analyse(con, T, last, full=True, checker=checker).checks.snapshots == SuiteCheck.of(
        verdict
    )


def test_nothing_new_rewrites_only_the_retention_window(con: duckdb.DuckDBPyConnection) -> None:
    upsert_snapshots(con, history())
    last = D0 + timedelta(199)
    analyse(con, T, last)
    first = con.execute("SELECT detected_at FROM anomalies ORDER BY day LIMIT 1").fetchall()
    # nothing new at all: nothing to do (tests/test_analysis_unchanged.py)
    assert analyse(con, T, last).mode == "unchanged"
    # no new snapshot, but something else the analysis reads (a night's engagement): the
    # window again, not the history
    con.execute(
        "INSERT INTO engagement (platform, handle, day, outcome, median_interactions, "
        "observed_at) VALUES ('x', 'a0', ?, 'ok', 3, now())",
        [last],
    )
    summary = analyse(con, T, last)
    assert summary.mode == "incremental"
    assert summary.days_written <= 6 * 31
    assert con.execute("SELECT detected_at FROM anomalies ORDER BY day LIMIT 1").fetchall() == first
    assert summary.new_anomalies == 0


def test_empty_warehouse_analyses_nothing(con: duckdb.DuckDBPyConnection) -> None:
    summary = analyse(con, T, D0)
    assert (summary.accounts, summary.days_written, summary.anomalies) == (0, 0, 0)


def test_chunks_of_accounts_give_the_same_result() -> None:
    from datetime import UTC, datetime

    from transforms.compute import compute

    rng = np.random.default_rng(3)
    frames = []
    for i in range(7):
        gains = rng.poisson(20, 150).astype(float)
        gains[90] += 1500  # a platform-wide surge: only visible when all chunks are counted
        if i == 2:
            gains[40] += 3000
        frames.append(
            pl.DataFrame(
                {
                    "platform": "x",
                    "handle": f"a{i}",
                    "day": [D0 + timedelta(d) for d in range(150)],
                    "followers": 1000 + np.cumsum(gains),
                }
            )
        )
    snapshots = pl.concat(frames)
    as_of = D0 + timedelta(days=149)
    detected = datetime.now(UTC)  # compute reads no clock: the caller says when
    whole, anomalies_whole, _, recent_whole = compute(snapshots, as_of, T, detected_at=detected)
    split, anomalies_split, _, recent_split = compute(
        snapshots, as_of, T, chunk_accounts=2, detected_at=detected
    )
    assert whole.equals(split)
    assert recent_whole.equals(recent_split)
    assert recent_whole.get_column("day").min() == as_of - timedelta(days=90)
    drop = ["detected_at"]
    assert anomalies_whole.drop(drop).equals(anomalies_split.drop(drop))
    assert set(
        anomalies_split.filter(pl.col("day") == D0 + timedelta(90)).get_column("attribution")
    ) == {"platform_event"}
    assert anomalies_split.filter(pl.col("suspected_purchase")).get_column("handle").to_list() == [
        "a2"
    ]
    assert datetime.now(UTC) >= anomalies_split.get_column("detected_at").max()
    assert set(anomalies_split.get_column("detected_at")) == {detected}


def test_accounts_never_reach_into_each_other_with_the_longest_windows() -> None:
    from transforms.compute import compute

    t = DetectionSettings(baseline_days=365, drip_window_days=60, churn_window_days=90)
    rows = history(n=500, accounts=3)
    as_of = D0 + timedelta(days=499)
    together = compute(rows, as_of, t).metrics.drop("aid")
    alone = pl.concat(
        [
            compute(rows.filter(pl.col("handle") == h), as_of, t).metrics.drop("aid")
            for h in ("a0", "a1", "a2")
        ]
    )
    assert together.equals(alone)
    assert together.get_column("drip_margin").drop_nulls().len() > 0


def test_the_writes_time_counts_each_second_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time a run records for its writes (`write_metrics`) is the time its INSERTs took,
    once: a flush started by add() was counted by both, and the scoring's own time, the
    rest, came out negative (-9.4 s at 10,000 accounts). Here time passes only in INSERTs."""
    from warehouse import analysis_store

    now = [0.0]
    inserts: list[int] = []

    def insert(self: object, metrics: object, rows: int) -> None:
        inserts.append(rows)
        now[0] += 10.0

    monkeypatch.setattr(analysis_store.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(analysis_store, "WRITE_BATCH_ROWS", 3)
    monkeypatch.setattr(analysis_store.MetricsWriter, "_insert", insert)
    writer = analysis_store.MetricsWriter(None, None)  # type: ignore[arg-type]
    for _ in range(5):  # every second one fills a batch: add() flushes it
        writer.add({"keep": np.ones(2, dtype=bool), "aid": np.zeros(2, dtype=np.int32)})
    writer.flush()  # the last one
    assert inserts == [4, 4, 2]
    assert writer.seconds == 10.0 * len(inserts) == now[0]
