"""The second half of a backfill (pipeline.backfill): the daily star counts rebuilt from the
stored stargazer pages (`rebuild`: exact from the timestamps, a straight line past GitHub's page
cap), reconciled with what is stored and written in one transaction (`write_rebuild`), and
what it did (`BackfillSummary`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from collectors.stargazers import PAGE_CAP, PER_PAGE
from core.errors import plural
from core.settings import Settings
from pipeline.stargazer_pages import ReadState
from warehouse import backfill as stored
from warehouse.db import in_transaction, open_warehouse
from warehouse.runs import finish_run, start_run
from warehouse.snapshots import upsert_snapshots

SOURCE = "backfill:github"
ESTIMATED = "backfill:github:estimated"


@dataclass
class BackfillSummary:
    account: str
    stars: int  # GitHub's count now
    listed: int  # stars whose timestamps were read
    pages: int  # pages read in all (earlier interrupted runs included)
    pages_now: int  # pages read by this call
    capped: bool  # GitHub's page cap hid the newest stars
    first_day: date | None = None
    exact_through: date | None = None  # the last day rebuilt from timestamps alone
    estimated_days: int = 0
    written: int = 0  # snapshot rows inserted or changed
    written_estimated: int = 0  # of which estimated (ESTIMATED)
    days: int = 0  # days the rebuild covers
    last_day: date | None = None  # today: its count is GitHub's own
    kept: int = 0  # days left to collected or imported figures
    run_id: str = ""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = (
            f"rebuilt {self.account} from {plural(self.listed, 'stargazer')}' timestamps "
            f"({plural(self.pages, 'page')}, {self.pages_now} read now): "
        )
        if not self.capped:
            span = (
                f"{self.first_day} to {self.exact_through}" if self.first_day is not None else "-"
            )
            head += (
                f"{plural(self.days, 'day')}, exact from {span}; "
                f"{plural(self.written, 'snapshot')} written as {SOURCE}"
            )
        else:  # what is exact and what is estimated, and what each was written as
            exact = self.days - self.estimated_days
            through = (
                f"{self.first_day} to {self.exact_through} and today's count, GitHub's own"
                if self.exact_through is not None
                else "today's count, GitHub's own"
            )
            head += (
                f"{plural(self.days, 'day')} from {self.first_day} to {self.last_day}: "
                f"{exact:,} exact ({through}), {self.estimated_days:,} estimated; "
                f"{plural(self.written - self.written_estimated, 'snapshot')} written as "
                f"{SOURCE}, {self.written_estimated:,} as {ESTIMATED}"
            )
        out = [head]
        if self.capped:
            out.append(
                f"GitHub lists only the first {PAGE_CAP * PER_PAGE:,} stars ({PAGE_CAP} pages): "
                f"{plural(self.estimated_days, 'day')} after {self.exact_through} were estimated "
                f"(a straight line to today's {self.stars:,} stars) and written as {ESTIMATED}"
            )
        return out + self.notes

    def as_dict(self) -> dict[str, Any]:
        """The figures, as the run records them (not its id, nor the notes)."""
        return {k: v for k, v in asdict(self).items() if k not in ("run_id", "notes")}


def rebuild(
    per_day: pl.DataFrame, today: date, stars_now: int, capped: bool
) -> tuple[pl.DataFrame, date | None]:
    """The rebuilt days (day, followers, source) from the stars per day, and the last day
    rebuilt exactly.

    Each day's count is the stars listed with `starred_at` on or before it. Past the page cap
    the day of the last star listed may hold more stars than were read: it and the days after
    it, to yesterday, are estimated on a straight line from the last exact day's count to
    today's count (GitHub's `stargazers_count`, exact: today is written as `backfill:github`).
    """
    per_day = per_day.filter(pl.col("day") <= today)
    schema = {"day": pl.Date, "followers": pl.Int64, "source": pl.String}
    if per_day.height == 0:
        return pl.DataFrame(
            {"day": [today], "followers": [stars_now], "source": [SOURCE]}, schema=schema
        ), None
    first, last_star = per_day.get_column("day")[0], per_day.get_column("day")[-1]
    days = pl.DataFrame({"day": pl.date_range(first, today, "1d", eager=True)})
    counts = (
        days.join(per_day, on="day", how="left")
        .with_columns(pl.col("stars").fill_null(0).cum_sum().cast(pl.Int64).alias("followers"))
        .select("day", "followers", pl.lit(SOURCE).alias("source"))
    )
    if not capped:
        return counts, today
    through = last_star - timedelta(days=1)
    exact = counts.filter(pl.col("day") <= through)
    start = int(exact.get_column("followers")[-1]) if exact.height else 0
    span = (today - through).days
    estimated = [
        (through + timedelta(days=k), round(start + (stars_now - start) * k / span), ESTIMATED)
        for k in range(1, span)
    ]
    tail = pl.DataFrame([*estimated, (today, stars_now, SOURCE)], schema=schema, orient="row")
    return pl.concat([exact, tail]), through if exact.height else None


def write_rebuild(
    warehouse: Path, settings: Settings, state: ReadState, today: date
) -> BackfillSummary:
    """The rebuild into snapshots, the run recorded and the pages deleted: one transaction."""
    assert state.repo is not None
    platform, handle = state.platform, state.handle
    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, timeout_s=timeout) as con, in_transaction(con):
        per_day = stored.stars_per_day(con, platform, handle)
        pages, _, _ = stored.pages_stored(con, platform, handle)
        frame, through = rebuild(per_day, today, state.repo.stars, state.capped)
        kept = stored.kept_days(con, platform, handle)
        overlap = kept.join(frame, on="day", suffix="_rebuilt")
        fresh = frame.join(kept.select("day"), on="day", how="anti")
        run_id = start_run(con, "backfill", today)
        written = {}  # rows inserted or changed, by source: the summary says each
        for source in (SOURCE, ESTIMATED):
            rows = fresh.filter(pl.col("source") == source)
            if rows.height:
                counts = upsert_snapshots(
                    con,
                    rows.with_columns(
                        pl.lit(platform).alias("platform"),
                        pl.lit(handle).alias("handle"),
                        pl.lit(run_id).alias("run_id"),
                    ),
                )
                written[source] = counts.inserted + counts.updated
        stored.clear_pages(con, platform, handle)
        summary = BackfillSummary(
            account=state.account,
            stars=state.repo.stars,
            listed=int(per_day.get_column("stars").sum()) if per_day.height else 0,
            pages=pages,
            pages_now=state.pages_now,
            capped=state.capped,
            first_day=frame.get_column("day")[0] if frame.height else None,
            exact_through=through,
            estimated_days=frame.filter(pl.col("source") == ESTIMATED).height,
            written=sum(written.values()),
            written_estimated=written.get(ESTIMATED, 0),
            days=frame.height,
            last_day=frame.get_column("day")[-1] if frame.height else None,
            kept=overlap.height,
            run_id=run_id,
        )
        if overlap.height:
            gap = overlap.select(
                (pl.col("followers") - pl.col("followers_rebuilt")).alias("gap"), "day"
            ).sort("gap", descending=True)
            most, day = int(gap.get_column("gap")[0]), gap.get_column("day")[0]
            summary.notes.append(
                f"{plural(overlap.height, 'day')} with a collected or imported figure were "
                f"left as they are; on them the rebuild gives at most {most:,} stars fewer "
                f"(on {day}): the stargazers list holds today's stars only, not those removed since"
            )
        if not state.capped and summary.listed != state.repo.stars:
            summary.notes.append(
                f"GitHub counts {state.repo.stars:,} stars and listed {summary.listed:,} "
                "(stars given or removed while the pages were read): the rebuild follows the list"
            )
        finish_run(con, run_id, "ok", summary.as_dict())
    return summary
