"""The `audience` command line: a thin layer over the library.

Domain errors become one line on stderr and exit status 2; heavy imports (Polars, DuckDB)
happen inside the commands that need them, and Prefect or Great Expectations only inside the
nightly run, so quick commands start fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from audience.config import Settings, load_settings
from audience.errors import INTERRUPTED, AudienceError, ImportRejected, is_interrupt

if TYPE_CHECKING:
    import duckdb

SAMPLE = Path(__file__).resolve().parent / "data" / "sample_history.csv"


@dataclass
class Context:
    settings: Settings
    warehouse: Path
    quiet: bool
    config: Path | None = None

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    @contextmanager
    def open(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        from warehouse.db import open_warehouse

        with open_warehouse(
            self.warehouse, read_only=read_only, timeout_s=self.settings.warehouse.lock_timeout_s
        ) as con:
            yield con


_pass_context = click.make_pass_decorator(Context)


def pass_context(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the Context, and accept --warehouse after the command name as well as before it."""

    def set_warehouse(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(Context).warehouse = value

    option = click.option(
        "--warehouse",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=set_warehouse,
        is_eager=True,
        help="DuckDB file (same as the global option).",
    )
    return option(_pass_context(command))


def _parse_day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="How to print the rows.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--warehouse",
    "warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB file (default: AUDIENCE_WAREHOUSE, then warehouse.path in the config, "
    "then warehouse/audience.duckdb).",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: AUDIENCE_CONFIG, then ./audience.toml when present).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only results, no progress or notes.")
@click.version_option(package_name="audience-growth-tracker")
@click.pass_context
def cli(ctx: click.Context, warehouse: Path | None, config: Path | None, quiet: bool) -> None:
    """Track audience sizes, analyse growth, and flag bought-looking jumps."""
    from warehouse.db import resolve_path

    settings = load_settings(config)
    ctx.obj = Context(settings, resolve_path(warehouse, settings.warehouse.path), quiet, config)


# --- import ---------------------------------------------------------------------------------


