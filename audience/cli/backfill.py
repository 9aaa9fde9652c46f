"""`audience backfill github:owner/repo`: a repository's star history rebuilt from its
stargazers' timestamps (pipeline.backfill), with a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from audience.cli.context import Context, pass_context
from core.errors import shown


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A page-count progress bar on stderr when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("stargazer pages"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout stays clean for the result lines
        transient=True,
    )
    task = bar.add_task("backfill", total=None)
    bar.start()

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return advance, bar.stop


@click.command("backfill")
@click.argument("account")
@pass_context
def backfill_command(obj: Context, account: str) -> None:
    """Rebuild github:OWNER/REPO's daily star counts from its stargazers' timestamps.

    Written into snapshots as source backfill:github (estimated days past GitHub's 400-page
    cap as backfill:github:estimated), never over a collected or imported figure. Reads 100
    stars a request within GitHub's rate limit (60 requests an hour without
    AUDIENCE_GITHUB_TOKEN, 5,000 with it: without one, a repository that needs more is
    refused with how long it would take). Resumable: the pages read are kept in
    backfill_pages until the rebuild is written; after Ctrl-C (exit 130), a spent rate
    limit or GitHub unreachable or failing after the retries (exit 3) the same command
    continues where it stopped.
    """
    from pipeline.backfill import backfill

    progress, stop = _progress_bar(not obj.quiet)
    try:
        summary = backfill(obj.warehouse, obj.settings, account, obj.today(), progress=progress)
    finally:
        stop()
    for line in summary.lines():
        click.echo(shown(line))
    obj.say("next: audience run --skip-collect   (analyse the rebuilt history)")
