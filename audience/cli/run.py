"""The nightly job from the command line: `run` (once, now), `serve` (on its schedule) and
`report` (the HTML report); and how a run's summary is told to the operator."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from audience.cli.context import (
    Context,
    UserPath,
    not_future,
    note_if_stale,
    parse_day,
    pass_context,
)
from core.errors import AudienceError, ExitStatus, Interrupted, is_interrupt, plural, shown
from core.records import (
    AlertsReport,
    ChecksSummary,
    CollectionReport,
    NightlySummary,
)
from warehouse.example_queries import FAILED_COLLECTIONS

if TYPE_CHECKING:
    import subprocess

    import duckdb


def describe_checks(obj: Context, checks: ChecksSummary) -> None:
    """One line per suite the analysis ran: how many expectations, and which were not met."""
    for check in checks.suites():
        if not check.evaluated:
            obj.say(f"  {check.suite}: nothing new to check")
            continue
        failed = "; ".join(
            f"{f.expectation}({f.kwargs.get('column', '')})"
            + (f" {f.unexpected_count:,} unexpected" if f.unexpected_count is not None else "")
            for f in check.failed
        )
        obj.say(
            f"  {check.suite}: {plural(check.evaluated, 'expectation')}, "
            + ("all met" if check.success else f"not met: {failed}")
        )


def _describe_collection(obj: Context, collection: CollectionReport) -> int:
    """What the collection did; how many accounts have no figure tonight."""
    click.echo(collection.description)
    for failure in collection.failures:
        obj.say(f"  {failure.account}: {failure.outcome}: {failure.reason}")
    missed = sum(n for outcome, n in collection.outcomes.items() if outcome != "ok")
    if missed:
        obj.say(
            f"  {plural(missed, 'account')} not collected tonight; why: audience query "
            f'"{FAILED_COLLECTIONS}"'
        )
    return missed


def _describe_alerts(obj: Context, alerts: AlertsReport | None, alerts_to: str) -> int:
    """What the alerts did; how many stay queued for the next run."""
    if alerts is None:
        obj.say("alerts: no recipients configured ([alerts] recipients in audience.toml)")
        return 0
    click.echo(
        f"alerts: {plural(alerts.sent, 'message')} for "
        f"{plural(alerts.anomalies, 'new anomaly alert')} to {alerts_to}"
        + (
            f"; {alerts.still_queued:,} still queued for the next run"
            if alerts.still_queued
            else ""
        )
    )
    for error in alerts.errors:
        obj.say(f"  {error}")
    return alerts.still_queued


def describe_run(obj: Context, summary: NightlySummary, alerts_to: str) -> int:
    """Print what a nightly run did; return how many accounts were not collected plus how many
    alerts stay queued (not zero: exit status 3, partly done).

    Every outcome but `ok` leaves an account without tonight's figure: `not_found`, `suspended`,
    `moved` and `invalid_handle` as much as the retryable ones the collection lists as failures.
    """
    failed = 0
    if summary.collection:
        failed += _describe_collection(obj, summary.collection)
    result = summary.analysis
    describe_checks(obj, result.checks)
    if result.mode == "unchanged":
        click.echo(f"analysis: {result.unchanged_text()}")
    else:
        analysed = (
            f"analysed {plural(result.accounts, 'account')} through {result.as_of} ({result.mode}):"
            if result.accounts
            else f"analysis through {result.as_of} ({result.mode}): no account has new figures;"
        )
        click.echo(
            f"{analysed} {plural(result.anomalies, 'anomaly')} in the recomputed days, "
            f"{result.new_anomalies:,} new, "
            f"{plural(result.suspected_purchases, 'suspected purchase')}"
        )
    failed += _describe_alerts(obj, summary.alerts, alerts_to)
    click.echo(
        f"report: {summary.report}"
        + (
            " (unchanged: nothing it shows has changed since it was written)"
            if summary.report_reused
            else ""
        )
    )
    return failed


def _refuse_earlier_day(
    con: duckdb.DuckDBPyConnection, as_of: date, today: date, *, collecting: bool
) -> None:
    """`run --as-of` a day the stored figures have passed: refused before anything is made.

    A run stores the counts the platforms give now under its day and analyses through the
    newest day stored. Collected for an earlier day, today's counts would replace that day's
    figures; analysed for one, the run would answer as of a later day than was asked."""
    from warehouse.analysis_load import latest_snapshot_day

    newest = latest_snapshot_day(con)
    if newest is None:
        return
    earlier = as_of < newest
    look_back = (
        f"for the figures as they stood then, `audience report --as-of {as_of}` or "
        f"`audience audit PLATFORM:HANDLE --as-of {as_of}`"
    )
    if collecting and (earlier or (as_of == newest and as_of < today)):
        raise AudienceError(
            f"--as-of {as_of.isoformat()!r} is a past day the warehouse already has figures for "
            f"(the newest are of {newest}): the platforms give only today's counts, and stored "
            "under that day they would replace what is there; nothing was changed. Run without "
            f"--as-of for tonight's figures; {look_back}"
        )
    if earlier:
        raise AudienceError(
            f"--as-of {as_of.isoformat()!r} is before the newest figures stored ({newest}): a "
            "run analyses through the newest day, so it would answer as of that day, not the "
            f"one asked; nothing was changed; {look_back}"
        )


@click.command("run")
@click.option(
    "--as-of",
    "as_of",
    callback=parse_day,
    help="The day to collect and analyse (YYYY-MM-DD; not after today, nor before the newest "
    "figures stored; a past day only when it has none yet).",
)
@click.option(
    "--skip-collect",
    is_flag=True,
    help="Do not fetch today's counts; analyse what is stored (follower samples of new jumps "
    "are still asked of the platforms while [samples] enabled is true).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Recompute every day instead of only what is new, and check every snapshot again.",
)
@click.option(
    "--keep-api",
    is_flag=True,
    envvar="AUDIENCE_KEEP_PREFECT_API",
    help="With no Prefect API set or kept, start a local one in the background and keep it "
    "for the next runs (stop it with `prefect server stop`).",
)
@pass_context
def run_command(
    obj: Context, as_of: date | None, skip_collect: bool, full: bool, keep_api: bool
) -> None:
    """The nightly job, as the Prefect flow in this process: collect, analyse, alert.

    Only what is new is computed (a watermark), nothing when nothing is; after an import of
    older days, everything from the oldest changed day on (the whole history when that is
    most of it).
    No Prefect server is needed: the run is recorded in the API PREFECT_API_URL names, else in a
    local one kept by an earlier `run --keep-api` or a running `audience serve`, else in a
    temporary one Prefect starts in this process (about 12 s more). Exit status: 0 when
    every account answered and every alert went out; 3 when some accounts could not be
    collected (the others are stored and analysed; collection_log says why) or some alerts
    stay queued for the next run.
    """
    from pipeline.collect import prefect_defaults, quiet_interrupts

    not_future(obj, as_of)
    orchestration = obj.settings.orchestration
    if not skip_collect and orchestration.task_runner == "dask" and orchestration.dask_address:
        from flows.nightly import reachable

        reachable(orchestration.dask_address)  # one line, exit 2, before anything is made
    if as_of is not None and obj.warehouse.is_file():  # as a reader: a refusal changes nothing
        with obj.open(read_only=True) as con:
            _refuse_earlier_day(con, as_of, obj.today(), collecting=not skip_collect)
    with obj.open():  # refuses a damaged warehouse (exit 5) before Prefect starts
        pass
    prefect_defaults()
    from flows.api import choose
    from flows.nightly import nightly

    api = choose(keep=keep_api)
    obj.say(f"running the nightly flow; {api.describe()}")
    quiet_interrupts()
    try:
        with api.active():
            summary = nightly(
                as_of=as_of,
                warehouse=str(obj.warehouse),
                config=str(obj.config) if obj.config else None,
                skip_collect=skip_collect,
                full=full,
            )
    except BaseException as exc:
        if is_interrupt(exc):  # each step is its own transaction: say which stay
            raise Interrupted(
                "interrupted: the step under way was rolled back; what earlier steps stored "
                "(each is one transaction: collection, analysis, alerts) stays"
            ) from None
        raise
    alerts_to = (
        f"SMTP {obj.settings.alerts.smtp_host}"
        if obj.settings.alerts.smtp_host
        else f"the outbox {obj.settings.alerts.outbox}/"
    )
    if describe_run(obj, summary, alerts_to):
        raise click.exceptions.Exit(ExitStatus.PARTLY_DONE)


@click.command("report")
@click.option(
    "--as-of",
    "as_of",
    callback=parse_day,
    help="Report as of this day, from the data up to it only (default: the last analysed; "
    "never after today).",
)
@click.option(
    "--output",
    type=UserPath(dir_okay=False, path_type=Path),
    help="Where to write it (default: [report] path; for a day before the last analysed, "
    "beside it with the day in its name).",
)
@pass_context
def report_command(obj: Context, as_of: date | None, output: Path | None) -> None:
    """Write the self-contained HTML report: overview, growth charts with flagged days, events.

    With --as-of before the last analysed day, everything in it is computed from the data up
    to that day only (in memory; the warehouse is not written), as a run on that day would have.
    """
    note_if_stale(obj)
    from pipeline.analyse import shadow_as_of
    from reports.render import CHART_DAYS, write_report_if_changed
    from warehouse.reads import last_analysed_day

    not_future(obj, as_of)
    with obj.open(read_only=True) as con:
        analysed = last_analysed_day(con)
        if as_of is None:
            if analysed is None:
                raise AudienceError(
                    "nothing analysed yet: run `audience run` (or `audience demo`) first"
                )
            as_of = analysed
        shadow_as_of(con, obj.settings.detection, as_of, metric_days=CHART_DAYS)
        path, reused = write_report_if_changed(
            con, as_of, output or _report_path(obj.settings.report.path, as_of, analysed)
        )
    if reused:
        click.echo(f"report unchanged (nothing it shows has changed): {shown(str(path))}")
    else:
        click.echo(f"report written to {shown(str(path))}")


def _report_path(nightly: Path, as_of: date, analysed: date | None) -> Path:
    """Where a report goes without --output: the nightly's page, or beside it for an earlier
    day (`audience-report.2024-06-30.html`), which never replaces the night's page."""
    if analysed is None or as_of >= analysed:
        return nightly
    return nightly.with_name(f"{nightly.stem}.{as_of.isoformat()}{nightly.suffix}")