def _progress_bar(
    total: int, enabled: bool
) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """A byte-count progress bar on stderr when it is a terminal (and the input is large)."""
    if not enabled or total < 4 << 20 or not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout stays clean for the result line
        transient=True,
    )
    task = bar.add_task("import", total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_context
def import_command(obj: Context, files: tuple[Path, ...]) -> None:
    """Load history from CSV files (platform,handle,date,followers[,following,posts,views]).

    All files are validated together and loaded in one transaction: any problem refuses the
    whole call, with every problem listed as FILE:LINE: FIELD: REASON, and nothing changes.
    Re-importing a file, or identical duplicate rows, change nothing.
    """
    from audience.ingest import import_history

    total = sum(f.stat().st_size for f in files if f.is_file())
    progress, stop = _progress_bar(total, not obj.quiet)
    try:
        summary = import_history(
            list(files),
            obj.warehouse,
            datetime.now(UTC).date(),
            progress=progress,
            lock_timeout_s=obj.settings.warehouse.lock_timeout_s,
        )
    finally:
        stop()
    w = summary.written
    click.echo(
        f"imported {summary.rows:,} rows for {summary.accounts:,} accounts into {obj.warehouse}: "
        f"{w.inserted:,} new, {w.updated:,} changed, {w.unchanged:,} unchanged"
        + (
            f", {summary.duplicates:,} identical duplicate rows skipped"
            if summary.duplicates
            else ""
        )
    )
    obj.say("next: audience run --skip-collect   (analyse the history)")


# --- run ------------------------------------------------------------------------------------


def _run_analysis(obj: Context, as_of: date | None, full: bool) -> dict[str, Any]:
    """Analyse with the Great Expectations suites, and say what they found."""
    from audience.analysis import run_analysis
    from checks.suites import GXChecker

    obj.say("checking with Great Expectations (its import takes a few seconds)")
    result = run_analysis(
        obj.warehouse,
        obj.settings,
        as_of,
        full=full,
        checker=GXChecker(),
        lock_timeout_s=obj.settings.warehouse.lock_timeout_s,
    )
    _describe_checks(obj, result)
    return result


def _describe_checks(obj: Context, result: dict[str, Any]) -> None:
    for suite in ("snapshots", "growth"):
        check = result["checks"].get(suite) or {}
        if not check:
            continue
        failed = "; ".join(
            f"{f['expectation']}({f['kwargs'].get('column', '')}) "
            f"{f['unexpected_count'] if f['unexpected_count'] is not None else ''} unexpected".strip()
            for f in check["failed"]
        )
        obj.say(
            f"  {check['suite']}: {check['evaluated']} expectations, "
            + ("all met" if check["success"] else f"not met: {failed}")
        )


def _describe_run(obj: Context, summary: dict[str, Any], alerts_to: str) -> int:
    """Print what a nightly run did; the number of accounts and alerts left failing."""
    failed = 0
    collection = summary.get("collection")
    if collection:
        click.echo(collection["description"])
        for failure in collection["failures"]:
            obj.say(f"  {failure['account']}: {failure['outcome']}: {failure['reason']}")
        failed += collection["failed"]
    result = summary["analysis"]
    _describe_checks(obj, result)
    click.echo(
        f"analysed {result['accounts']:,} accounts through {result['as_of']} ({result['mode']}): "
        f"{result['anomalies']:,} anomalies in the recomputed days, {result['new_anomalies']:,} new, "
        f"{result['suspected_purchases']:,} suspected purchases"
    )
    alerts = summary.get("alerts")
    if alerts is None:
        obj.say("alerts: no recipients configured ([alerts] recipients in audience.toml)")
    else:
        click.echo(
            f"alerts: {alerts['sent']} message(s) for {alerts['anomalies']} new anomaly alert(s) to {alerts_to}"
            + (
                f"; {alerts['still_queued']} still queued for the next run"
                if alerts["still_queued"]
                else ""
            )
        )
        for error in alerts["errors"]:
            obj.say(f"  {error}")
        failed += alerts["still_queued"]
    click.echo(f"report: {summary['report']}")
    return int(failed)


@cli.command("run")
@click.option(
    "--as-of", "as_of", callback=_parse_day, help="The day to collect and analyse (YYYY-MM-DD)."
)
@click.option(
    "--skip-collect", is_flag=True, help="Do not fetch today's counts; analyse what is stored."
)
@click.option("--full", is_flag=True, help="Recompute every day instead of only what is new.")
@pass_context
def run_command(obj: Context, as_of: date | None, skip_collect: bool, full: bool) -> None:
    """The nightly job, as the Prefect flow in this process: collect, analyse, alert.

    Only what is new is computed (a watermark); after an import the whole history is analysed.
    No Prefect server is needed (one is used when PREFECT_API_URL is set). Exit status: 0 when
    every account answered and every alert went out; 3 when some accounts could not be
    collected (the others are stored and analysed; collection_log says why) or some alerts
    stay queued for the next run.
    """
    from audience.nightly import prefect_defaults

    with obj.open():  # refuses a damaged warehouse (exit 5) before Prefect starts
        pass
    prefect_defaults()
    from flows.nightly import nightly

    obj.say(
        "running the nightly flow (Prefect starts a temporary API in this process when none is set)"
    )
    summary = nightly(
        as_of=as_of,
        warehouse=str(obj.warehouse),
        config=str(obj.config) if obj.config else None,
        skip_collect=skip_collect,
        full=full,
    )
    alerts_to = (
        f"SMTP {obj.settings.alerts.smtp_host}"
        if obj.settings.alerts.smtp_host
        else f"the outbox {obj.settings.alerts.outbox}/"
    )
    failed = _describe_run(obj, summary, alerts_to)
    if failed:
        raise click.exceptions.Exit(3)


@cli.command("report")
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_day,
    help="Report as of this day (default: the last analysed).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it (default: [report] path).",
)
@pass_context
def report_command(obj: Context, as_of: date | None, output: Path | None) -> None:
    """Write the self-contained HTML report: overview, growth charts with flagged days, events."""
    from reports.render import write_report
    from warehouse.query import fetch_one

    with obj.open(read_only=True) as con:
        if as_of is None:
            row = fetch_one(con, "SELECT max(day) FROM daily_metrics")
            if not row or row[0] is None:
                raise AudienceError(
                    "nothing analysed yet: run `audience run` (or `audience demo`) first"
                )
            as_of = row[0]
        path = write_report(con, as_of, output or obj.settings.report.path)
    click.echo(f"report written to {path}")


