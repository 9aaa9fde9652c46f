"""The nightly flow: thin orchestration of library functions (no SQL, no Polars here).

    collect (one task per platform, side by side on one event loop) -> store -> analyse (metrics, GX checks,
    anomalies) -> alerts -> a run summary artifact

Run in-process with `python -m flows.nightly` (Prefect starts a temporary API for the life of
the process), or from the `nightly` deployment in prefect.yaml on a Prefect server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.utilities.annotations import quote

from core.errors import AudienceError, WarehouseBusy, is_interrupt, plural
from core.fetched import Fetched
from core.records import AlertsReport, AnalysisSummary, CollectionReport, NightlySummary
from core.settings import Settings, load_settings
from pipeline.analyse import run_analysis
from pipeline.collect import (
    Account,
    Shard,
    by_platform,
    describe,
    fetch,
    fetch_async,
    merged,
    sharded,
    store,
    tracked_accounts,
)
from warehouse.db import resolve_path

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun
    from prefect.futures import PrefectFuture

# worth another try: the warehouse was busy, a file or socket failed; not: bad settings, bugs
TRANSIENT = (WarehouseBusy, OSError, httpx.TransportError)


def transient_only(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Prefect retry condition: retry a task only when it failed for a passing reason."""
    return isinstance(state.result(raise_on_failure=False), TRANSIENT)


def _settings(config: str | None) -> Settings:
    return load_settings(Path(config) if config else None)


