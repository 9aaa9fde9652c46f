"""The `audience` command line: a thin layer over the library.

Domain errors become one line on stderr and exit status 2; heavy imports (Polars, DuckDB)
happen inside the commands that need them, and Prefect or Great Expectations only inside the
nightly run, so quick commands start fast.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from audience.config import Settings, load_settings
from audience.errors import (
    INTERRUPTED,
    AudienceError,
    ExitStatus,
    ImportRejected,
    Interrupted,
    is_interrupt,
    plural,
    shown,
    shown_lines,
)

if TYPE_CHECKING:
    import duckdb

SAMPLE = Path(__file__).resolve().parent / "data" / "sample_history.csv"


def utc_today() -> date:
    """The wall clock's day (UTC): what "today" is unless main() is given another clock."""
    return datetime.now(UTC).date()


@dataclass
class Context:
    settings: Settings
    warehouse: Path
    quiet: bool
    config: Path | None = None
    today: Callable[[], date] = utc_today

    def say(self, message: str) -> None:
        """A progress line or note on stderr, escaped (it may quote what platforms sent)."""
        if not self.quiet:
            click.echo(shown_lines(message), err=True)

    @contextmanager
    def open(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        from warehouse.db import open_warehouse

        with open_warehouse(
            self.warehouse, read_only=read_only, timeout_s=self.settings.warehouse.lock_timeout_s
        ) as con:
            yield con


_pass_context = click.make_pass_decorator(Context)


class UserPath(click.Path):
    """A path typed by a user: refused in one line when no file system could take it.

    Empty, holding a NUL, not valid UTF-8 (DuckDB and the reports need text), or longer than
    the system allows (a name of more than 255 bytes, a path of more than 4,095).
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            problem = ""
            if not value.strip():
                problem = "a path cannot be empty"
            elif "\x00" in value:
                problem = "a path cannot hold a NUL character"
            else:
                try:
                    encoded = value.encode("utf-8")
                except UnicodeEncodeError:
                    problem = "a path must be valid UTF-8 text"
                else:
                    if len(encoded) > 4095 or any(len(p) > 255 for p in encoded.split(b"/")):
                        problem = "the path is too long for the file system"
            if problem:
                shown_value = value if len(value) <= 60 else value[:57] + "..."
                self.fail(f"{problem}: {shown_value!r}", param, ctx)
        return super().convert(value, param, ctx)


def pass_context(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the Context, and accept --warehouse after the command name as well as before it."""

    def set_warehouse(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(Context).warehouse = value

    option = click.option(
        "--warehouse",
        type=UserPath(dir_okay=False, path_type=Path),
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
    type=UserPath(dir_okay=False, path_type=Path),
    help="DuckDB file (default: AUDIENCE_WAREHOUSE, then warehouse.path in the config, "
    "then warehouse/audience.duckdb).",
)
@click.option(
    "--config",
    "config",
    type=UserPath(dir_okay=False, path_type=Path),
    help="Settings file (default: AUDIENCE_CONFIG, then ./audience.toml when present).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only results, no progress or notes.")
@click.version_option(package_name="audience-growth-tracker")
@click.pass_context
def cli(ctx: click.Context, warehouse: Path | None, config: Path | None, quiet: bool) -> None:
    """Track audience sizes, analyse growth, and flag bought-looking jumps."""
    from warehouse.db import resolve_path

    clock = ctx.obj if callable(ctx.obj) else utc_today  # main(today=...) injects the clock
    settings = load_settings(config)
    ctx.obj = Context(
        settings, resolve_path(warehouse, settings.warehouse.path), quiet, config, clock
    )


def not_future(obj: Context, as_of: date | None) -> date | None:
    """`--as-of` as given, refused when it is after today: nothing is known of later days."""
    today = obj.today()
    if as_of is not None and as_of > today:
        raise AudienceError(
            f"--as-of {as_of.isoformat()!r} is after today ({today}): there is no data from the "
            "future; give a day up to today"
        )
    return as_of


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
@click.argument("files", nargs=-1, required=True, type=UserPath(path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Let figures that differ from stored imported ones replace them (each replaced figure "
    "is kept in the import_replacements table).",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Load the valid rows and leave out the refused ones, listing each and writing them to "
    "a rejects file (NAME.rejects.csv next to the input, or --rejects).",
)
@click.option(
    "--rejects",
    type=UserPath(dir_okay=False, path_type=Path),
    help="With --skip-invalid and one input file: where to write its refused rows.",
)
@pass_context
def import_command(
    obj: Context,
    files: tuple[Path, ...],
    replace: bool,
    skip_invalid: bool,
    rejects: Path | None,
) -> None:
    """Load history from CSV files (platform,handle,date,followers[,following,posts,views]).

    All files are validated together and loaded in one transaction: any problem refuses the
    whole call, with every problem listed as FILE:LINE: FIELD: REASON, and nothing changes.
    Re-importing a file, or identical duplicate rows, change nothing. A row whose figures
    differ from stored ones is refused unless --replace is given. --skip-invalid loads the
    valid rows and writes the refused ones, with the reason, to a rejects file.
    """
    from audience.importer import SHOWN_PROBLEMS, refused_rows
    from audience.ingest import import_history

    if rejects is not None and not skip_invalid:
        raise click.UsageError("--rejects goes with --skip-invalid")
    total = sum(f.stat().st_size for f in files if f.is_file())
    progress, stop = _progress_bar(total, not obj.quiet)
    try:
        summary = import_history(
            list(files),
            obj.warehouse,
            datetime.now(UTC).date(),
            progress=progress,
            lock_timeout_s=obj.settings.warehouse.lock_timeout_s,
            replace=replace,
            skip_invalid=skip_invalid,
            rejects=rejects,
        )
    finally:
        stop()
    w = summary.written
    refused = summary.rejected.select("file", "line").unique().height
    rows = refused_rows(summary.rejected)
    click.echo(
        f"imported {plural(summary.rows, 'row')} for {plural(summary.accounts, 'account')} "
        f"into {shown(str(obj.warehouse))}: "
        f"{w.inserted:,} new, {w.updated:,} changed, {w.unchanged:,} unchanged"
        + (
            f", {plural(summary.duplicates, 'identical duplicate row')} skipped"
            if summary.duplicates
            else ""
        )
        + (f", {plural(summary.replaced, 'stored figure')} replaced" if summary.replaced else "")
        + (
            f"; {plural(refused, 'row')} refused, written to "
            + ", ".join(shown(str(f)) for f in summary.rejects_files)
            if refused
            else ""
        )
    )
    if refused:
        for row in rows.head(SHOWN_PROBLEMS).iter_rows(named=True):
            click.echo(shown(f"refused {row['file']}:{row['line']}: {row['why']}"), err=True)
        if rows.height > SHOWN_PROBLEMS:
            click.echo(
                f"... and {plural(rows.height - SHOWN_PROBLEMS, 'more refused row')} "
                "(all in the rejects file)",
                err=True,
            )
    if summary.changes_history:
        obj.say("the import changed analysed history: run `audience run --skip-collect` to refresh")
    else:
        obj.say("next: audience run --skip-collect   (analyse the history)")


# --- run ------------------------------------------------------------------------------------


def _run_analysis(obj: Context, as_of: date | None, full: bool) -> dict[str, Any]:
    """Analyse with the Great Expectations suites, and say what they found."""
    from checks.suites import GXChecker
    from pipeline.analyse import run_analysis

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
        if not check["evaluated"]:
            obj.say(f"  {check['suite']}: nothing new to check")
            continue
        failed = "; ".join(
            f"{f['expectation']}({f['kwargs'].get('column', '')})"
            + (
                f" {f['unexpected_count']:,} unexpected"
                if f["unexpected_count"] is not None
                else ""
            )
            for f in check["failed"]
        )
        obj.say(
            f"  {check['suite']}: {plural(check['evaluated'], 'expectation')}, "
            + ("all met" if check["success"] else f"not met: {failed}")
        )


def _describe_run(obj: Context, summary: dict[str, Any], alerts_to: str) -> int:
    """Print what a nightly run did; return how many accounts were not collected plus how many
    alerts stay queued (not zero: exit status 3, partly done).

    Every outcome but `ok` leaves an account without tonight's figure: `not_found`, `suspended`,
    `moved` and `invalid_handle` as much as the retryable ones the collection lists as failures.
    """
    failed = 0
    collection = summary.get("collection")
    if collection:
        click.echo(collection["description"])
        for failure in collection["failures"]:
            obj.say(f"  {failure['account']}: {failure['outcome']}: {failure['reason']}")
        missed = sum(n for outcome, n in collection["outcomes"].items() if outcome != "ok")
        if missed:
            obj.say(
                f"  {plural(missed, 'account')} not collected tonight; why: audience query "
                "\"SELECT * FROM collection_log WHERE outcome <> 'ok' ORDER BY observed_at DESC\""
            )
        failed += missed
    result = summary["analysis"]
    _describe_checks(obj, result)
    click.echo(
        f"analysed {plural(result['accounts'], 'account')} through {result['as_of']} "
        f"({result['mode']}): {plural(result['anomalies'], 'anomaly')} in the recomputed days, "
        f"{result['new_anomalies']:,} new, "
        f"{plural(result['suspected_purchases'], 'suspected purchase')}"
    )
    alerts = summary.get("alerts")
    if alerts is None:
        obj.say("alerts: no recipients configured ([alerts] recipients in audience.toml)")
    else:
        click.echo(
            f"alerts: {plural(alerts['sent'], 'message')} for "
            f"{plural(alerts['anomalies'], 'new anomaly alert')} to {alerts_to}"
            + (
                f"; {alerts['still_queued']:,} still queued for the next run"
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
    "--as-of",
    "as_of",
    callback=_parse_day,
    help="The day to collect and analyse (YYYY-MM-DD; not after today).",
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
    from audience.nightly import prefect_defaults, quiet_interrupts

    not_future(obj, as_of)
    with obj.open():  # refuses a damaged warehouse (exit 5) before Prefect starts
        pass
    prefect_defaults()
    from flows.nightly import nightly

    obj.say(
        "running the nightly flow (Prefect starts a temporary API in this process when none is set)"
    )
    quiet_interrupts()
    try:
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
    if _describe_run(obj, summary, alerts_to):
        raise click.exceptions.Exit(ExitStatus.PARTLY_DONE)


@cli.command("report")
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_day,
    help="Report as of this day, from the data up to it only (default: the last analysed; "
    "never after today).",
)
@click.option(
    "--output",
    type=UserPath(dir_okay=False, path_type=Path),
    help="Where to write it (default: [report] path).",
)
@pass_context
def report_command(obj: Context, as_of: date | None, output: Path | None) -> None:
    """Write the self-contained HTML report: overview, growth charts with flagged days, events.

    With --as-of before the last analysed day, everything in it is computed from the data up
    to that day only (in memory; the warehouse is not written), as a run on that day would have.
    """
    _note_if_stale(obj)
    from pipeline.analyse import shadow_as_of
    from reports.render import CHART_DAYS, write_report
    from warehouse.query import fetch_one

    not_future(obj, as_of)
    with obj.open(read_only=True) as con:
        if as_of is None:
            row = fetch_one(con, "SELECT max(day) FROM daily_metrics")
            if not row or row[0] is None:
                raise AudienceError(
                    "nothing analysed yet: run `audience run` (or `audience demo`) first"
                )
            as_of = row[0]
        shadow_as_of(con, obj.settings.detection, as_of, metric_days=CHART_DAYS)
        path = write_report(con, as_of, output or obj.settings.report.path)
    click.echo(f"report written to {shown(str(path))}")


# every table the README documents (its warehouse table); not the internal ones:
# schema_migrations, analysis_state, alerts_staged and demo_origin (the demo's mark on a
# warehouse it created, of no use outside it)
EXPORTED = (
    "accounts",
    "snapshots",
    "daily_metrics",
    "anomalies",
    "account_metrics",
    "runs",
    "collection_log",
    "import_replacements",
    "imports",
    "alerts",
)


def _export_refusal(output: Path, fmt: str) -> str | None:
    """Why `export` cannot write into OUTPUT (None: it can), found before anything is written."""
    if not output.exists():
        return None
    if not output.is_dir():
        return f"{str(output)!r} is not a folder"
    if not os.access(output, os.W_OK | os.X_OK):
        return f"the folder {str(output)!r} is not writable"
    for table in EXPORTED:
        target = output / f"{table}.{fmt}"
        if target.exists() and not target.is_file():
            return f"{str(target)!r} exists and is not a file: remove it or choose another --output"
    return None


def _remove_folders(folders: list[Path]) -> None:
    """Remove the (empty) folders an export created, deepest first."""
    for folder in folders:
        with suppress(OSError):
            folder.rmdir()


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
    type=UserPath(file_okay=False, path_type=Path),
    default=Path("export"),
    show_default=True,
    help="Folder to write one file per table into.",
)
@pass_context
def export_command(obj: Context, fmt: str, output: Path) -> None:
    """Export the warehouse's tables, one file each, for any other tool.

    Every target is checked first, the files are written into a temporary folder next to
    OUTPUT and moved into it only once every one is complete: a failed or refused export
    leaves no partial output.
    """
    import shutil
    import tempfile

    why = _export_refusal(output, fmt)
    if why:
        raise AudienceError(f"export refused, nothing was written: {why}")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    written = []
    created = [p for p in (output.parent, *output.parent.parents) if not p.exists()]
    try:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(
                tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
            )
        except OSError as exc:
            raise AudienceError(
                f"export refused, nothing was written: cannot create a folder in "
                f"{str(output.parent)!r} ({exc.strerror or exc})"
            ) from None
        try:
            with obj.open(read_only=True) as con:
                for table in EXPORTED:
                    target = staging / f"{table}.{fmt}"
                    # table names come from the fixed list above; the path is a string literal
                    quoted = str(target).replace("'", "''")
                    count = con.execute(
                        f"COPY (SELECT * FROM {table}) TO '{quoted}' ({options})"
                    ).fetchall()[0][0]
                    written.append(f"{table} ({plural(count, 'row')})")
            if output.exists():  # an earlier export: each file replaced whole, once all are written
                for table in EXPORTED:
                    (staging / f"{table}.{fmt}").replace(output / f"{table}.{fmt}")
                staging.rmdir()
            else:
                staging.rename(output)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        _remove_folders(created)
        raise
    click.echo(f"exported to {shown(str(output))}/: " + ", ".join(written))


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
            f"warehouse {obj.warehouse} is damaged: {plural(len(report.problems), 'problem')}; "
            "restore it from a backup (no command writes into it meanwhile)",
            err=True,
        )
        raise click.exceptions.Exit(5)
    doubt = any("fail their checksum" in line for line in report.checked)
    click.echo(
        "no problem found in the data (see the blocks line)" if doubt else "no problem found"
    )


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
    _note_if_stale(obj)
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
    columns = [
        "platform",
        "handle",
        "tracked",
        "status",
        "first_seen",
        "last_seen",
        "latest_followers",
        "tags",
    ]
    _emit(_records(rows, columns), fmt, columns)


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
    click.echo(f"tracking {', '.join(shown(f'{p}:{h}') for p, h in parsed)}")


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


def _note_if_stale(obj: Context) -> None:
    """One line on stderr when an import changed analysed history after the last analysis."""
    from warehouse.imports import stale_since

    if not obj.warehouse.exists():
        return
    try:
        with obj.open(read_only=True) as con:
            stale = stale_since(con)
    except AudienceError:
        return  # the command itself says what is wrong with the warehouse
    if stale is not None:
        click.echo(stale.notice(), err=True)


def _machine_value(value: Any) -> Any:
    """A value as JSON, CSV and the table show it: whole decimals as integers, others as floats."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Column names and rows as machine values: JSON columns parsed, DECIMAL as numbers, and a
    floating-point column whose every figure is whole (a count stored as DOUBLE) as integers."""
    relation = con.sql(sql, params=params)
    columns = list(relation.columns)
    is_json = [str(t) == "JSON" for t in relation.types]
    rows = [[_machine_value(v) for v in row] for row in relation.fetchall()]
    for i, json_column in enumerate(is_json):
        values = [row[i] for row in rows if row[i] is not None]
        if json_column:
            for row in rows:
                row[i] = None if row[i] is None else json.loads(row[i])
        elif values and all(
            isinstance(v, float) and (not math.isfinite(v) or (v.is_integer() and abs(v) < 2**53))
            for v in values
        ):  # NaN and infinities stay what they are
            for row in rows:
                value = row[i]
                if isinstance(value, float) and math.isfinite(value):
                    row[i] = int(value)
    return columns, rows


def _json_value(value: Any) -> Any:
    """JSON has no dates, no NaN and no bytes: ISO text, null, and hex."""
    if isinstance(value, date | time_of_day):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # UUID, interval, ...


def _text_value(value: Any) -> str:
    """One CSV or table cell: NULL empty, booleans as true/false, NaN and infinities as
    nan/inf/-inf, nested values as JSON, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict | list | tuple):
        return json.dumps(_json_value(value), ensure_ascii=False)
    return str(_json_value(value))


def _emit(rows: list[list[Any]], fmt: str, columns: list[str]) -> None:
    """Print rows (values in `columns` order) as a table, CSV or JSON on stdout."""
    if fmt == "json":
        records = [dict(zip(_unique(columns), map(_json_value, row), strict=True)) for row in rows]
        click.echo(json.dumps(records, indent=2))
        return
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text_value(v) for v in row] for row in rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    table = Table(*[Column(header=Text(shown(c))) for c in columns], show_lines=False)
    for row in rows:  # Text: a stored "[red]" is shown, not taken as markup; escapes made visible
        table.add_row(*[Text(shown(_text_value(v))) for v in row])
    # piped output keeps whole values; a terminal gets its own width
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def _unique(columns: list[str]) -> list[str]:
    """JSON keys for the columns: a repeated name gets a suffix (`n`, `n_2`) instead of a loss."""
    seen: dict[str, int] = {}
    keys = []
    for column in columns:
        seen[column] = seen.get(column, 0) + 1
        keys.append(column if seen[column] == 1 else f"{column}_{seen[column]}")
    return keys


def _records(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [[row.get(c) for c in columns] for row in rows]


@cli.command("anomalies")
@click.option("--since", callback=_parse_day, help="Only anomalies on or after this day.")
@click.option("--platform", help="Only this platform.")
@click.option("--suspected", is_flag=True, help="Only suspected purchases.")
@format_option
@pass_context
def anomalies_command(
    obj: Context, since: date | None, platform: str | None, suspected: bool, fmt: str
) -> None:
    """Flagged days with their evidence, newest first.

    --format json and csv add the figures: score, margin, gain, baseline, retention, the
    thresholds crossed (a JSON object) and when it was detected.
    """
    _note_if_stale(obj)
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
    with obj.open(read_only=True) as con:
        # the column names come from the fixed list above; the filters are parameters
        names, rows = _fetch(
            con,
            f"SELECT {', '.join(columns)} FROM anomalies {where} ORDER BY day DESC, platform, handle",
            params,
        )
    _emit(rows, fmt, names)
    obj.say(plural(len(rows), "anomaly"))


# What `audience query` sets on its read-only connection before the user's SQL runs, in this
# order: nothing spills to a temporary folder (settable only while external access is on); no
# file, URL, extension, secret or other database can be reached (COPY, EXPORT, ATTACH, INSTALL,
# LOAD, read_*, glob: refused); and the configuration is locked so that no SET, RESET or PRAGMA
# of the query can undo any of it. The warehouse itself was opened before, read-only.
QUERY_LOCKDOWN = (
    "SET temp_directory = ''",
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET allow_persistent_secrets = false",
    "SET allow_extension_repositories = 'forbidden'",
    "SET lock_configuration = true",
)
QUERY_KINDS = "SELECT, WITH, FROM, VALUES, SHOW, DESCRIBE, SUMMARIZE"


def _read_only_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse, before anything runs, what is not exactly one statement that only reads."""
    import duckdb

    try:
        statements = con.extract_statements(sql.encode("utf-8").decode("utf-8"))
        kinds = [s.type for s in statements]
    except UnicodeError:
        raise AudienceError("query refused: the SQL is not valid UTF-8 text") from None
    except duckdb.Error as exc:
        raise AudienceError(f"query failed: {str(exc).splitlines()[0]}") from None
    except ValueError:  # a statement DuckDB's Python API has no name for (UPDATE EXTENSIONS)
        raise AudienceError(
            f"query refused: only one query that reads ({QUERY_KINDS}) may run"
        ) from None
    if not statements:
        raise AudienceError(
            'query refused: no SQL statement given (e.g. audience query "SELECT * FROM accounts")'
        )
    if len(statements) > 1:
        raise AudienceError(
            f"query refused: {len(statements)} statements given; one query runs at a time"
        )
    kind = kinds[0]
    if kind != duckdb.StatementType.SELECT:
        name = {"LOAD": "INSTALL and LOAD", "SET": "SET, RESET and USE"}.get(kind.name, kind.name)
        raise AudienceError(
            f"query refused: {name} statements are not allowed; query only reads ({QUERY_KINDS})"
        )


@cli.command("query")
@click.argument("sql")
@format_option
@pass_context
def query_command(obj: Context, sql: str, fmt: str) -> None:
    """Run one read-only SQL query against the warehouse (SELECT, WITH, FROM, SHOW, DESCRIBE,
    SUMMARIZE).

    Nothing can be written and nothing but the warehouse read: no COPY, EXPORT, ATTACH,
    INSTALL or LOAD, no files or URLs (read_csv, read_text, glob, ...), no SET, RESET or PRAGMA.
    A refused query is one line `error: query refused: ...` and exit status 2.
    """
    _note_if_stale(obj)
    import duckdb

    with obj.open(read_only=True) as con:
        for setting in QUERY_LOCKDOWN:
            con.execute(setting)
        _read_only_statement(con, sql)
        try:
            columns, rows = _fetch(con, sql)
        except duckdb.PermissionException as exc:
            raise AudienceError(
                "query refused: it reads the warehouse only (no files, URLs or extensions): "
                + str(exc).splitlines()[0].removeprefix("Permission Error: ")
            ) from None
        except duckdb.Error as exc:
            raise AudienceError(f"query failed: {str(exc).splitlines()[0]}") from None
    _emit(rows, fmt, columns)


@cli.command("audit")
@click.argument("account")
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_day,
    help="Judge as of this day, from the data up to it only (default: today; never later).",
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
    type=UserPath(dir_okay=False, path_type=Path),
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
    _note_if_stale(obj)
    from audience.audit import NO_ANSWER, render_text, run_audit
    from audience.platforms import parse_account

    platform, handle = parse_account(account)
    day = not_future(obj, as_of) or obj.today()
    past = day < obj.today()  # the platforms only know today's size
    if live and past:
        raise AudienceError(
            f"--live asks the platform for today's size: it cannot be used with --as-of {day}"
        )
    audit = run_audit(obj.warehouse, obj.settings, platform, handle, day, live=live, fetch=not past)
    if html_path is not None:
        from reports.render import write_audit

        write_audit(audit, html_path)
        obj.say(f"audit page written to {html_path}")
    if fmt == "json":
        click.echo(json.dumps(_json_value(audit.as_dict()), indent=2))
    else:
        click.echo(render_text(audit))
    if audit.verdict_code in NO_ANSWER:
        raise click.exceptions.Exit(ExitStatus.NO_ANSWER)


# --- demo -----------------------------------------------------------------------------------


@cli.command("demo")
@click.option(
    "--folder",
    type=UserPath(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Where the demo writes its history, settings, outbox and report.",
)
@pass_context
def demo_command(obj: Context, folder: Path) -> None:
    """The whole product on this machine: simulator, history, tonight's run, alerts, report.

    Starts the platform simulator on loopback, imports seven months of simulated history,
    runs the nightly flow for today against it, writes the alert email to demo/outbox/ and
    the report to demo/report.html (warehouse: --warehouse when given, else
    demo/audience.duckdb). Starts afresh each time, replacing only what an earlier demo wrote:
    any other file where it would write (a warehouse it did not create, say) is refused with
    nothing touched. Needs no credentials and no network.
    """
    import shlex

    from audience.demo import DemoFiles, run_demo

    warehouse = (
        obj.warehouse
        if obj.warehouse != obj.settings.warehouse.path
        else folder / "audience.duckdb"
    )
    files = DemoFiles(folder, warehouse)
    today = obj.today()
    summary = run_demo(files, today, obj.say)
    demo = Context(obj.settings, warehouse, obj.quiet)
    _describe_run(demo, summary, f"the outbox {shown(str(files.outbox))}/")
    demo.say("4/4 what was found:")
    with demo.open(read_only=True) as con:
        rows = (
            con.sql(
                "SELECT day, platform, handle, kind, verdict, suspected_purchase, explanation "
                "FROM anomalies ORDER BY suspected_purchase DESC, verdict = 'pending' DESC, day"
            )
            .pl()
            .to_dicts()
        )
    for row in rows:
        verdict = {"suspected_purchase": "SUSPECTED PURCHASE", "pending": "UNDER WATCH"}.get(
            row["verdict"], row["verdict"].replace("_", " ")
        )
        what = f"{row['platform']}:{row['handle']} {row['kind']} on {row['day']}"
        click.echo(f"\n[{verdict}] {shown(what)}")
        click.echo(f"  {shown(str(row['explanation']))}")
    emails = sorted(files.outbox.glob("*.eml"))
    # the demo's settings (its accounts are tracked there) and its warehouse, whatever else is
    # set; every path as given is escaped, like every value echoed
    w = shown(
        shlex.join(["audience", "--config", str(files.config), "--warehouse", str(warehouse)])
    )
    click.echo(
        "\nwhere to look:\n"
        f"  report (open in a browser): {shown(str(summary['report']))}\n"
        f"  alert email(s): {shown(', '.join(str(e) for e in emails) or 'none')}\n"
        f"  warehouse (any DuckDB client): {shown(str(warehouse))}\n"
        f"  history that was imported: {shown(str(files.history))}; "
        f"settings used: {shown(str(files.config))}\n"
        "try:\n"
        f"  {w} audit x:growthguru\n"
        f"  {w} audit twitch:streamer_one\n"
        f"  {w} anomalies --suspected\n"
        f'  {w} query "SELECT platform, handle, followers, growth_rel_28 FROM daily_metrics '
        f"WHERE day = DATE '{today}' ORDER BY growth_rel_28 DESC LIMIT 5\"\n"
        f'  {w} query "SELECT day, followers, daily_gain, robust_z FROM daily_metrics '
        "WHERE handle = 'streamer_one' ORDER BY day DESC LIMIT 14\""
    )


def _error(text: str) -> None:
    """The safety net every error line goes through: escaped (repr-style) on stderr.

    Escaping leaves backslashes alone, so a message that already shows `\\x1b` stays as it is.
    """
    click.echo(shown_lines(text), err=True)


def _usage_error(exc: click.ClickException) -> int:
    """A usage mistake (unknown option, missing or bad argument) as one line, with where to look."""
    context = getattr(exc, "ctx", None)
    where = f" (see `{context.command_path} --help`)" if context is not None else ""
    _error(f"error: {shown(exc.format_message())}{where}")
    return ExitStatus.REFUSED


def main(argv: list[str] | None = None, *, today: Callable[[], date] | None = None) -> int:
    """Entry point: run the CLI and return a status of the exit table (audience.errors.ExitStatus).

    Every error is one line on stderr, escaped; a bug is `internal error: ...` with exit status 1,
    and its traceback only when AUDIENCE_DEBUG is set. `today` is the clock commands read
    "today" from (default: the wall clock's UTC day).
    """
    try:
        code = cli.main(args=argv, prog_name="audience", standalone_mode=False, obj=today)
        if isinstance(code, int):  # an explicit exit status (click.exceptions.Exit)
            return int(code)
    except click.exceptions.NoArgsIsHelpError as exc:  # `audience`, `audience accounts`: help
        exc.show()
        return ExitStatus.REFUSED
    except click.exceptions.Abort:  # click's form of Ctrl-C (KeyboardInterrupt)
        _error(INTERRUPTED)
        return ExitStatus.INTERRUPTED
    except click.ClickException as exc:
        return _usage_error(exc)
    except Interrupted as exc:
        _error(shown(str(exc)))
        return ExitStatus.INTERRUPTED
    except ImportRejected as exc:
        _error(exc.describe())  # one line per problem, then the verdict
        return int(exc.exit_status)
    except AudienceError as exc:
        _error(f"error: {shown(str(exc))}")  # one line, even if the message holds a line break
        return int(exc.exit_status)
    except KeyboardInterrupt:
        _error(INTERRUPTED)
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # a bug: say so in one line; the traceback on request
        if is_interrupt(exc):  # DuckDB's form of Ctrl-C: RuntimeError('Query interrupted')
            _error(INTERRUPTED)
            return ExitStatus.INTERRUPTED
        if os.environ.get("AUDIENCE_DEBUG", "") not in ("", "0"):
            import traceback

            _error(traceback.format_exc().rstrip())
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _error(
            f"internal error: {type(exc).__name__}"
            + (f": {shown(first)}" if first else "")
            + " (a bug; set AUDIENCE_DEBUG=1 to see the traceback)"
        )
        return ExitStatus.INTERNAL_ERROR
    return ExitStatus.DONE


def entry() -> None:
    """The console script: exit with main()'s status. After Ctrl-C, once everything is closed
    and said, leave without the interpreter's teardown, where native libraries whose calls were
    cut short report leaked objects in dozens of lines."""
    code = main()
    if code == ExitStatus.INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    raise SystemExit(int(code))


if __name__ == "__main__":
    entry()
