"""Rows on stdout as a table, CSV or JSON, with the values as a machine reads them."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from datetime import time as time_of_day
from typing import TYPE_CHECKING

import click

from core.errors import shown

if TYPE_CHECKING:
    import duckdb

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="How to print the rows.",
)

Row = dict[str, object]  # a row by column name, its values as a query gives them
# a value as JSON has it
Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]


def _machine_value(value: object) -> object:
    """A value as JSON, CSV and the table show it: whole decimals as integers, others as floats."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def fetch_rows(relation: duckdb.DuckDBPyRelation) -> tuple[list[str], list[list[object]]]:
    """Column names and rows as machine values: JSON columns parsed, DECIMAL as numbers, and a
    floating-point column whose every figure is whole (a count stored as DOUBLE) as integers."""
    columns = list(relation.columns)
    is_json = [str(t) == "JSON" for t in relation.types]
    rows = [[_machine_value(v) for v in row] for row in relation.fetchall()]
    for i, json_column in enumerate(is_json):
        values = [row[i] for row in rows if row[i] is not None]
        if json_column:
            for row in rows:
                row[i] = None if row[i] is None else json.loads(str(row[i]))
        elif values and all(
            isinstance(v, float) and (not math.isfinite(v) or (v.is_integer() and abs(v) < 2**53))
            for v in values
        ):  # NaN and infinities stay what they are
            for row in rows:
                value = row[i]
                if isinstance(value, float) and math.isfinite(value):
                    row[i] = int(value)
    return columns, rows


def json_value(value: object) -> Json:
    """JSON has no dates, no NaN and no bytes: ISO text, null, and hex."""
    if isinstance(value, date | time_of_day):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # UUID, interval, ...


def _text_value(value: object) -> str:
    """One CSV or table cell: NULL empty, booleans as true/false, NaN and infinities as
    nan/inf/-inf, nested values as JSON, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict | list | tuple):
        return json.dumps(json_value(value), ensure_ascii=False)
    return str(json_value(value))


def emit(rows: Sequence[Sequence[object]], fmt: str, columns: list[str]) -> None:
    """Print rows (values in `columns` order) as a table, CSV or JSON on stdout."""
    if fmt == "json":
        as_json = [dict(zip(_unique(columns), map(json_value, row), strict=True)) for row in rows]
        click.echo(json.dumps(as_json, indent=2))
        return
    if fmt == "csv":
        import csv
        import io

        # piped, the values exactly (click.echo would strip what looks like a terminal escape);
        # on a terminal, which would act on control characters, shown as the table shows them
        cell = shown if sys.stdout.isatty() else str
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([cell(c) for c in columns])
        writer.writerows([cell(_text_value(v)) for v in row] for row in rows)
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
        return
    width = output_width()
    cells = [[shown(_text_value(v)) for v in row] for row in rows]
    if width < RECORD_VIEW_BELOW:
        click.echo(records(cells, [shown(c) for c in columns], width), nl=False)
        return
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    def column(i: int, name: str) -> Column:
        """A handle or an account is never cut or wrapped; other values wrap, never cut."""
        if name in WHOLE:
            longest = max([len(name), *(len(row[i]) for row in cells)])
            return Column(header=Text(name), no_wrap=True, min_width=longest)
        return Column(header=Text(name), overflow="fold")

    table = Table(*[column(i, shown(c)) for i, c in enumerate(columns)], show_lines=False)
    for row in cells:  # Text: a stored "[red]" is shown, not taken as markup; escapes made visible
        table.add_row(*[Text(cell) for cell in row])
    Console(width=width).print(table)


RECORD_VIEW_BELOW = 100  # columns: narrower, each row is printed as a record, a field a line
WHOLE = frozenset({"platform", "handle", "account"})  # never cut
PIPED_WIDTH = 240  # piped output keeps whole values


def output_width() -> int:
    """The width to print for: COLUMNS when set, else the terminal's, else PIPED_WIDTH."""
    import os
    import shutil

    given = os.environ.get("COLUMNS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return PIPED_WIDTH


def records(rows: Sequence[Sequence[str]], columns: list[str], width: int) -> str:
    """Rows as records, one `name: value` line a field and a blank line between rows; a long
    value wraps at spaces under its name's indent (a word, a handle, is never cut)."""
    import textwrap

    pad = max((len(c) for c in columns), default=0) + 2
    out = []
    for row in rows:
        for name, value in zip(columns, row, strict=True):
            out.append(
                textwrap.fill(
                    value,
                    width=max(width, pad + 20),
                    initial_indent=f"{name}:".ljust(pad),
                    subsequent_indent=" " * pad,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                if value
                else f"{name}:"
            )
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def _unique(columns: list[str]) -> list[str]:
    """JSON keys for the columns: a repeated name gets a suffix (`n`, `n_2`) instead of a loss."""
    seen: dict[str, int] = {}
    keys = []
    for column in columns:
        seen[column] = seen.get(column, 0) + 1
        keys.append(column if seen[column] == 1 else f"{column}_{seen[column]}")
    return keys


def in_columns(rows: Sequence[Mapping[str, object]], columns: list[str]) -> list[list[object]]:
    """Rows given as dicts, as lists of their values in `columns` order."""
    return [[row.get(c) for c in columns] for row in rows]
