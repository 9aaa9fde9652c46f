"""Is the warehouse whole? The file's blocks, the migrations, and the rows' invariants.

DuckDB stores a checksum with every block of the file and verifies it whenever it reads the
block from disk, so reading every column of every table makes it verify every data block it
holds (the catalog's blocks are verified when the file is opened). `read_every_block` is what
a writer runs before writing (warehouse.db.open_warehouse); `check_warehouse` adds the
migrations and the row invariants for `audience check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from core.errors import WarehouseDamaged, plural
from warehouse.migrations import applied_in_order, load_migrations

# what DuckDB says when a block, or the file itself, does not read back as it was written
_DAMAGE_SIGNS = (
    "corrupt",
    "not a valid duckdb database",
    "failed to deserialize",
    "serializationexception",
    "invalid block",
)


def looks_damaged(exc: BaseException) -> bool:
    """Whether a DuckDB error means the file is damaged (as opposed to busy, missing, ...)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(sign in text for sign in _DAMAGE_SIGNS)


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def damaged(path: Path, why: str) -> WarehouseDamaged:
    exc = WarehouseDamaged(f"warehouse {path} is damaged: {why} (run audience check)")
    exc.reason = why
    return exc


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_every_block(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int]:
    """Read every value of every table (DuckDB verifies each block's checksum as it reads it).

    Returns (tables, rows); raises WarehouseDamaged naming the first table that does not read.
    hash() needs every value, so no column can be answered from its statistics alone.
    """
    tables = _tables(con)
    rows = 0
    for table in tables:
        columns = [
            str(r[0])
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
        ]
        reads = ", ".join(f"bit_xor(hash({_quote(c)}))" for c in columns)
        try:
            result = con.execute(f"SELECT count(*), {reads} FROM {_quote(table)}").fetchall()
        except duckdb.Error as exc:
            if looks_damaged(exc):
                raise damaged(
                    path, f"table {table} does not read back: {first_line(exc)}"
                ) from None
            raise
        rows += int(result[0][0])
    return len(tables), rows


