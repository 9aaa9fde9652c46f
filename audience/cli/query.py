"""`audience query`: one read-only SQL query of an analyst's, on a locked-down connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from audience.cli.context import Context, note_if_stale, pass_context
from audience.cli.output import emit, fetch_rows, format_option
from core.errors import AudienceError
from warehouse.example_queries import EVERY_ACCOUNT
from warehouse.lockdown import lock_down

if TYPE_CHECKING:
    import duckdb

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
            f'query refused: no SQL statement given (e.g. audience query "{EVERY_ACCOUNT}")'
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


@click.command("query")
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
    note_if_stale(obj)
    import duckdb

    with obj.open(read_only=True) as con:
        lock_down(con)
        _read_only_statement(con, sql)
        try:
            columns, rows = fetch_rows(con.sql(sql))
        except duckdb.PermissionException as exc:
            raise AudienceError(
                "query refused: it reads the warehouse only (no files, URLs or extensions): "
                + str(exc).splitlines()[0].removeprefix("Permission Error: ")
            ) from None
        except duckdb.Error as exc:
            raise AudienceError(f"query failed: {str(exc).splitlines()[0]}") from None
    emit(rows, fmt, columns)
