"""The nightly job's steps as plain functions (the Prefect flow and the CLI both call these)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx

from collectors.run import collect, collect_async, redactor_for
from core.errors import is_interrupt
from core.fetched import Fetched, Outcome
from core.records import CollectionFailure
from core.settings import Settings
from warehouse.accounts import tracked
from warehouse.collection import record_collection
from warehouse.db import begin, commit, open_warehouse, rollback
from warehouse.runs import finish_run, start_run

# outcomes that leave an account without today's figure for a reason worth retrying tomorrow
FAILED = frozenset(
    {Outcome.RATE_LIMITED, Outcome.AUTH_FAILED, Outcome.MALFORMED, Outcome.UNAVAILABLE}
)


@dataclass
class CollectionSummary:
    run_id: str
    day: date
    accounts: int
    outcomes: dict[str, int]
    snapshots_written: int
    failures: list[CollectionFailure] = field(
        default_factory=list
    )  # the first few, for the operator

    @property
    def failed(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if Outcome(outcome) in FAILED)


def prefect_defaults() -> None:
    """Settings Prefect reads from pyproject.toml only in the repository's folder."""
    # telemetry off: it also fails noisily in ephemeral mode; the temporary API may start slowly
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


class _NoInterruptTracebacks(logging.Filter):
    """Ctrl-C is said in one line by the command: Prefect's logs of it carry no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_interrupt(exc):
            return False
        return "Query interrupted" not in record.getMessage()


def quiet_interrupts() -> None:
    """Keep Prefect's handlers (console and API) from printing a Ctrl-C as tracebacks."""
    quiet = _NoInterruptTracebacks()
    loggers = [
        logging.getLogger(n)
        for n in list(logging.root.manager.loggerDict)
        if n.startswith("prefect")
    ]
    for logger in [logging.getLogger("prefect"), *loggers]:
        for handler in logger.handlers:
            if not any(isinstance(f, _NoInterruptTracebacks) for f in handler.filters):
                handler.addFilter(quiet)


def tracked_accounts(warehouse: Path, settings: Settings) -> list[tuple[str, str]]:
    """Accounts in the settings, then those added with `audience accounts add`."""
    accounts = [(a.platform, a.handle) for a in settings.accounts]
    if warehouse.exists():
        with open_warehouse(warehouse, timeout_s=settings.warehouse.lock_timeout_s) as con:
            accounts += tracked(con)
    return list(dict.fromkeys(accounts))


def fetch(
    accounts: list[tuple[str, str]],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    share: int = 1,
) -> list[Fetched]:
    """Ask the platforms (no warehouse is held open meanwhile); `share`: this is one of
    `share` shards collecting at once, each within its part of every rate budget."""
    return collect(accounts, settings, transport, share=share)


async def fetch_async(
    accounts: list[tuple[str, str]],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    share: int = 1,
) -> list[Fetched]:
    """fetch, on the caller's event loop: shards collected side by side in one process share
    one loop (a thread and a loop per shard fought over the GIL: 10,000 accounts took 36.8 s
    in eight threads against 21.4 s on one loop, the CPU 27.9 s against 18.9 s)."""
    return await collect_async(accounts, settings, transport, share=share)


Account = tuple[str, str]


@dataclass(frozen=True)
class Shard:
    """Accounts one collection task asks for, and how many shards spend the budgets at once."""

    name: str
    accounts: list[Account]
    share: int


def by_platform(accounts: list[Account]) -> list[Shard]:
    """One shard per platform, side by side on this machine: each spends its platform's whole
    budget alone."""
    groups: dict[str, list[Account]] = {}
    for platform, handle in dict.fromkeys(accounts):
        groups.setdefault(platform, []).append((platform, handle))
    return [Shard(p, groups[p], 1) for p in sorted(groups)]


def sharded(accounts: list[Account], count: int) -> list[Shard]:
    """`count` shards for a cluster, each with an even slice of every platform's accounts (and
    of every Mastodon server's), dealt in turn; each spends 1/count of every rate budget."""
    ordered = sorted(dict.fromkeys(accounts), key=lambda a: (a[0], a[1].rsplit("@", 1)[-1]))
    count = max(min(count, len(ordered)), 1)
    return [Shard(f"shard-{i + 1}-of-{count}", ordered[i::count], count) for i in range(count)]


def merged(shards: list[Shard], answers: list[list[Fetched] | BaseException]) -> list[Fetched]:
    """One outcome per account from the shards' answers: a shard that failed leaves each of its
    accounts `unavailable` with the reason; an account answered twice is kept once."""
    results: dict[Account, Fetched] = {}
    for shard, answer in zip(shards, answers, strict=True):
        if isinstance(answer, BaseException):
            reason = f"its shard ({shard.name}) failed: {type(answer).__name__}: {answer}"[:300]
            answer = [Fetched(p, h, Outcome.UNAVAILABLE, reason) for p, h in shard.accounts]
        for fetched in answer:
            results.setdefault((fetched.platform, fetched.handle), fetched)
    return list(results.values())


def store(
    warehouse: Path, settings: Settings, day: date, results: list[Fetched]
) -> CollectionSummary:
    """Record one collection, and its run, in one transaction."""
    redact = redactor_for(settings)
    with open_warehouse(warehouse, timeout_s=settings.warehouse.lock_timeout_s) as con:
        begin(con)
        try:
            run_id = start_run(con, "collect", day)
            recorded = record_collection(con, run_id, day, results, redact)
            failures = [
                CollectionFailure(f"{r.platform}:{r.handle}", str(r.outcome), redact(r.reason))
                for r in results
                if r.outcome in FAILED
            ]
            summary = CollectionSummary(
                run_id,
                day,
                len(results),
                recorded.outcomes,
                recorded.written.inserted + recorded.written.updated,
                failures[:20],
            )
            status = (
                "ok" if not failures else ("failed" if len(failures) == len(results) else "partial")
            )
            finish_run(
                con,
                run_id,
                status,
                {
                    "outcomes": recorded.outcomes,
                    "failures": len(failures),
                    "snapshots_written": summary.snapshots_written,
                },
            )
            commit(con)
        except BaseException:
            rollback(con)
            raise
    return summary


def describe(summary: CollectionSummary) -> str:
    """One line an operator can read: counts by outcome."""
    counts = ", ".join(
        f"{n} {o}" for o, n in sorted(summary.outcomes.items(), key=lambda kv: -kv[1])
    )
    return (
        f"collected {summary.accounts} accounts for {summary.day}: {counts or 'nothing to collect'}; "
        f"{summary.snapshots_written} snapshots written"
    )