@dataclass
class CheckReport:
    """What `audience check` looked at, and every problem it found (one line each)."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# Each invariant: what it says, and a query returning (count of violations, one example).
_INVARIANTS: tuple[tuple[str, str], ...] = (
    (
        "one snapshot per account and day",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR) FROM (
             SELECT platform, handle, day FROM snapshots GROUP BY ALL HAVING count(*) > 1)""",
    ),
    (
        "one metrics row per account and day",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR) FROM (
             SELECT platform, handle, day FROM daily_metrics GROUP BY ALL HAVING count(*) > 1)""",
    ),
    (
        "one account_metrics row per account",
        """SELECT count(*), any_value(platform || ':' || handle) FROM (
             SELECT platform, handle FROM account_metrics GROUP BY ALL HAVING count(*) > 1)""",
    ),
    (
        "no negative counts in snapshots",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR)
           FROM snapshots WHERE followers < 0 OR following < 0 OR posts < 0 OR views < 0""",
    ),
    (
        "no negative counts in daily_metrics",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR)
           FROM daily_metrics WHERE followers < 0 OR following < 0 OR posts < 0""",
    ),
    (
        "no negative row counts in imports",
        "SELECT count(*), any_value(file_name) FROM imports WHERE rows < 0",
    ),
    (
        "no snapshot after today",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR)
           FROM snapshots WHERE day > $today""",
    ),
    (
        "no metrics after today",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR)
           FROM daily_metrics WHERE day > $today""",
    ),
    (
        "no anomaly after today",
        """SELECT count(*), any_value(platform || ':' || handle || ' ' || day::VARCHAR)
           FROM anomalies WHERE day > $today""",
    ),
    (
        "first_seen <= last_seen <= today for every account",
        """SELECT count(*), any_value(platform || ':' || handle) FROM accounts
           WHERE first_seen > last_seen OR last_seen > $today""",
    ),
    *(
        (
            f"{table} only for known accounts",
            f"""SELECT count(*), any_value(t.platform || ':' || t.handle) FROM {table} t
                WHERE NOT EXISTS (SELECT 1 FROM accounts a
                                  WHERE a.platform = t.platform AND a.handle = t.handle)""",
        )
        for table in ("snapshots", "daily_metrics", "anomalies", "account_metrics", "alerts")
    ),
    (
        "metrics only for accounts with snapshots",
        """SELECT count(*), any_value(platform || ':' || handle) FROM (
             SELECT DISTINCT platform, handle FROM daily_metrics
             EXCEPT SELECT DISTINCT platform, handle FROM snapshots)""",
    ),
    *(
        (
            f"{table} rows only for recorded runs",
            f"""SELECT count(*), any_value(t.run_id) FROM {table} t
                WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = t.run_id)""",
        )
        for table in ("collection_log", "imports")
    ),
)


def _check_rows(con: duckdb.DuckDBPyConnection, today: date, report: CheckReport) -> None:
    for claim, sql in _INVARIANTS:
        params = {"today": today} if "$today" in sql else None
        try:
            count, example = con.execute(sql, params).fetchall()[0]
        except duckdb.CatalogException as exc:  # a table the schema should have is missing
            report.problems.append(f"rows: cannot check {claim!r}: {first_line(exc)}")
            continue
        if count:
            report.problems.append(
                f"rows: {claim}: {plural(count, 'violation')}, e.g. {str(example)!r}"
            )
        report.checked.append(f"rows: {claim}")


def _check_migrations(con: duckdb.DuckDBPyConnection, report: CheckReport) -> None:
    known = load_migrations()
    problems, applied = applied_in_order(con, known)
    report.problems.extend(f"migrations: {p}" for p in problems)
    pending = [m.version for m in known if m.version not in applied]
    note = (
        f"; {len(pending)} not applied yet (the next writing command applies them)"
        if pending
        else ""
    )
    report.checked.append(
        f"migrations: {len(applied)} applied of {len(known)} known, in order, checksums compared "
        f"with the files{note}"
    )


# DuckDB's file layout (storage format 1.x and 2.x): three 4 KiB headers, then blocks of 256
# KiB, each starting with its 8-byte checksum of the rest (src/common/checksum.cpp: the XOR of
# every 8-byte word times this constant, XOR 5381)
HEADERS_SIZE = 3 * 4096
BLOCK_SIZE = 262_144
CHECKSUM_MULTIPLIER = 0xBF58476D1CE4E5B9
CHECKSUM_SEED = 5381


def failing_blocks(path: Path, blocks: int) -> list[int] | None:
    """The blocks among the first `blocks` whose stored checksum does not match their content.

    Reads the file in pieces of 64 blocks (16 MiB); None when its layout is not the one
    expected (then DuckDB's own reads are the only check).
    """
    import numpy as np

    failing: list[int] = []
    with path.open("rb") as handle:
        handle.seek(HEADERS_SIZE)
        for first in range(0, blocks, 64):
            raw = handle.read(min(64, blocks - first) * BLOCK_SIZE)
            count = len(raw) // BLOCK_SIZE
            if count == 0:
                break
            words = np.frombuffer(raw[: count * BLOCK_SIZE], dtype="<u8").reshape(count, -1)
            with np.errstate(over="ignore"):
                computed = np.bitwise_xor.reduce(
                    words[:, 1:] * np.uint64(CHECKSUM_MULTIPLIER), axis=1
                ) ^ np.uint64(CHECKSUM_SEED)
            failing += [first + int(i) for i in np.flatnonzero(computed != words[:, 0])]
    return failing


def _check_blocks(con: duckdb.DuckDBPyConnection, path: Path, report: CheckReport) -> None:
    """Every block's checksum, index blocks included (no query reads those unless it writes)."""
    size = con.execute("PRAGMA database_size").fetchall()[0]
    block_size, total, free = int(size[2]), int(size[3]), int(size[5])
    failing = failing_blocks(path, total) if block_size == BLOCK_SIZE else None
    if failing is None or len(failing) == total:  # not the layout this check knows
        report.checked.append("blocks: DuckDB's file layout is not the known one: not checked")
        return
    if not failing:
        report.checked.append(f"blocks: all {total} blocks match their checksums")
    elif free == 0:
        report.problems.append(
            f"file: {len(failing)} of {total} blocks fail their checksum (first: block "
            f"{failing[0]}); every block is in use"
        )
    else:  # a free block may hold a write an interruption cut short: harmless, but unknown
        report.checked.append(
            f"blocks: {len(failing)} of {total} blocks fail their checksum, no more than the "
            f"{free} free ones: they may be free blocks (harmless) or damaged index blocks; "
            "a write into the warehouse would tell"
        )


def check_warehouse(con: duckdb.DuckDBPyConnection, path: Path, today: date) -> CheckReport:
    """Every check `audience check` makes: file, migrations, rows. Never writes."""
    report = CheckReport()
    try:
        tables, rows = read_every_block(con, path)
    except WarehouseDamaged as exc:
        report.problems.append(f"file: {exc.reason}")
        return report  # the other checks would read the same damaged blocks
    report.checked.append(
        f"file: every block of {tables} tables read ({rows:,} rows); DuckDB verified each "
        "block's checksum"
    )
    _check_blocks(con, path, report)
    if report.problems:
        return report
    _check_migrations(con, report)
    _check_rows(con, today, report)
    return report
