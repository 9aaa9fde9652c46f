"""The `audience` command line: a thin layer over the library.

Domain errors become one line on stderr and exit status 2; heavy imports (Polars, DuckDB)
happen inside the commands that need them, and Prefect or Great Expectations only inside the
nightly run, so quick commands start fast.

One module per group of commands: `context` (what they share), `output` (rows as a table, CSV
or JSON), `data` (import, export, check), `backfill`, `run` (run, report, serve), `accounts`, `findings`
(anomalies, audit), `query`, `demo`. This module holds the group, `main` and the console
script `entry`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click

from audience.cli.accounts import accounts_group
from audience.cli.backfill import backfill_command
from audience.cli.context import Context, UserPath, utc_today
from audience.cli.data import check_command, export_command, import_command
from audience.cli.demo import demo_command
from audience.cli.findings import anomalies_command, audit_command
from audience.cli.query import query_command
from audience.cli.run import report_command, run_command, serve_command
from core.errors import (
    INTERRUPTED,
    AudienceError,
    ConfigError,
    ExitStatus,
    ImportRejected,
    Interrupted,
    is_interrupt,
    shown,
    shown_lines,
)
from core.settings import load_settings
from warehouse.export import EXPORTED
from warehouse.lockdown import QUERY_LOCKDOWN

__all__ = ["EXPORTED", "QUERY_LOCKDOWN", "SAMPLE", "cli", "entry", "main"]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_history.csv"


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


for _command in (
    import_command,
    backfill_command,
    run_command,
    report_command,
    export_command,
    check_command,
    serve_command,
    accounts_group,
    anomalies_command,
    query_command,
    audit_command,
    demo_command,
):
    cli.add_command(_command)


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


def _internal_error(exc: Exception) -> int:
    """A bug said in one line (the traceback when AUDIENCE_DEBUG is set); Ctrl-C as DuckDB
    raises it (RuntimeError('Query interrupted')) said as an interrupt."""
    if is_interrupt(exc):
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


def main(argv: list[str] | None = None, *, today: Callable[[], date] | None = None) -> int:
    """Entry point: run the CLI and return a status of the exit table (core.errors.ExitStatus).

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
    except ConfigError as exc:  # a line per problem (each names its file or variable), escaped
        _error("\n".join(f"error: {shown(line)}" for line in str(exc).split("\n")))
        return int(exc.exit_status)
    except AudienceError as exc:
        _error(f"error: {shown(str(exc))}")  # one line, even if the message holds a line break
        return int(exc.exit_status)
    except KeyboardInterrupt:
        _error(INTERRUPTED)
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # a bug: say so in one line; the traceback on request
        return _internal_error(exc)
    return ExitStatus.DONE


def entry() -> None:
    """The console script: exit with main()'s status. After Ctrl-C, once everything is closed
    and said, leave without the interpreter's teardown, where native libraries whose calls were
    cut short report leaked objects in dozens of lines."""
    status: list[int] = []
    try:
        status.append(main())
        # the command is done and has said so: a Ctrl-C now (during the interpreter's exit)
        # changes nothing, so it must not turn the status into 130 (an export that had written
        # every file and said so exited 130)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        if not status:  # between main's return and here: its status is lost, say interrupted
            _error(INTERRUPTED)
            status.append(ExitStatus.INTERRUPTED)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = status[0]
    if code == ExitStatus.INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    raise SystemExit(int(code))