EXPORTED = (
    "accounts",
    "snapshots",
    "daily_metrics",
    "anomalies",
    "account_metrics",
    "runs",
    "collection_log",
    "imports",
    "alerts",
)


@cli.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="File format of the export.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("export"),
    show_default=True,
    help="Folder to write one file per table into.",
)
@pass_context
def export_command(obj: Context, fmt: str, output: Path) -> None:
    """Export the warehouse's tables, one file each, for any other tool.

    The files are written into a temporary folder next to OUTPUT and moved into it only
    once every one is complete: a failed export leaves no partial output.
    """
    import shutil
    import tempfile

    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    written = []
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    )
    try:
        with obj.open(read_only=True) as con:
            for table in EXPORTED:
                target = staging / f"{table}.{fmt}"
                # table names come from the fixed list above; the path is quoted as a string literal
                quoted = str(target).replace("'", "''")
                count = con.execute(
                    f"COPY (SELECT * FROM {table}) TO '{quoted}' ({options})"
                ).fetchall()[0][0]
                written.append(f"{table} ({count:,} rows)")
        if output.exists():  # an earlier export: each file replaced whole, once all are written
            for table in EXPORTED:
                (staging / f"{table}.{fmt}").replace(output / f"{table}.{fmt}")
            staging.rmdir()
        else:
            staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    click.echo(f"exported to {output}/: " + ", ".join(written))


@cli.command("check")
@pass_context
def check_command(obj: Context) -> None:
    """Check the warehouse: every block of the file, the migrations, the rows' invariants.

    Reads every value of every table (DuckDB verifies each block's checksum as it reads it),
    compares the applied migrations with their files, and tests the invariants the tables
    keep (one snapshot per account and day, no orphan rows, no negative counts, no day after
    today, ...). Prints what it checked, then one line per problem. Never writes. Exit
    status: 0 clean, 5 damaged.
    """
    from warehouse.db import inspect_warehouse

    report = inspect_warehouse(
        obj.warehouse,
        datetime.now(UTC).date(),
        timeout_s=obj.settings.warehouse.lock_timeout_s,
    )
    click.echo(f"checked warehouse {obj.warehouse}:")
    for line in report.checked:
        click.echo(f"  {line}")
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    if report.problems:
        click.echo(
            f"warehouse {obj.warehouse} is damaged: {len(report.problems)} problem(s); "
            "restore it from a backup (no command writes into it meanwhile)",
            err=True,
        )
        raise click.exceptions.Exit(5)
    click.echo("no problem found")


@cli.command("serve")
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
    127.0.0.1 for as long as this command runs, and says so. Stop with Ctrl-C.
    """
    import subprocess

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    cron, timezone = _nightly_schedule()
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        server = _start_prefect_server(port)
        click.echo(
            f"no PREFECT_API_URL set: started a local Prefect server at http://127.0.0.1:{port} "
            "(API and UI; it stops with this command)"
        )
    try:
        from prefect.schedules import Cron

        from flows.nightly import nightly

        click.echo(
            f"serving the nightly flow on cron '{cron}' ({timezone}); warehouse {obj.warehouse}"
        )
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
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _nightly_schedule() -> tuple[str, str]:
    """The nightly deployment's cron and time zone, from prefect.yaml (one source of truth)."""
    import yaml

    path = Path(__file__).resolve().parent.parent / "prefect.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        deployment = next(d for d in config["deployments"] if d["name"] == "nightly")
        schedule = deployment["schedules"][0]
        return str(schedule["cron"]), str(schedule.get("timezone", "UTC"))
    except (OSError, KeyError, StopIteration, yaml.YAMLError) as exc:
        raise AudienceError(f"{path}: cannot read the nightly schedule: {exc}") from None


