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
kept so far and no rebuilt day (exit 130); the same command continues from the cursor. A
refusal or failure before the first page is kept (no such repository, GitHub unreachable, no
token for a large repository) changes nothing on disk: no warehouse is created for it.

Where each step lives: the reading and keeping of the pages in pipeline.stargazer_pages (the
refusal on budget in pipeline.github_budget), the rebuild and its one transaction in
pipeline.star_rebuild; this module runs them and turns Ctrl-C into what it left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import httpx

from collectors.rate_gate import Clock, SystemClock
from collectors.redaction import redacted_logs
from collectors.run import redactor_for
from collectors.stargazers import PER_PAGE
from core.errors import AudienceError, Interrupted, PartlyDone, is_interrupt, plural
from core.platforms import parse_account
from core.settings import Settings
from pipeline.star_rebuild import BackfillSummary, write_rebuild
from pipeline.stargazer_pages import Keeping, Progress, ReadState, read_pages
from warehouse import backfill as stored
from warehouse.db import in_transaction, open_warehouse
from warehouse.samples import account_samples, store_summary
from warehouse.snapshots import upsert_snapshots


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
    kept, last, last_size = _cursor(warehouse, settings, platform, handle)
    resume = last if 0 < last_size < PER_PAGE else last + 1  # a last page not full: again
    state = ReadState(account, platform, handle, resume, kept - (resume == last))
    try:
        with redacted_logs(redactor_for(settings)):
            asyncio.run(
                read_pages(
                    Keeping(warehouse, settings, flush_pages),
                    state,
                    clock=clock or SystemClock(),
                    transport=transport,
                    progress=progress,
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
        return write_rebuild(warehouse, settings, state, today)
    except BaseException as exc:
        if not is_interrupt(exc):
            raise
        raise Interrupted(
            f"interrupted: the rebuild of {account} was not written; its "
            f"{plural(state.kept_pages, 'stargazer page')} are kept in backfill_pages: run "
            f"`audience backfill {account}` again to write it"
        ) from None


def _cursor(
    warehouse: Path, settings: Settings, platform: str, handle: str
) -> tuple[int, int, int]:
    """The pages an earlier backfill kept (warehouse.backfill.pages_stored); none, without
    creating it, when there is no warehouse yet: a backfill refused or failing before its first
    page leaves nothing on disk (the warehouse is created by the first pages kept)."""
    if not warehouse.exists():
        return 0, 0, 0
    with open_warehouse(warehouse, timeout_s=settings.warehouse.lock_timeout_s) as con:
        return stored.pages_stored(con, platform, handle)


@contextmanager
def analysed_alone(
    warehouse: Path, settings: Settings, platform: str, handle: str, as_of: date
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse in memory holding one account's snapshots through `as_of` and its sample
    summaries (the stargazer samples its verdicts read), analysed by the code of a run: what
    `audit` reads for an account the stored analysis does not cover yet (a repository just
    backfilled). Nothing is written to `warehouse`."""
    from pipeline.analyse import analyse

    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, read_only=True, timeout_s=timeout) as con:
        frame = stored.account_snapshots(con, platform, handle, as_of)
        summaries = account_samples(con, platform, handle)
    scratch = stored.scratch_warehouse()
    try:
        with in_transaction(scratch):
            upsert_snapshots(scratch, frame)
            for summary in summaries.iter_rows(named=True):
                store_summary(scratch, summary)
            analyse(scratch, settings.detection, as_of)
        yield scratch
    finally:
        scratch.close()