@click.command("serve")
@click.option(
    "--port",
    default=4200,
    show_default=True,
    help="Port of the local Prefect server, when one is started.",
)
@pass_context
def serve_command(obj: Context, port: int) -> None:
    """Run the nightly schedule (from prefect.yaml) in this process until stopped.

    Uses the Prefect server at PREFECT_API_URL; when none is set, starts a local one on
    127.0.0.1 for as long as this command runs, and says so. Stop with Ctrl-C, or SIGTERM (what
    a service manager sends), which stops it the same way.
    """
    import signal
    import subprocess

    # Prefect's runner let SIGTERM go unheeded: the command kept serving and, once killed,
    # left its server behind; SIGTERM now takes Ctrl-C's path (deployments paused, server
    # stopped)
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    cron, timezone = _nightly_schedule()
    server = None
    chosen = None  # the local API this command chose (a kept one, or one it started)
    if not os.environ.get("PREFECT_API_URL"):
        from flows.api import kept_url, record

        kept = kept_url()
        if kept:
            os.environ["PREFECT_API_URL"] = chosen = kept
            click.echo(f"no PREFECT_API_URL set: using the kept local Prefect API at {kept}")
        else:
            server = _start_prefect_server(port)
            chosen = os.environ["PREFECT_API_URL"]
            # `audience run` meanwhile records its runs here too (flows/api.py)
            record(os.environ["PREFECT_API_URL"], server.pid)
            click.echo(
                f"no PREFECT_API_URL set: started a local Prefect server at http://127.0.0.1:{port} "
                "(API and UI; it stops with this command)"
            )
    try:
        from prefect.schedules import Cron
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.nightly import nightly

        click.echo(
            f"serving the nightly flow on cron '{cron}' ({timezone}); warehouse {obj.warehouse}"
        )
        # Prefect read its settings when it was first imported (flows.api, above): the API
        # chosen here reaches its runner through its own temporary_settings (the environment
        # only reaches the flow runs' subprocesses); without it the runner registered the
        # deployment through a temporary API of its own and could not schedule it
        with temporary_settings(updates={PREFECT_API_URL: chosen} if chosen else {}):
            nightly.serve(
                name="nightly",
                schedules=[Cron(cron, timezone=timezone)],
                limit=1,
                print_starting_message=False,
                parameters={
                    "warehouse": str(obj.warehouse),
                    "config": str(obj.config) if obj.config else None,
                },
            )
    finally:
        if server is not None:
            from flows.api import forget

            forget(server.pid)
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _nightly_schedule() -> tuple[str, str]:
    """The nightly deployment's cron and time zone, from prefect.yaml (one source of truth)."""
    import yaml

    path = Path(__file__).resolve().parents[2] / "prefect.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        deployment = next(d for d in config["deployments"] if d["name"] == "nightly")
        schedule = deployment["schedules"][0]
        return str(schedule["cron"]), str(schedule.get("timezone", "UTC"))
    except (OSError, KeyError, StopIteration, yaml.YAMLError) as exc:
        raise AudienceError(f"{path}: cannot read the nightly schedule: {exc}") from None


def _start_prefect_server(port: int) -> subprocess.Popen[bytes]:
    """`prefect server start` on loopback, once it answers (or one clear error)."""
    import subprocess
    import time

    import httpx

    url = f"http://127.0.0.1:{port}/api"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AudienceError(
                f"the local Prefect server exited at start (is port {port} in use? try --port)"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                os.environ["PREFECT_API_URL"] = url
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise AudienceError(f"the local Prefect server did not answer on port {port} within 120 s")
