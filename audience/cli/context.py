"""What every command shares: the Context (settings, warehouse, clock), the path type a user
types, `--warehouse` after the command name, day options, and the stale-analysis note."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import click

from core.errors import AudienceError, shown_lines
from core.settings import Settings

if TYPE_CHECKING:
    import duckdb


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

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> str | bytes | os.PathLike[str]:
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


P = ParamSpec("P")
R = TypeVar("R")


def pass_context(command: Callable[Concatenate[Context, P], R]) -> Callable[P, R]:
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


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A day written YYYY-MM-DD, and only so (date.fromisoformat also takes 20261203 and
    2026-W49-4, which the import refuses); a long value is shown by its start."""
    if value is None:
        return None
    given = repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value):,} characters)"
    if not _DAY.fullmatch(value):
        raise click.BadParameter(f"{given} is not a date in YYYY-MM-DD form")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"no such day in the calendar: {given}") from None


def not_future(obj: Context, as_of: date | None) -> date | None:
    """`--as-of` as given, refused when it is after today: nothing is known of later days."""
    today = obj.today()
    if as_of is not None and as_of > today:
        raise AudienceError(
            f"--as-of {as_of.isoformat()!r} is after today ({today}): there is no data from the "
            "future; give a day up to today"
        )
    return as_of


def note_if_stale(obj: Context) -> None:
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
