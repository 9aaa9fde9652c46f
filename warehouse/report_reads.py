"""What the HTML report reads: every account's line with its verdict, the anomalies through the
report's day, and the days its charts draw (followers, daily gain, gaps, baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date

import duckdb
import polars as pl

# the comparison group a percentile is shown for: at least this many accounts of the platform
# and size tier (below it the percentile says little and the report says so instead)
MIN_PEER_GROUP = 10


@dataclass(frozen=True)
class AccountLine:
    """One account's row of the report (`account_metrics` with the account's name, the size of
    its comparison group and the audience its flagged days involve)."""

    platform: str
    handle: str
    display_name: str | None
    account_verdict: str | None
    account_confidence: str | None
    followers: float | None
    growth_rel_28: float | None
    growth_percentile: float | None
    suspected_purchases_90: int | None
    suspected_purchases_all: int | None
    next_milestone: int | None
    milestone_date: date | None
    size_tier: str | None
    peer_group: int  # accounts of the same platform and size tier (the percentile's group)
    involved: float  # above-normal growth of its suspected, unexplained and pending days
    last_flagged: date | None


_FROM_ACCOUNTS = {"display_name"}
_COMPUTED = {
    "peer_group": "count(*) OVER (PARTITION BY m.platform, m.size_tier)",
    "involved": "coalesce(f.involved, 0)",
    "last_flagged": "f.last_flagged",
}
ACCOUNT_LINE_COLUMNS = ", ".join(
    _COMPUTED.get(f.name, f"{'a' if f.name in _FROM_ACCOUNTS else 'm'}.{f.name}") + f" AS {f.name}"
    for f in fields(AccountLine)
)
VERDICT_RANK = (
    "CASE m.account_verdict WHEN 'bought_audience_likely' THEN 0 "
    "WHEN 'unusual_growth_to_review' THEN 1 WHEN 'not_enough_history' THEN 3 ELSE 2 END"
)


def account_lines(con: duckdb.DuckDBPyConnection, as_of: date) -> list[AccountLine]:
    """Accounts that need attention first: bought audience likely, then unusual growth, each
    by the share of its audience its flagged days involve; then the rest by size."""
    rows = con.execute(
        f"""
        WITH f AS (
            SELECT platform, handle, max(day) AS last_flagged,
                   sum(greatest(coalesce(excess, 0), 0)) FILTER (
                       WHERE verdict IN ('suspected_purchase', 'unexplained', 'pending')
                   ) AS involved
            FROM anomalies WHERE day <= ? GROUP BY ALL
        )
        SELECT {ACCOUNT_LINE_COLUMNS} FROM account_metrics m
        LEFT JOIN accounts a USING (platform, handle)
        LEFT JOIN f USING (platform, handle)
        ORDER BY {VERDICT_RANK},
                 coalesce(f.involved, 0) / greatest(coalesce(m.followers, 0), 1) DESC,
                 m.followers DESC NULLS LAST, m.platform, m.handle
        """,
        [as_of],
    ).fetchall()
    return [AccountLine(*row) for row in rows]


def anomalies_through(con: duckdb.DuckDBPyConnection, as_of: date) -> pl.DataFrame:
    """The anomalies up to `as_of`, each with `sample_queued`: how far its queued follower
    sample got (sample_summaries' note), null when none is queued."""
    frame: pl.DataFrame = con.sql(
        """
        SELECT a.*, s.note AS sample_queued
        FROM anomalies a
        LEFT JOIN sample_summaries s
          ON s.platform = a.platform AND s.handle = a.handle AND s.day = a.day
         AND s.kind = 'jump' AND s.status = 'queued'
        WHERE a.day <= ? ORDER BY a.day
        """,
        params=[as_of],
    ).pl()
    return frame


CHART_DAY_COLUMNS = (
    "day",
    "followers",
    "observed",
    "daily_gain",
    "spread_days",
    "baseline_median",
    "baseline_sigma",
)


def chart_days(
    con: duckdb.DuckDBPyConnection,
    after: date,
    through: date,
    accounts: Sequence[tuple[str, str]],
) -> dict[tuple[str, str], pl.DataFrame]:
    """The days the charts of `accounts` draw, after `after` and through `through`, by account
    (one read, grouped once): followers (interpolated across a gap: `observed` false), the
    daily gain and the days it was spread over, and the baseline of daily gains."""
    if not accounts:
        return {}
    wanted = [f"{p}\x1f{h}" for p, h in accounts]
    frame: pl.DataFrame = con.sql(
        f"SELECT platform, handle, {', '.join(CHART_DAY_COLUMNS)} FROM daily_metrics "
        "WHERE day > $after AND day <= $through "
        "AND list_contains($wanted, platform || chr(31) || handle) ORDER BY platform, handle, day",
        params={"after": after, "through": through, "wanted": wanted},
    ).pl()
    return {
        (str(key[0]), str(key[1])): part.drop("platform", "handle")
        for key, part in frame.partition_by(
            ["platform", "handle"], as_dict=True, maintain_order=True
        ).items()
    }
