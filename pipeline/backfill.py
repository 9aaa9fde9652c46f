"""`audience backfill github:owner/repo`: a repository's daily star counts rebuilt from its
stargazers' `starred_at` (shared/docs/audience-apis.md, section 3.1) into `snapshots`.

Steps: read GitHub's count of the repository (one request; its rate-limit headers say the
budget); refuse in one line, before reading any page, when without a token the pages left
would need more than the budget's window (it says how long it would take); read the pages
left (collectors.stargazers, through the project's rate gate), keeping them in
`backfill_pages` every `flush_pages` pages (each flush one transaction: the cursor); then, in
one transaction, count the stars per UTC day, write the days into `snapshots` (source
`backfill:github`; for a repository past GitHub's 400-page cap the days after the last star
it lists are estimated, `backfill:github:estimated`), record the run and delete the pages.

Reconciled with what is stored: a day with a collected (`api:github`) or imported figure is
never written over; a day an earlier backfill wrote is rewritten. Ctrl-C leaves the pages
kept so far and no rebuilt day (exit 130); the same command continues from the cursor.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import polars as pl

from collectors.base import AuthFailed, CollectorError, NotFound, RateLimited
from collectors.rate_gate import Clock, SystemClock
from collectors.redaction import redacted_logs
from collectors.run import redactor_for
from collectors.stargazers import (
    AUTHENTICATED_LIMIT,
    PAGE_CAP,
    PER_PAGE,
    UNAUTHENTICATED_LIMIT,
    PageCapReached,
    Repository,
    StargazerClient,
)
from core.errors import AudienceError, Interrupted, PartlyDone, is_interrupt, plural
from core.platforms import parse_account
from core.settings import Settings
from warehouse import backfill as stored
from warehouse.db import in_transaction, open_warehouse
from warehouse.runs import finish_run, start_run
from warehouse.snapshots import upsert_snapshots

SOURCE = "backfill:github"
ESTIMATED = "backfill:github:estimated"
WINDOW_S = 3600.0  # GitHub's rate-limit window

Progress = Callable[[int, int], None]  # (pages read in all, pages to read in all)


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
    days: int = 0  # days the rebuild covers
    kept: int = 0  # days left to collected or imported figures
    run_id: str = ""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        span = f"{self.first_day} to {self.exact_through}" if self.first_day is not None else "-"
        out = [
            f"rebuilt {self.account} from {plural(self.listed, 'stargazer')}' timestamps "
            f"({plural(self.pages, 'page')}, {self.pages_now} read now): {plural(self.days, 'day')}, "
            f"exact from {span}; {plural(self.written, 'snapshot')} written as {SOURCE}"
        ]
        if self.capped:
            out.append(
                f"GitHub lists only the first {PAGE_CAP * PER_PAGE:,} stars ({PAGE_CAP} pages): "
                f"{plural(self.estimated_days, 'day')} after {self.exact_through} were estimated "
                f"(a straight line to today's {self.stars:,} stars) and written as {ESTIMATED}"
            )
        return out + self.notes

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "stars": self.stars,
            "listed": self.listed,
            "pages": self.pages,
            "pages_now": self.pages_now,
            "capped": self.capped,
            "first_day": self.first_day,
            "exact_through": self.exact_through,
            "estimated_days": self.estimated_days,
            "written": self.written,
            "days": self.days,
            "kept": self.kept,
        }


def repository(account: str) -> tuple[str, str]:
    """('github', 'owner/repo') from ACCOUNT, or one clear refusal."""
    platform, handle = parse_account(account)
    if platform != "github" or "/" not in handle:
        raise AudienceError(
            f"backfill rebuilds a GitHub repository's stars from its stargazers "
            f"(github:owner/repo), not {account!r}: no other platform lists when its audience "
            "arrived"
        )
    return platform, handle


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def budget_refusal(
    account: str, repo: Repository, needed: int, token: bool, now: float
) -> str | None:
    """Why, without a token, reading `needed` pages would take longer than the window's
    budget allows (None: it fits, or a token is set)."""
    if token or needed == 0:
        return None
    limit = repo.budget.limit or UNAUTHENTICATED_LIMIT
    remaining = repo.budget.remaining if repo.budget.remaining is not None else limit - 1
    if needed <= remaining:
        return None
    windows = math.ceil((needed - remaining) / limit)
    first = repo.budget.reset_at - now if repo.budget.reset_at is not None else WINDOW_S
    wait = max(first, 0.0) + (windows - 1) * WINDOW_S
    return (
        f"{account} has {repo.stars:,} stars: {plural(needed, 'page')} of stargazers to read, "
        f"and without a token GitHub allows {limit} requests an hour ({remaining} left now), "
        f"so it would take about {_duration(wait)}; set AUDIENCE_GITHUB_TOKEN ("
        f"{AUTHENTICATED_LIMIT:,} requests an hour) and run it again (nothing was stored)"
    )


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


@dataclass
class _Progress:
    """Where a backfill stands, for the messages of an interrupted or stopped one."""

    account: str
    platform: str
    handle: str
    next_page: int
    kept_pages: int  # pages kept in the warehouse
    repo: Repository | None = None
    pages_now: int = 0
    capped: bool = False
    stopped: str | None = None  # why it stopped before the last page (the rate limit)


def _flush(
    warehouse: Path, settings: Settings, state: _Progress, pending: list[tuple[int, list[datetime]]]
) -> None:
    if not pending:
        return
    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, timeout_s=timeout) as con, in_transaction(con):
        stored.store_pages(con, state.platform, state.handle, pending, datetime.now(UTC))
    state.kept_pages += len({n for n, _ in pending})
    pending.clear()


async def _read(
    warehouse: Path,
    settings: Settings,
    state: _Progress,
    *,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress | None,
    flush_pages: int,
) -> None:
    account, handle = state.account, state.handle
    async with StargazerClient.open(settings, clock=clock, transport=transport) as client:
        try:
            repo = state.repo = await client.repository(handle)
        except NotFound:
            raise AudienceError(
                f"{account}: GitHub has no such repository (HTTP 404 for /repos/{handle})"
            ) from None
        except AuthFailed as exc:
            raise AudienceError(f"{account}: GitHub refused the request: {exc.reason}") from None
        except RateLimited as exc:
            raise AudienceError(
                f"{account}: GitHub's rate limit is spent ({exc.reason}); nothing was stored, "
                "try again later"
            ) from None
        except CollectorError as exc:
            raise AudienceError(f"{account}: GitHub gave no usable answer: {exc.reason}") from None
        total = min(math.ceil(repo.stars / PER_PAGE), PAGE_CAP)
        needed = max(total - state.next_page + 1, 0)
        why = budget_refusal(
            account, repo, needed, settings.secrets.github_token is not None, clock.now()
        )
        if why:
            raise AudienceError(why)
        pending: list[tuple[int, list[datetime]]] = []
        page = state.next_page
        done_before = state.next_page - 1
        while total and page <= PAGE_CAP:
            try:
                result = await client.page(handle, page)
            except PageCapReached:
                state.capped = True
                break
            except RateLimited as exc:
                state.stopped = exc.reason
                break
            except (AuthFailed, NotFound) as exc:
                _flush(warehouse, settings, state, pending)
                kept = (
                    f"; {plural(state.kept_pages, 'page')} read before are kept"
                    if state.kept_pages
                    else ""
                )
                raise AudienceError(
                    f"{account}: GitHub refused stargazers page {page}: {exc.reason}{kept}"
                ) from None
            except CollectorError as exc:
                _flush(warehouse, settings, state, pending)
                raise PartlyDone(
                    f"{account}: GitHub gave no usable answer for stargazers page {page}: "
                    f"{exc.reason}; {plural(state.kept_pages, 'page')} read are kept: run "
                    f"`audience backfill {account}` again to continue"
                ) from None
            pending.append((page, result.starred_at))
            state.pages_now += 1
            total = max(total, result.last or page)
            if progress is not None:
                progress(min(done_before + state.pages_now, total), total)
            if len(pending) >= flush_pages:
                _flush(warehouse, settings, state, pending)
            if page == PAGE_CAP:  # GitHub's link header may or may not name a page past it
                full = len(result.starred_at) == PER_PAGE
                state.capped = result.has_next or (full and repo.stars > PAGE_CAP * PER_PAGE)
                break
            if not result.has_next:
                break
            page += 1
        state.next_page = page
        _flush(warehouse, settings, state, pending)


def _write(warehouse: Path, settings: Settings, state: _Progress, today: date) -> BackfillSummary:
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
        written = upsert_snapshots(
            con,
            fresh.with_columns(
                pl.lit(platform).alias("platform"),
                pl.lit(handle).alias("handle"),
                pl.lit(run_id).alias("run_id"),
            ),
        )
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
            written=written.inserted + written.updated,
            days=frame.height,
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


def backfill(
    warehouse: Path,
    settings: Settings,
    account: str,
    today: date,
    *,
    progress: Progress | None = None,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    flush_pages: int = 10,
) -> BackfillSummary:
    """Rebuild ACCOUNT's (github:owner/repo) daily star counts; see the module's text."""
    platform, handle = repository(account)
    account = f"{platform}:{handle}"
    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, timeout_s=timeout) as con:
        kept, last, last_size = stored.pages_stored(con, platform, handle)
    resume = last if 0 < last_size < PER_PAGE else last + 1  # a last page not full: again
    state = _Progress(account, platform, handle, resume, kept - (resume == last))
    try:
        with redacted_logs(redactor_for(settings)):
            asyncio.run(
                _read(
                    warehouse,
                    settings,
                    state,
                    clock=clock or SystemClock(),
                    transport=transport,
                    progress=progress,
                    flush_pages=flush_pages,
                )
            )
    except BaseException as exc:
        if not is_interrupt(exc):
            raise
        raise Interrupted(
            f"interrupted: {plural(state.kept_pages, 'stargazer page')} of {account} are kept "
            f"in backfill_pages and no rebuilt day was written; run `audience backfill {account}` "
            "again to continue"
        ) from None
    if state.stopped is not None:
        raise PartlyDone(
            f"{account}: GitHub's rate limit is spent ({state.stopped}); "
            f"{plural(state.kept_pages, 'stargazer page')} are kept in backfill_pages: run "
            f"`audience backfill {account}` again later to continue from page {state.next_page}"
        )
    try:
        return _write(warehouse, settings, state, today)
    except BaseException as exc:
        if not is_interrupt(exc):
            raise
        raise Interrupted(
            f"interrupted: the rebuild of {account} was not written; its "
            f"{plural(state.kept_pages, 'stargazer page')} are kept in backfill_pages: run "
            f"`audience backfill {account}` again to write it"
        ) from None


@contextmanager
def analysed_alone(
    warehouse: Path, settings: Settings, platform: str, handle: str, as_of: date
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse in memory holding one account's snapshots through `as_of`, analysed by the
    code of a run: what `audit` reads for an account the stored analysis does not cover yet
    (a repository just backfilled). Nothing is written to `warehouse`."""
    from pipeline.analyse import analyse

    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, read_only=True, timeout_s=timeout) as con:
        frame = stored.account_snapshots(con, platform, handle, as_of)
    scratch = stored.scratch_warehouse()
    try:
        with in_transaction(scratch):
            upsert_snapshots(scratch, frame)
            analyse(scratch, settings.detection, as_of)
        yield scratch
    finally:
        scratch.close()