def _start_prefect_server(port: int) -> Any:
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


# --- accounts -------------------------------------------------------------------------------


@cli.group("accounts")
def accounts_group() -> None:
    """List, add or remove tracked accounts."""


@accounts_group.command("list")
@format_option
@pass_context
def accounts_list(obj: Context, fmt: str) -> None:
    """Every account in the warehouse, with its latest figure, and the configured ones."""
    configured = {a.key for a in obj.settings.accounts}
    rows: list[dict[str, Any]] = []
    if obj.warehouse.exists():
        with obj.open(read_only=True) as con:
            rows = (
                con.sql(
                    """
                SELECT a.platform, a.handle, a.tracked, a.status, a.first_seen, a.last_seen,
                       s.followers AS latest_followers, array_to_string(a.tags, ',') AS tags
                FROM accounts a LEFT JOIN snapshots s
                  ON s.platform = a.platform AND s.handle = a.handle AND s.day = a.last_seen
                ORDER BY a.platform, a.handle
                """
                )
                .pl()
                .to_dicts()
            )
    seen = {f"{r['platform']}:{r['handle']}" for r in rows}
    for account in obj.settings.accounts:
        if account.key not in seen:
            rows.append(
                {
                    "platform": account.platform,
                    "handle": account.handle,
                    "tracked": True,
                    "status": "not yet collected",
                    "first_seen": None,
                    "last_seen": None,
                    "latest_followers": None,
                    "tags": ",".join(account.tags),
                }
            )
    for row in rows:
        key = f"{row['platform']}:{row['handle']}"
        row["tracked"] = "config" if key in configured else ("cli" if row["tracked"] else "no")
    _emit(
        rows,
        fmt,
        [
            "platform",
            "handle",
            "tracked",
            "status",
            "first_seen",
            "last_seen",
            "latest_followers",
            "tags",
        ],
    )


@accounts_group.command("add")
@click.argument("accounts", nargs=-1, required=True)
@click.option("--tag", "tags", multiple=True, help="Tag the accounts (repeatable).")
@pass_context
def accounts_add(obj: Context, accounts: tuple[str, ...], tags: tuple[str, ...]) -> None:
    """Track PLATFORM:HANDLE accounts (e.g. github:octocat, mastodon:user@host)."""
    from audience.platforms import parse_account

    parsed = [parse_account(a) for a in accounts]  # validate all before changing anything
    with obj.open() as con:
        for platform, handle in parsed:
            con.execute(
                """
                INSERT INTO accounts (platform, handle, tracked, tags) VALUES (?, ?, true, ?)
                ON CONFLICT (platform, handle) DO UPDATE SET tracked = true,
                    tags = list_distinct(list_concat(accounts.tags, excluded.tags)), updated_at = now()
                """,
                [platform, handle, list(tags)],
            )
    click.echo(f"tracking {', '.join(f'{p}:{h}' for p, h in parsed)}")


