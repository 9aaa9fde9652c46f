"""`audience accounts list|add|remove`: the tracked accounts, from the settings and the CLI."""

from __future__ import annotations

import click

from audience.cli.context import Context, note_if_stale, pass_context
from audience.cli.output import Row, emit, format_option, in_columns
from core.errors import AudienceError, shown

# what `accounts list` shows of each account, in this order
LISTED = [
    "platform",
    "handle",
    "tracked",
    "status",
    "first_seen",
    "last_seen",
    "latest_followers",
    "tags",
]


@click.group("accounts")
def accounts_group() -> None:
    """List, add or remove tracked accounts."""


def _not_yet_collected(obj: Context, rows: list[Row]) -> list[Row]:
    """The configured accounts the warehouse has no row of yet, as rows of the listing."""
    seen = {f"{r['platform']}:{r['handle']}" for r in rows}
    return [
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
        for account in obj.settings.accounts
        if account.key not in seen
    ]


@accounts_group.command("list")
@format_option
@pass_context
def accounts_list(obj: Context, fmt: str) -> None:
    """Every account in the warehouse, with its latest figure, and the configured ones."""
    note_if_stale(obj)
    from warehouse.reads import account_listing

    configured = {a.key for a in obj.settings.accounts}
    rows: list[Row] = []
    if obj.warehouse.exists():
        with obj.open(read_only=True) as con:
            rows = account_listing(con)
    rows += _not_yet_collected(obj, rows)
    for row in rows:
        key = f"{row['platform']}:{row['handle']}"
        row["tracked"] = "config" if key in configured else ("cli" if row["tracked"] else "no")
    emit(in_columns(rows, LISTED), fmt, LISTED)


@accounts_group.command("add")
@click.argument("accounts", nargs=-1, required=True)
@click.option("--tag", "tags", multiple=True, help="Tag the accounts (repeatable).")
@pass_context
def accounts_add(obj: Context, accounts: tuple[str, ...], tags: tuple[str, ...]) -> None:
    """Track PLATFORM:HANDLE accounts (e.g. github:octocat, mastodon:user@host)."""
    from core.platforms import check_tag, parse_account
    from warehouse.accounts import track

    parsed = [parse_account(a) for a in accounts]  # validate all before changing anything
    tags = tuple(check_tag(tag) for tag in tags)
    with obj.open() as con:
        for platform, handle in parsed:
            track(con, platform, handle, tags)
    click.echo(f"tracking {', '.join(shown(f'{p}:{h}') for p, h in parsed)}")


@accounts_group.command("remove")
@click.argument("accounts", nargs=-1, required=True)
@pass_context
def accounts_remove(obj: Context, accounts: tuple[str, ...]) -> None:
    """Stop tracking accounts; their history stays in the warehouse."""
    from core.platforms import parse_account
    from warehouse.accounts import known, untrack
    from warehouse.db import in_transaction

    parsed = [parse_account(a) for a in accounts]
    configured = {a.key for a in obj.settings.accounts}
    for platform, handle in parsed:
        if f"{platform}:{handle}" in configured:
            from core.settings import settings_path

            raise AudienceError(
                f"{platform}:{handle} is listed in the settings file "
                f"{shown(str(settings_path(obj.config)))}; "
                "remove it there (nothing was changed)"
            )
    # every account checked before anything is written: a refusal changes nothing, not even
    # the file's bytes (a read-only look), and a list is untracked whole or not at all
    with obj.open(read_only=True) as con:
        for platform, handle in parsed:
            if not known(con, platform, handle):
                raise AudienceError(
                    f"{platform}:{handle} is not in the warehouse {shown(str(obj.warehouse))} "
                    "(nothing was changed)"
                )
    with obj.open() as con, in_transaction(con):
        for platform, handle in parsed:
            untrack(con, platform, handle)
    click.echo(f"stopped tracking {', '.join(f'{p}:{h}' for p, h in parsed)} (history kept)")
