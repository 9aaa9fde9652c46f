"""The first half of a backfill (pipeline.backfill): GitHub's count of the repository read, a
read that would outlast the rate limit's window refused (pipeline.github_budget), then the
stargazer pages left read through the project's rate gate and kept in `backfill_pages` every
`flush_pages` pages, less often when they come fast (`Keeping`; each flush one transaction:
the cursor). `ReadState` says where it stands, for the messages of an interrupted or stopped
one."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from collectors.base import AuthFailed, CollectorError, NotFound, RateLimited
from collectors.rate_gate import Clock
from collectors.stargazers import PAGE_CAP, PER_PAGE, PageCapReached, Repository, StargazerClient
from core.errors import AudienceError, PartlyDone, plural
from core.settings import Settings
from pipeline.github_budget import budget_refusal
from warehouse import backfill as stored
from warehouse.db import in_transaction, open_warehouse

Progress = Callable[[int, int], None]  # (pages read in all, pages to read in all)


@dataclass
class ReadState:
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


@dataclass
class Keeping:
    """Where the pages read are kept, and how often: every `flush_pages` pages, or, when they
    come faster than that many in `flush_s` seconds (a fast connection: every flush opens the
    warehouse, about 0.1 s), every multiple of `flush_pages` that `flush_s` has passed since
    the last flush (Ctrl-C then loses at most about `flush_s` of reading)."""

    warehouse: Path
    settings: Settings
    flush_pages: int
    flush_s: float = 0.25
    last: float = field(default_factory=time.monotonic)

    def due(self, pending: int) -> bool:
        """Whether `pending` pages read since the last flush are to be kept now."""
        every = pending > 0 and pending % self.flush_pages == 0
        return every and time.monotonic() - self.last >= self.flush_s

    def flush(self, state: ReadState, pending: list[tuple[int, list[datetime]]]) -> None:
        """The pages read since the last flush, stored in one transaction."""
        if not pending:
            return
        timeout = self.settings.warehouse.lock_timeout_s
        with open_warehouse(self.warehouse, timeout_s=timeout) as con, in_transaction(con):
            stored.store_pages(con, state.platform, state.handle, pending, datetime.now(UTC))
        state.kept_pages += len({n for n, _ in pending})
        pending.clear()
        self.last = time.monotonic()


async def read_pages(
    keeping: Keeping,
    state: ReadState,
    *,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress | None,
) -> None:
    """The repository's count, then the pages from `state.next_page` on, kept as they come."""
    settings = keeping.settings
    async with StargazerClient.open(settings, clock=clock, transport=transport) as client:
        repo = state.repo = await _repository(client, state)
        total = min(math.ceil(repo.stars / PER_PAGE), PAGE_CAP)
        needed = max(total - state.next_page + 1, 0)
        why = budget_refusal(
            state.account, repo, needed, settings.secrets.github_token is not None, clock.now()
        )
        if why:
            raise AudienceError(why)
        await _pages(client, keeping, state, total, progress)


async def _repository(client: StargazerClient, state: ReadState) -> Repository:
    """GitHub's answer on the repository, or one clear error: a refusal (exit 2) for a
    repository GitHub does not have or a token it refuses; "partly done" (exit 3: run it again
    later) when GitHub cannot be reached, answers unusably after the retries or its rate limit
    is spent, as when that happens to a page."""
    account, handle = state.account, state.handle
    try:
        return await client.repository(handle)
    except NotFound:
        raise RepositoryMissing(
            f"{account}: GitHub has no such repository (HTTP 404 for /repos/{handle})"
        ) from None
    except AuthFailed as exc:
        raise AudienceError(f"{account}: GitHub refused the request: {exc.reason}") from None
    except CollectorError as exc:
        why = (
            f"GitHub's rate limit is spent ({exc.reason})"
            if isinstance(exc, RateLimited)
            else f"GitHub gave no usable answer: {exc.reason}"
        )
        kept = (
            f"the {plural(state.kept_pages, 'stargazer page')} read before are kept in "
            "backfill_pages"
            if state.kept_pages
            else "nothing was stored"
        )
        raise PartlyDone(
            f"{account}: {why}; {kept}: run `audience backfill {account}` again later"
        ) from None


async def _pages(
    client: StargazerClient,
    keeping: Keeping,
    state: ReadState,
    total: int,
    progress: Progress | None,
) -> None:
    """The pages left, to the last one, GitHub's page cap or the rate limit (said in `state`)."""
    assert state.repo is not None
    pending: list[tuple[int, list[datetime]]] = []
    page = state.next_page
    done_before = state.next_page - 1
    while total and page <= PAGE_CAP:
        try:
            result = await client.page(state.handle, page)
        except PageCapReached:
            state.capped = True
            break
        except RateLimited as exc:
            state.stopped = exc.reason
            break
        except CollectorError as exc:
            keeping.flush(state, pending)
            raise _page_refused(state, page, exc) from None
        pending.append((page, result.starred_at))
        state.pages_now += 1
        total = max(total, result.last or page)
        if progress is not None:
            progress(min(done_before + state.pages_now, total), total)
        if keeping.due(len(pending)):
            keeping.flush(state, pending)
        if page == PAGE_CAP:  # GitHub's link header may or may not name a page past it
            full = len(result.starred_at) == PER_PAGE
            state.capped = result.has_next or (full and state.repo.stars > PAGE_CAP * PER_PAGE)
            break
        if not result.has_next:
            break
        page += 1
    state.next_page = page
    keeping.flush(state, pending)


class RepositoryMissing(AudienceError):
    """GitHub has no such repository: nothing a token or a later try changes."""


def _page_refused(state: ReadState, page: int, exc: CollectorError) -> AudienceError:
    """The error of a page GitHub refused (to do again by hand) or answered unusably (the
    command continues from it)."""
    account = state.account
    if isinstance(exc, AuthFailed | NotFound):
        kept = (
            f"; {plural(state.kept_pages, 'page')} read before are kept" if state.kept_pages else ""
        )
        return AudienceError(
            f"{account}: GitHub refused stargazers page {page}: {exc.reason}{kept}"
        )
    return PartlyDone(
        f"{account}: GitHub gave no usable answer for stargazers page {page}: "
        f"{exc.reason}; {plural(state.kept_pages, 'page')} read are kept: run "
        f"`audience backfill {account}` again to continue"
    )
