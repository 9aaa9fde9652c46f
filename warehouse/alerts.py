"""The alerts ledger: queue what is new for each recipient, record what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

KEY = ("platform", "handle", "day", "kind")


def alertable(
    con: duckdb.DuckDBPyConnection, as_of: date, lookback_days: int, artifacts: bool
) -> pl.DataFrame:
    """Anomalies of the last `lookback_days` worth telling someone about, with account details."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT a.*, acc.display_name, coalesce(acc.tags, []) AS tags
        FROM anomalies a LEFT JOIN accounts acc USING (platform, handle)
        WHERE a.day > ? AND a.day <= ? AND (? OR a.verdict NOT IN ('data_artifact', 'data_gap'))
        ORDER BY a.suspected_purchase DESC, a.severity, a.day, a.platform, a.handle
        """,
        params=[as_of - timedelta(days=lookback_days), as_of, artifacts],
    ).pl()
    return frame


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


def queue(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """Add (anomaly, recipient, stage) triples not seen before as queued, with the verdict told."""
    if rows.is_empty():
        return
    con.register(
        "_queue",
        rows.select(*KEY, "recipient", "stage", "verdict").with_columns(
            pl.lit(datetime.now(UTC)).alias("queued_at")
        ),
    )
    try:
        con.execute(
            "INSERT INTO alerts (platform, handle, day, kind, recipient, stage, verdict, status, queued_at) "
            "SELECT platform, handle, day, kind, recipient, stage, verdict, 'queued', queued_at FROM _queue "
            "ON CONFLICT DO NOTHING"
        )
    finally:
        con.unregister("_queue")


def queued(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each queued (anomaly, recipient) with the anomaly and the account's name.

    An anomaly recomputed away since it was queued has no row in `anomalies` and is left out.
    """
    frame: pl.DataFrame = con.sql(
        """
        SELECT q.recipient, q.stage, a.*, acc.display_name
        FROM alerts q
        JOIN anomalies a USING (platform, handle, day, kind)
        LEFT JOIN accounts acc USING (platform, handle)
        WHERE q.status = 'queued'
        ORDER BY q.recipient, a.day, a.platform, a.handle
        """
    ).pl()
    return frame


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
