"""The nightly flow: thin orchestration of library functions (no SQL, no Polars here).

    collect (one task per platform, concurrently) -> store -> analyse (metrics, GX checks,
    anomalies) -> alerts -> a run summary artifact

Run in-process with `python -m flows.nightly` (Prefect starts a temporary API for the life of
the process), or from the `nightly` deployment in prefect.yaml on a Prefect server.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from core.errors import WarehouseBusy, plural
from core.fetched import Fetched
from core.records import AlertsReport, AnalysisSummary, CollectionReport, NightlySummary
from core.settings import Settings, load_settings
from pipeline.analyse import run_analysis
from pipeline.collect import describe, fetch, store, tracked_accounts
from warehouse.db import resolve_path

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

# worth another try: the warehouse was busy, a file or socket failed; not: bad settings, bugs
TRANSIENT = (WarehouseBusy, OSError, httpx.TransportError)


def transient_only(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Prefect retry condition: retry a task only when it failed for a passing reason."""
    return isinstance(state.result(raise_on_failure=False), TRANSIENT)


def _settings(config: str | None) -> Settings:
    return load_settings(Path(config) if config else None)


@task(
    name="collect",
    task_run_name="collect-{platform}",  # one run per platform, named after it
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=transient_only,
    cache_policy=NO_CACHE,
)
def collect_platform(platform: str, handles: list[str], config: str | None) -> list[Fetched]:
    """Every account of one platform; account-level faults are outcomes, not exceptions."""
    return fetch([(platform, h) for h in handles], _settings(config))


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


# platforms are collected side by side; Prefect's generic typing of runners is stricter than its use
RUNNER: Any = ThreadPoolTaskRunner(max_workers=8)


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


@flow(name="nightly", log_prints=True, task_runner=RUNNER)
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
    collection = None if skip_collect else _collect(target, config, settings, day, steps)
    analysis = analyse(target, config, day if not skip_collect else as_of, full)
    steps.lap("analyse")
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
    by_platform: dict[str, list[str]] = {}
    for platform, handle in tracked_accounts(Path(target), settings):
        by_platform.setdefault(platform, []).append(handle)
    futures = [collect_platform.submit(p, hs, config) for p, hs in sorted(by_platform.items())]
    results = [r for f in futures for r in f.result()]
    steps.lap("collect")
    collection = store_results(target, config, day, results)
    steps.lap("store")
    logger.info(collection.description)
    read = engagement(target, config, day, return_state=True)
    logger.info(read.result() if read.is_completed() else f"engagement not read: {read}")
    return collection


def _markdown(summary: NightlySummary) -> str:
    lines = [f"# Nightly run for {summary.day}", "", f"warehouse: `{summary.warehouse}`", ""]
    collection = summary.collection
    if collection:
        lines += ["## Collection", "", "| outcome | accounts |", "|---|---|"]
        lines += [f"| {o} | {n} |" for o, n in sorted(collection.outcomes.items())]
        lines += [""] + [f"* {f.account}: {f.outcome}: {f.reason}" for f in collection.failures]
    analysis = summary.analysis
    lines += [
        "",
        "## Analysis",
        "",
        f"* through {analysis.as_of} ({analysis.mode}), {analysis.accounts} accounts",
        f"* new anomalies: {analysis.new_anomalies}, suspected purchases in the recomputed days: "
        f"{analysis.suspected_purchases}",
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