@accounts_group.command("remove")
@click.argument("accounts", nargs=-1, required=True)
@pass_context
def accounts_remove(obj: Context, accounts: tuple[str, ...]) -> None:
    """Stop tracking accounts; their history stays in the warehouse."""
    from audience.platforms import parse_account

    parsed = [parse_account(a) for a in accounts]
    configured = {a.key for a in obj.settings.accounts}
    for platform, handle in parsed:
        if f"{platform}:{handle}" in configured:
            raise AudienceError(
                f"{platform}:{handle} is listed in the configuration file; remove it there"
            )
    with obj.open() as con:
        for platform, handle in parsed:
            row = con.execute(
                "UPDATE accounts SET tracked = false, updated_at = now() WHERE platform = ? AND handle = ? "
                "RETURNING handle",
                [platform, handle],
            ).fetchall()
            if not row:
                raise AudienceError(f"{platform}:{handle} is not in the warehouse")
    click.echo(f"stopped tracking {', '.join(f'{p}:{h}' for p, h in parsed)} (history kept)")


# --- reading --------------------------------------------------------------------------------


def _emit(rows: list[dict[str, Any]], fmt: str, columns: list[str]) -> None:
    if fmt == "json":
        click.echo(
            json.dumps([{c: r.get(c) for c in columns} for r in rows], default=str, indent=2)
        )
        return
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*[("" if row.get(c) is None else str(row.get(c))) for c in columns])
    # piped output keeps whole values; a terminal gets its own width
    Console(width=None if sys.stdout.isatty() else 240).print(table)


@cli.command("anomalies")
@click.option("--since", callback=_parse_day, help="Only anomalies on or after this day.")
@click.option("--platform", help="Only this platform.")
@click.option("--suspected", is_flag=True, help="Only suspected purchases.")
@format_option
@pass_context
def anomalies_command(
    obj: Context, since: date | None, platform: str | None, suspected: bool, fmt: str
) -> None:
    """Flagged days with their evidence, newest first."""
    if platform is not None:
        from audience.platforms import get_platform

        get_platform(platform)
    clauses: list[str] = []
    params: list[object] = []
    if since:
        clauses.append("day >= ?")
        params.append(since)
    if platform:
        clauses.append("platform = ?")
        params.append(platform)
    if suspected:
        clauses.append("suspected_purchase")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with obj.open(read_only=True) as con:
        rows = (
            con.sql(
                f"SELECT * FROM anomalies {where} ORDER BY day DESC, platform, handle",
                params=params,
            )
            .pl()
            .to_dicts()
        )
    columns = [
        "day",
        "platform",
        "handle",
        "kind",
        "attribution",
        "suspected_purchase",
        "severity",
        "explanation",
    ]
    if fmt != "table":
        columns += [
            "score",
            "margin",
            "gain",
            "baseline_median",
            "retention_7",
            "retention_30",
            "thresholds",
            "detected_at",
        ]
    _emit(rows, fmt, columns)
    obj.say(f"{len(rows)} anomalies")


@cli.command("query")
@click.argument("sql")
@format_option
@pass_context
def query_command(obj: Context, sql: str, fmt: str) -> None:
    """Run one read-only SQL query against the warehouse."""
    import duckdb

    with obj.open(read_only=True) as con:
        try:
            frame = con.sql(sql).pl()
        except duckdb.Error as exc:
            raise AudienceError(f"query failed: {str(exc).splitlines()[0]}") from None
    _emit(frame.to_dicts(), fmt, frame.columns)


@cli.command("audit")
@click.argument("account")
@click.option(
    "--as-of", "as_of", callback=_parse_day, help="Judge as of this day (default: today)."
)
@click.option("--live", is_flag=True, help="Also ask the platform for today's size (never stored).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the audit as a self-contained HTML page here.",
)
@pass_context
def audit_command(
    obj: Context, account: str, as_of: date | None, live: bool, fmt: str, html_path: Path | None
) -> None:
    """Does PLATFORM:HANDLE's audience look organic? One page: size, history, growth, flagged
    days with their evidence, an organic-adjusted estimate and a verdict with its confidence.

    An account the warehouse has no figures of is fetched from the platform now (not stored);
    the page then says what history is missing. Reads the warehouse only.
    """
    from audience.audit import render_text, run_audit
    from audience.platforms import parse_account

    platform, handle = parse_account(account)
    day = as_of or datetime.now(UTC).date()
    audit = run_audit(obj.warehouse, obj.settings, platform, handle, day, live=live)
    if html_path is not None:
        from reports.render import write_audit

        write_audit(audit, html_path)
        obj.say(f"audit page written to {html_path}")
    if fmt == "json":
        click.echo(json.dumps(audit.as_dict(), default=str, indent=2))
    else:
        click.echo(render_text(audit))


