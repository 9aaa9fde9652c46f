"""What the analysis found, for a person: `anomalies` (flagged days with their evidence) and
`audit` (one account's page and verdict)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from audience.cli.context import (
    Context,
    UserPath,
    not_future,
    note_if_stale,
    parse_day,
    pass_context,
)
from audience.cli.output import emit, fetch_rows, format_option, json_value
from core.errors import AudienceError, ExitStatus, plural

# what `anomalies` shows of each flagged day; --format json and csv add ANOMALY_FIGURES
ANOMALY_COLUMNS = [
    "day",
    "platform",
    "handle",
    "kind",
    "attribution",
    "suspected_purchase",
    "verdict",
    "confidence",
    "severity",
    "explanation",
]
ANOMALY_FIGURES = [
    "score",
    "margin",
    "gain",
    "baseline_median",
    "retention_7",
    "retention_30",
    "thresholds",
    "detected_at",
]


@click.command("anomalies")
@click.option("--since", callback=parse_day, help="Only anomalies on or after this day.")
@click.option("--platform", help="Only this platform.")
@click.option("--suspected", is_flag=True, help="Only suspected purchases.")
@format_option
@pass_context
def anomalies_command(
    obj: Context, since: date | None, platform: str | None, suspected: bool, fmt: str
) -> None:
    """Flagged days with their verdict, confidence and evidence, newest first.

    --format json and csv add the figures: score, margin, gain, baseline, retention, the
    thresholds crossed (a JSON object) and when it was detected.
    """
    note_if_stale(obj)
    if platform is not None:
        from core.platforms import platform_name

        platform = platform_name(platform)  # as in an account's PLATFORM:HANDLE
    from warehouse.reads import anomaly_listing

    columns = ANOMALY_COLUMNS + (ANOMALY_FIGURES if fmt != "table" else [])
    with obj.open(read_only=True) as con:
        listing = anomaly_listing(con, columns, since=since, platform=platform, suspected=suspected)
        names, rows = fetch_rows(listing)
    emit(rows, fmt, names)
    obj.say(plural(len(rows), "anomaly"))


@click.command("audit")
@click.argument("account")
@click.option(
    "--as-of",
    "as_of",
    callback=parse_day,
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
@click.option(
    "--sample",
    is_flag=True,
    help="Sample now the followers of its largest jump and of ordinary days (Bluesky, "
    "Mastodon, GitHub repositories; stored in the warehouse).",
)
@pass_context
def audit_command(
    obj: Context,
    account: str,
    as_of: date | None,
    live: bool,
    fmt: str,
    html_path: Path | None,
    sample: bool,
) -> None:
    """Does PLATFORM:HANDLE's audience look organic? One page: size, history, growth, flagged
    days with their evidence, an organic-adjusted estimate and a verdict with its confidence.

    An account the warehouse has no figures of is fetched from the platform now (not stored);
    the page then says what history is missing, what it could judge now (its newest followers
    against earlier ones, its newest posts' engagement: read once, not stored) and what only
    tracking gives. Reads the warehouse only, but for --sample
    (and the backfill of an untracked GitHub repository).
    """
    note_if_stale(obj)
    from audience.audit import NO_ANSWER, render_text, run_audit
    from core.platforms import parse_account

    platform, handle = parse_account(account)
    day = not_future(obj, as_of) or obj.today()
    past = day < obj.today()  # the platforms only know today's size
    if live and past:
        raise AudienceError(
            f"--live asks the platform for today's size: it cannot be used with --as-of {day}"
        )
    if sample and past:
        raise AudienceError(
            f"--sample asks the platform for today's followers: it cannot be used with --as-of {day}"
        )
    audit = run_audit(
        obj.warehouse, obj.settings, platform, handle, day, live=live, fetch=not past, sample=sample
    )
    if html_path is not None:
        from reports.render import write_audit

        write_audit(audit, html_path)
        obj.say(f"audit page written to {html_path}")
    if fmt == "json":
        click.echo(json.dumps(json_value(audit.as_dict()), indent=2))
    else:
        click.echo(render_text(audit))
    if audit.verdict_code in NO_ANSWER:
        raise click.exceptions.Exit(ExitStatus.NO_ANSWER)
    if audit.failed_now:  # judged, but a read of its followers or posts failed (the page says)
        raise click.exceptions.Exit(ExitStatus.PARTLY_DONE)