@task(
    name="collect",
    task_run_name="collect-{shard.name}",  # a platform (threads), or shard-i-of-n (Dask)
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
def collect_shard(shard: Shard, config: str | None) -> list[Fetched]:
    """Every account of one shard; account-level faults are outcomes, not exceptions. On a
    Dask worker, the settings (and the secrets) are read there, from its own environment."""
    return fetch(shard.accounts, _settings(config), share=shard.share)


@task(
    name="collect",
    task_run_name="collect-{shard.name}",  # a platform
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
async def collect_here(shard: Shard, config: str | None) -> list[Fetched]:
    """Every account of one platform, on this process's event loop beside the others."""
    return await fetch_async(shard.accounts, _settings(config), share=shard.share)


async def _side_by_side(
    shards: list[Shard], config: str | None
) -> list[list[Fetched] | BaseException]:
    """Each shard's accounts, or why its task failed after its retries (its accounts then
    fail, not the run)."""
    answers = await asyncio.gather(
        *(collect_here(s, config) for s in shards), return_exceptions=True
    )
    return [_failed(a) if isinstance(a, BaseException) else a for a in answers]


def _answers(futures: list[PrefectFuture[list[Fetched]]]) -> list[list[Fetched] | BaseException]:
    """Each shard's accounts, or why the shard failed (its accounts then fail, not the run)."""
    answers: list[list[Fetched] | BaseException] = []
    for future in futures:
        try:
            answers.append(future.result())
        except Exception as exc:  # the task's error after its retries, or its worker lost
            answers.append(_failed(exc))
    return answers


def _failed(exc: BaseException) -> BaseException:
    """A shard's error, kept as the reason its accounts have no figure; Ctrl-C (or anything
    that is not an error) stops the run instead, as everywhere."""
    if is_interrupt(exc) or not isinstance(exc, Exception):
        raise exc
    return exc


class Roster:
    """The accounts a collect-on-dask run collects, handed over by reference.

    Prefect records a flow run's parameters in its API, and its API refuses more than 512 KB
    of them: a list of about 18,000 accounts. In this wrapper (no fields Prefect's JSON encoder
    can read) the run records `<Roster>` in their place; its log says how many there are.
    """

    __slots__ = ("accounts",)

    def __init__(self, accounts: list[Account]) -> None:
        self.accounts = accounts

    def __repr__(self) -> str:
        return f"Roster({len(self.accounts)} accounts)"


@flow(name="collect-on-dask", log_prints=True)
def collect_on_dask(roster: Roster, config: str | None, shards: int) -> list[Fetched]:
    """The accounts in shards over the Dask cluster this flow's task runner is connected to:
    one shard per worker thread unless [orchestration] shards says; results come back here."""
    context: Any = get_run_context()  # a flow run's: its task runner is the Dask one
    client = context.task_runner.client
    threads = sum(client.nthreads().values())
    accounts = roster.accounts
    parts = sharded(accounts, shards or threads)
    get_run_logger().info(
        "collecting %s accounts in %s shards on a Dask cluster of %s worker threads (%s)",
        len(accounts),
        len(parts),
        threads,
        client.scheduler.address,
    )
    futures = [collect_shard.submit(part, config) for part in parts]
    return merged(parts, _answers(futures))


def fan_out(accounts: list[Account], config: str | None, settings: Settings) -> list[Fetched]:
    """Every account collected once, as [orchestration] says: a task per platform in this
    process, side by side on one event loop, or shards on a Dask cluster (Prefect's Dask task
    runner)."""
    orchestration = settings.orchestration
    if orchestration.task_runner == "threads" or not accounts:
        shards = by_platform(accounts)
        return merged(shards, asyncio.run(_side_by_side(shards, config)))
    from prefect_dask.task_runners import DaskTaskRunner

    address = orchestration.dask_address
    assert address is not None  # the settings refuse "dask" without one
    reachable(address)
    runner: Any = DaskTaskRunner(address=address)
    with _api_for_workers():
        result: list[Fetched] = collect_on_dask.with_options(task_runner=runner)(
            Roster(accounts), config, orchestration.shards
        )
    return result


def _api_for_workers() -> contextlib.AbstractContextManager[object]:
    """The Dask workers record their task runs in this run's Prefect API (the task runner
    sends them Prefect's settings): the one configured or kept, else this process's temporary
    API, named outright; without it each worker process would start a temporary API of its own
    (10-25 s each, and runs recorded elsewhere)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if get_current_settings().api.url:
        return contextlib.nullcontext()
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # Prefect's one temporary API of this process
    server.start()
    return temporary_settings(updates={PREFECT_API_URL: server.api_url})


def reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse at once (exit 2, nothing written) when no Dask scheduler answers at `address`
    within `timeout_s`, rather than after Dask's 30 s of connection attempts, or never: a port
    that takes the connection but is not a scheduler (its dashboard, a web or SSH server) left
    Dask's client waiting for good, or reading a banner as a message of exabytes. On tcp://
    the scheduler must answer Dask's handshake and an `identity` request; on tls:// (whose
    certificates only the task runner has) that the port takes connections is all checked."""
    host, _, port = address.split("://", 1)[1].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise AudienceError(
            f"cannot reach the Dask scheduler at {address} ([orchestration] dask_address): "
            f"{exc.strerror or exc}; start it (`dask scheduler`) or set "
            'task_runner = "threads" to collect on this machine'
        ) from None
    if not address.startswith("tcp://"):
        return
    try:
        answer = asyncio.run(asyncio.wait_for(_identity(address, timeout_s), timeout_s))
        scheduler = isinstance(answer, dict) and answer.get("type") == "Scheduler"
        why = "" if scheduler else "not a scheduler's answer"
    except Exception as exc:  # a timeout, a closed connection, garbage read as a frame size
        why = "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__
    if why:
        raise AudienceError(
            f"something takes connections at {address} ([orchestration] dask_address) but it "
            f"is not a Dask scheduler ({why}); give the scheduler's address as "
            "`dask scheduler` prints it (tcp://HOST:8786), not its dashboard's"
        )


async def _identity(address: str, timeout_s: float) -> object:
    """The scheduler's answer to Dask's `identity` request (its type, id, workers)."""
    from distributed.comm.core import connect

    comm = await connect(address, timeout=timeout_s)  # type: ignore[no-untyped-call]
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


@task(
    name="store",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
def store_results(
    warehouse: str, config: str | None, day: date, results: list[Fetched]
) -> CollectionReport:
    """Snapshots and the collection log in one transaction; retried if the warehouse is busy."""
    summary = store(Path(warehouse), _settings(config), day, results)
    return CollectionReport(
        describe(summary), summary.outcomes, summary.failed, tuple(summary.failures)
    )


@task(name="analyse", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=transient_only)
def analyse(warehouse: str, config: str | None, as_of: date | None, full: bool) -> AnalysisSummary:
    """Compute daily metrics and anomalies for everything new; retried if the warehouse is busy."""
    from checks.suites import GXChecker

    settings = _settings(config)
    return run_analysis(
        Path(warehouse),
        settings,
        as_of,
        full=full,
        checker=GXChecker(),
        lock_timeout_s=settings.warehouse.lock_timeout_s,
        through_newest=True,
    )


@task(name="sample", retries=1, retry_delay_seconds=30, retry_condition_fn=transient_only)
def sample(warehouse: str, config: str | None, as_of: date) -> str:
    """Follower samples of the new growth anomalies (pipeline.sample), re-judged with them."""
    from pipeline.sample import describe, sample_anomalies

    return describe(sample_anomalies(Path(warehouse), _settings(config), as_of))


@task(name="alerts", retries=1, retry_delay_seconds=30, retry_condition_fn=transient_only)
def send(warehouse: str, config: str | None, as_of: date) -> AlertsReport:
    """Alert emails for what is new; what cannot be sent stays queued for the next run."""
    from alerts.deliver import send_alerts

    summary = send_alerts(Path(warehouse), _settings(config), as_of)
    return AlertsReport(
        summary.sent, summary.anomalies, summary.still_queued, tuple(summary.errors)
    )


@task(name="engagement", cache_policy=NO_CACHE)
def engagement(warehouse: str, config: str | None, day: date) -> str:
    """Interactions on the tracked accounts' recent posts, after the counts are stored."""
    from pipeline.engagement import collect_engagement

    return collect_engagement(Path(warehouse), _settings(config), day).describe()


@task(name="report", retries=1, retry_delay_seconds=10, retry_condition_fn=transient_only)
def report(warehouse: str, config: str | None, as_of: date) -> tuple[str, bool]:
    """The HTML report of the warehouse as of the analysed day; reused (True) when nothing it
    shows has changed since it was written."""
    from reports.render import write_report_if_changed
    from warehouse.db import open_warehouse

    settings = _settings(config)
    with open_warehouse(
        Path(warehouse), read_only=True, timeout_s=settings.warehouse.lock_timeout_s
    ) as con:
        path, reused = write_report_if_changed(con, as_of, settings.report.path)
    return str(path.resolve()), reused


class _Steps:
    """Seconds per step of the flow, as the flow saw them (task overhead included)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self.last, 3)
        self.last = now


@flow(name="nightly", log_prints=True)
def nightly(
    as_of: date | None = None,
    warehouse: str | None = None,
    config: str | None = None,
    skip_collect: bool = False,
    full: bool = False,
) -> NightlySummary:
    """Collect every tracked account, analyse what is new, send the alerts, write the report."""
    logger = get_run_logger()
    steps = _Steps()
    settings = _settings(config)
    target = str(resolve_path(warehouse, settings.warehouse.path))
    day = as_of or datetime.now(UTC).date()
    steps.lap("settings")
    if not skip_collect:
        # GX imported while the collection waits on the platforms (an analysis that
        # validates before it is done waits for it)
        from checks.suites import warm_in_background

        warm_in_background()
    collection = None if skip_collect else _collect(target, config, settings, day, steps)
    analysis = analyse(target, config, day if not skip_collect else as_of, full)
    steps.lap("analyse")
    if analysis.mode == "unchanged":
        logger.info("analysis %s", analysis.unchanged_text())
    else:
        logger.info(
            "analysed %s accounts through %s (%s): %s new anomalies",
            analysis.accounts,
            analysis.as_of,
            analysis.mode,
            analysis.new_anomalies,
        )
    if settings.samples.enabled:
        logger.info(sample(target, config, analysis.as_of))
    recipients = (
        settings.alerts.recipients
        or settings.alerts.tag_recipients
        or any(a.recipients for a in settings.accounts)
    )
    alerts = send(target, config, analysis.as_of) if recipients else None
    steps.lap("alerts")
    page, reused = report(target, config, analysis.as_of)
    steps.lap("report")
    if reused:
        logger.info("report unchanged (nothing it shows has changed): %s", page)
    summary = NightlySummary(
        target,
        day.isoformat(),
        analysis,
        page,
        collection,
        alerts,
        report_reused=reused,
        seconds=steps.seconds,
    )
    create_markdown_artifact(
        key="nightly-summary", markdown=_markdown(summary), description="What the nightly run did"
    )
    create_table_artifact(
        key="nightly-steps",
        table=[{"step": k, "seconds": v} for k, v in steps.seconds.items()],
        description="Seconds per step of the nightly run",
    )
    return summary


def _collect(
    target: str, config: str | None, settings: Settings, day: date, steps: _Steps
) -> CollectionReport:
    """Every tracked account's figures, one task per platform, stored; then their engagement
    (a failure there fails no count)."""
    logger = get_run_logger()
    results = fan_out(tracked_accounts(Path(target), settings), config, settings)
    steps.lap("collect")
    # quoted: Prefect would otherwise walk every one of the night's answers twice, looking for
    # futures to wait on (8 s of a 10,000-account night)
    answers: Any = quote(results)
    collection = store_results(target, config, day, answers)
    steps.lap("store")
    logger.info(collection.description)
    read = engagement(target, config, day, return_state=True)
    logger.info(read.result() if read.is_completed() else f"engagement not read: {read}")
    steps.lap("engagement")
    return collection


def _markdown(summary: NightlySummary) -> str:
    lines = [f"# Nightly run for {summary.day}", "", f"warehouse: `{summary.warehouse}`", ""]
    collection = summary.collection
    if collection:
        lines += ["## Collection", "", "| outcome | accounts |", "|---|---|"]
        lines += [f"| {o} | {n} |" for o, n in sorted(collection.outcomes.items())]
        lines += [""] + [f"* {f.account}: {f.outcome}: {f.reason}" for f in collection.failures]
    analysis = summary.analysis
    lines += ["", "## Analysis", ""]
    if analysis.mode == "unchanged":
        lines += [f"* {analysis.unchanged_text()}"]
    else:
        lines += [
            f"* through {analysis.as_of} ({analysis.mode}), {analysis.accounts} accounts",
            f"* new anomalies: {analysis.new_anomalies}, suspected purchases in the recomputed "
            f"days: {analysis.suspected_purchases}",
        ]
    alerts = summary.alerts
    lines += [
        "",
        "## Alerts",
        "",
        (
            f"* {plural(alerts.sent, 'message')}, {alerts.still_queued} still queued"
            if alerts
            else "* no recipients configured"
        ),
    ]
    lines += [
        "",
        f"Report: [{summary.report}](file://{summary.report})"
        + (" (unchanged: nothing it shows has changed)" if summary.report_reused else ""),
        "",
        "Seconds per step: " + ", ".join(f"{k} {v:.2f}" for k, v in summary.seconds.items()),
        "",
        "Query the anomalies: `audience anomalies --since " + str(analysis.as_of) + "`",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    nightly()