# --- demo -----------------------------------------------------------------------------------


@cli.command("demo")
@pass_context
def demo_command(obj: Context) -> None:
    """The whole product on this machine: simulator, history, tonight's run, alerts, report.

    Starts the platform simulator on loopback, imports seven months of simulated history,
    runs the nightly flow for today against it, writes the alert email to demo/outbox/ and
    the report to demo/report.html. Starts afresh each time in demo/ (warehouse: --warehouse
    when given, else demo/audience.duckdb). Needs no credentials and no network.
    """
    from audience.demo import DEMO_FOLDER, DemoFiles, run_demo

    warehouse = (
        obj.warehouse
        if obj.warehouse != obj.settings.warehouse.path
        else DEMO_FOLDER / "audience.duckdb"
    )
    files = DemoFiles(DEMO_FOLDER, warehouse)
    today = datetime.now(UTC).date()
    summary = run_demo(files, today, obj.say)
    demo = Context(obj.settings, warehouse, obj.quiet)
    _describe_run(demo, summary, f"the outbox {files.outbox}/")
    demo.say("4/4 what was found:")
    with demo.open(read_only=True) as con:
        rows = (
            con.sql(
                "SELECT day, platform, handle, kind, attribution, suspected_purchase, explanation "
                "FROM anomalies ORDER BY suspected_purchase DESC, day"
            )
            .pl()
            .to_dicts()
        )
    for row in rows:
        verdict = (
            "SUSPECTED PURCHASE"
            if row["suspected_purchase"]
            else row["attribution"].replace("_", " ")
        )
        click.echo(f"\n[{verdict}] {row['platform']}:{row['handle']} {row['kind']} on {row['day']}")
        click.echo(f"  {row['explanation']}")
    emails = sorted(files.outbox.glob("*.eml"))
    w = f"--warehouse {warehouse}"
    click.echo(
        "\nwhere to look:\n"
        f"  report (open in a browser): {summary['report']}\n"
        f"  alert email(s): {', '.join(str(e) for e in emails) or 'none'}\n"
        f"  warehouse (any DuckDB client): {warehouse}\n"
        f"  history that was imported: {files.history}; settings used: {files.config}\n"
        "try:\n"
        f"  audience {w} anomalies --suspected\n"
        f'  audience {w} query "SELECT platform, handle, followers, growth_rel_28 FROM daily_metrics '
        f"WHERE day = DATE '{today}' ORDER BY growth_rel_28 DESC LIMIT 5\"\n"
        f'  audience {w} query "SELECT day, followers, daily_gain, robust_z FROM daily_metrics '
        "WHERE handle = 'streamer_one' ORDER BY day DESC LIMIT 14\""
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; domain errors become one clear line and exit status 2."""
    try:
        code = cli.main(args=argv, prog_name="audience", standalone_mode=False)
        if isinstance(code, int):  # an explicit exit status (click.exceptions.Exit)
            return code
    except click.exceptions.Abort:  # click's form of Ctrl-C (KeyboardInterrupt)
        click.echo(INTERRUPTED, err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ImportRejected as exc:
        click.echo(exc.describe(), err=True)  # already one line per problem, then a verdict
        return 2
    except AudienceError as exc:
        click.echo(f"error: {exc}", err=True)
        return int(getattr(exc, "exit_code", 2))  # WarehouseDamaged: 5
    except (KeyboardInterrupt, RuntimeError) as exc:  # DuckDB: RuntimeError('Query interrupted')
        if not is_interrupt(exc):
            raise
        click.echo(INTERRUPTED, err=True)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
