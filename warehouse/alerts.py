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
        WHERE a.day > ? AND a.day <= ? AND (? OR a.attribution <> 'data_artifact')
        ORDER BY a.suspected_purchase DESC, a.severity, a.day, a.platform, a.handle
        """,
        params=[as_of - timedelta(days=lookback_days), as_of, artifacts],
    ).pl()
    return frame


def queue(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """Add (anomaly, recipient) pairs not seen before as queued."""
    if rows.is_empty():
        return
    con.register(
        "_queue",
        rows.select(*KEY, "recipient").with_columns(pl.lit(datetime.now(UTC)).alias("queued_at")),
    )
    try:
        con.execute(
            "INSERT INTO alerts (platform, handle, day, kind, recipient, status, queued_at) "
            "SELECT platform, handle, day, kind, recipient, 'queued', queued_at FROM _queue "
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
        SELECT q.recipient, a.*, acc.display_name
        FROM alerts q
        JOIN anomalies a USING (platform, handle, day, kind)
        LEFT JOIN accounts acc USING (platform, handle)
        WHERE q.status = 'queued'
        ORDER BY q.recipient, a.day, a.platform, a.handle
        """
    ).pl()
    return frame


def record(
    con: duckdb.DuckDBPyConnection,
    recipient: str,
    keys: Sequence[tuple[str, str, date, str]],
    *,
    sent: bool,
    channel: str | None = None,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    now = datetime.now(UTC)
    for platform, handle, day, kind in keys:
        con.execute(
            """
            UPDATE alerts SET attempts = attempts + 1,
                status = CASE WHEN ? THEN 'sent' ELSE status END,
                channel = coalesce(?, channel), message_id = coalesce(?, message_id),
                sent_at = CASE WHEN ? THEN ? ELSE sent_at END, last_error = ?
            WHERE platform = ? AND handle = ? AND day = ? AND kind = ? AND recipient = ?
            """,
            [sent, channel, message_id, sent, now, error, platform, handle, day, kind, recipient],
        )
