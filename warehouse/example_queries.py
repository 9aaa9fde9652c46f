"""Queries the commands suggest to an operator (`audience query "..."`), kept with the schema
they read."""

from __future__ import annotations

from datetime import date

# the accounts a collection missed, and why
FAILED_COLLECTIONS = "SELECT * FROM collection_log WHERE outcome <> 'ok' ORDER BY observed_at DESC"
# the simplest query there is
EVERY_ACCOUNT = "SELECT * FROM accounts"
# the demo's account whose growth is watched
STREAMER_DAYS = (
    "SELECT day, followers, daily_gain, robust_z FROM daily_metrics "
    "WHERE handle = 'streamer_one' ORDER BY day DESC LIMIT 14"
)


def fastest_growing(day: date) -> str:
    """The five accounts that grew most over 28 days, as of DAY."""
    return (
        "SELECT platform, handle, followers, growth_rel_28 FROM daily_metrics "
        f"WHERE day = DATE '{day}' ORDER BY growth_rel_28 DESC LIMIT 5"
    )
