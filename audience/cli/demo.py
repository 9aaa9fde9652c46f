"""`audience demo`: the whole product on this machine, then what it found and where to look."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from audience.cli.context import Context, UserPath, pass_context
from audience.cli.run import describe_run
from core.errors import shown
from warehouse.example_queries import STREAMER_DAYS, fastest_growing

if TYPE_CHECKING:
    from audience.demo import DemoFiles


@click.command("demo")
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
    describe_run(demo, summary, f"the outbox {shown(str(files.outbox))}/")
    demo.say("4/4 what was found:")
    _print_findings(demo)
    _print_where_to_look(files, summary.report, today)


def _print_findings(demo: Context) -> None:
    """Every anomaly of the demo's warehouse, suspected purchases and those under watch first."""
    from warehouse.reads import findings_by_verdict

    with demo.open(read_only=True) as con:
        rows = findings_by_verdict(con)
    for row in rows:
        verdict = {"suspected_purchase": "SUSPECTED PURCHASE", "pending": "UNDER WATCH"}.get(
            row["verdict"], row["verdict"].replace("_", " ")
        )
        what = f"{row['platform']}:{row['handle']} {row['kind']} on {row['day']}"
        click.echo(f"\n[{verdict}] {shown(what)}")
        click.echo(f"  {shown(str(row['explanation']))}")


def _print_where_to_look(files: DemoFiles, report: str, today: date) -> None:
    """The demo's files, and commands to try on its warehouse."""
    import shlex

    emails = sorted(files.outbox.glob("*.eml"))
    # the demo's settings (its accounts are tracked there) and its warehouse, whatever else is
    # set; every path as given is escaped, like every value echoed
    w = shown(
        shlex.join(["audience", "--config", str(files.config), "--warehouse", str(files.warehouse)])
    )
    click.echo(
        "\nwhere to look:\n"
        f"  report (open in a browser): {shown(report)}\n"
        f"  alert email(s): {shown(', '.join(str(e) for e in emails) or 'none')}\n"
        f"  warehouse (any DuckDB client): {shown(str(files.warehouse))}\n"
        f"  history that was imported: {shown(str(files.history))}; "
        f"settings used: {shown(str(files.config))}\n"
        "try:\n"
        f"  {w} audit x:growthguru\n"
        f"  {w} audit twitch:streamer_one\n"
        f"  {w} anomalies --suspected\n"
        f'  {w} query "{fastest_growing(today)}"\n'
        f'  {w} query "{STREAMER_DAYS}"'
    )
