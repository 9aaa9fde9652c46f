"""The alerts ledger (the `alerts` table): queue what is new for each recipient, read what is
queued with its anomaly, record what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from warehouse.query import fetch_one, registered
from warehouse.records import AnomalyFacts

KEY = ("platform", "handle", "day", "kind")


@dataclass(frozen=True)
class NewAnomaly:
    """An anomaly worth telling someone about, with the account's tags (to find recipients)."""

    platform: str
    handle: str
    day: date
    kind: str
    verdict: str
    tags: list[str]


@dataclass(frozen=True)
class Pending:
    """One (anomaly, recipient, stage) to queue, with the verdict it will tell."""

    platform: str
    handle: str
    day: date
    kind: str
    recipient: str
    stage: str
    verdict: str


@dataclass(frozen=True)
class QueuedAlert(AnomalyFacts):
    """A queued (anomaly, recipient, stage), with the anomaly's figures and the account's name."""

    recipient: str
    stage: str
    platform: str
    handle: str
    display_name: str | None
    followers_before: float | None
    followers: float | None
    gain: float | None
    baseline_median: float | None
    excess: float | None
    score: float | None
    retention_7: float | None
    retention_30: float | None
    check_name: str | None
    thresholds: str | None
    verdict: str | None
    confidence: str | None


def alertable(
    con: duckdb.DuckDBPyConnection, as_of: date, lookback_days: int, artifacts: bool
) -> list[NewAnomaly]:
    """Anomalies of the last `lookback_days` worth telling someone about, with account details."""
    rows = con.execute(
        """
        SELECT a.platform, a.handle, a.day, a.kind, a.verdict, coalesce(acc.tags, []) AS tags
        FROM anomalies a LEFT JOIN accounts acc USING (platform, handle)
        WHERE a.day > ? AND a.day <= ? AND (? OR a.verdict NOT IN ('data_artifact', 'data_gap'))
        ORDER BY a.suspected_purchase DESC, a.severity, a.day, a.platform, a.handle
        """,
        [as_of - timedelta(days=lookback_days), as_of, artifacts],
    ).fetchall()
    return [NewAnomaly(*row) for row in rows]


def follow_ups(con: duckdb.DuckDBPyConnection, as_of: date, lookback_days: int) -> pl.DataFrame:
    """Second alerts, one each at most, for anomalies whose verdict changed since the first.

    `verdict`: the first alert said pending or unexplained and the verdict is now a suspected
    purchase; `closed`: the first alert said pending and the watch ended without one.
    """
    frame: pl.DataFrame = con.sql(
        """
        SELECT f.platform, f.handle, f.day, f.kind, f.recipient, a.verdict,
               CASE WHEN a.verdict = 'suspected_purchase' THEN 'verdict' ELSE 'closed' END AS stage
        FROM alerts f JOIN anomalies a USING (platform, handle, day, kind)
        WHERE f.stage = 'first' AND f.status = 'sent' AND a.day > ? AND a.day <= ?
          AND f.verdict IS DISTINCT FROM a.verdict
          AND ((a.verdict = 'suspected_purchase')
               OR (f.verdict = 'pending' AND a.verdict <> 'pending'))
          AND NOT EXISTS (
              SELECT 1 FROM alerts s
              WHERE s.platform = f.platform AND s.handle = f.handle AND s.day = f.day
                AND s.kind = f.kind AND s.recipient = f.recipient AND s.stage <> 'first')
        """,
        params=[as_of - timedelta(days=lookback_days), as_of],
    ).pl()
    return frame


def queue(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame | Sequence[Pending]) -> None:
    """Add (anomaly, recipient, stage) triples not seen before as queued, with the verdict told."""
    if not isinstance(rows, pl.DataFrame):
        rows = pl.DataFrame([asdict(r) for r in rows])
    if rows.is_empty():
        return
    with registered(
        con,
        "_queue",
        rows.select(*KEY, "recipient", "stage", "verdict").with_columns(
            pl.lit(datetime.now(UTC)).alias("queued_at")
        ),
    ):
        con.execute(
            "INSERT INTO alerts (platform, handle, day, kind, recipient, stage, verdict, status, queued_at) "
            "SELECT platform, handle, day, kind, recipient, stage, verdict, 'queued', queued_at FROM _queue "
            "ON CONFLICT DO NOTHING"
        )


_FROM_ALERTS = {"recipient": "q", "stage": "q", "display_name": "acc"}
QUEUED_COLUMNS = ", ".join(f"{_FROM_ALERTS.get(f.name, 'a')}.{f.name}" for f in fields(QueuedAlert))


def queued(con: duckdb.DuckDBPyConnection) -> list[QueuedAlert]:
    """Each queued (anomaly, recipient) with the anomaly and the account's name.

    An anomaly recomputed away since it was queued has no row in `anomalies` and is left out.
    """
    rows = con.execute(
        f"""
        SELECT {QUEUED_COLUMNS}
        FROM alerts q
        JOIN anomalies a USING (platform, handle, day, kind)
        LEFT JOIN accounts acc USING (platform, handle)
        WHERE q.status = 'queued'
        ORDER BY q.recipient, a.day, a.platform, a.handle
        """
    ).fetchall()
    return [QueuedAlert(*row) for row in rows]


def count_queued(con: duckdb.DuckDBPyConnection) -> int:
    """How many (anomaly, recipient, stage) are still waiting to be sent."""
    row = fetch_one(con, "SELECT count(*) FROM alerts WHERE status = 'queued'")
    return int(row[0]) if row else 0


def followers_between(
    con: duckdb.DuckDBPyConnection, platform: str, handle: str, first: date, last: date
) -> list[tuple[date, float]]:
    """An account's followers by day from `first` to `last` (an alert's chart)."""
    rows = con.execute(
        "SELECT day, followers FROM daily_metrics WHERE platform = ? AND handle = ? "
        "AND day BETWEEN ? AND ? ORDER BY day",
        [platform, handle, first, last],
    ).fetchall()
    return [(d, f) for d, f in rows]


def record(  # the verdict a sent message told is what a follow-up is compared with
    con: duckdb.DuckDBPyConnection,
    recipient: str,
    keys: Sequence[tuple[str, str, date, str, str, str | None]],
    *,
    sent: bool,
    channel: str | None = None,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    now = datetime.now(UTC)
    for platform, handle, day, kind, stage, verdict in keys:
        con.execute(
            """
            UPDATE alerts SET attempts = attempts + 1,
                status = CASE WHEN ? THEN 'sent' ELSE status END,
                channel = coalesce(?, channel), message_id = coalesce(?, message_id),
                sent_at = CASE WHEN ? THEN ? ELSE sent_at END, last_error = ?,
                verdict = CASE WHEN ? THEN ? ELSE verdict END
            WHERE platform = ? AND handle = ? AND day = ? AND kind = ? AND recipient = ?
              AND stage = ?
            """,
            [
                *(sent, channel, message_id, sent, now, error, sent, verdict),
                *(platform, handle, day, kind, recipient, stage),
            ],
        )
