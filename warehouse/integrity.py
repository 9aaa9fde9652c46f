"""Is the warehouse whole? The file's blocks, the migrations, and the rows' invariants.

DuckDB stores a checksum with every block of the file and verifies it whenever it reads the
block from disk, so reading every column of every table makes it verify every data block it
holds (the catalog's blocks are verified when the file is opened). Before writing, a writer
(warehouse.db.open_warehouse) verifies every block's checksum itself (`every_block_matches`,
4-5 times faster than DuckDB decoding every value), and only when one fails reads every block
through DuckDB (`read_every_block`) to tell damage from a harmless free block; `check_warehouse`
does both and adds the migrations and the row invariants for `audience check`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import duckdb

from core.errors import WarehouseDamaged, plural
from warehouse.migrations import applied_in_order, load_migrations

if TYPE_CHECKING:
    import numpy as np

# what DuckDB says when a block, or the file itself, does not read back as it was written
_DAMAGE_SIGNS = (
    "corrupt",
    "not a valid duckdb database",
    "failed to deserialize",
    "serializationexception",
    "invalid block",
    "could not read enough bytes",  # the file ends before a block it lists: cut short
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


# The warehouse files a DuckDB connection of this process holds, each with a handle to read
# it by. DuckDB locks its file with fcntl, and POSIX drops every such lock a process holds on a
# file when the process closes any descriptor of that file: a check that opened and closed
# the file while DuckDB held it let a second writer in, and two writers corrupted the file.
# So whatever reads the file meanwhile reads through this handle, closed after DuckDB's own.
_PINNED: dict[Path, tuple[BinaryIO, int]] = {}  # the handle, and how many hold it
_PIN_LOCK = threading.RLock()


@contextmanager
def pinned(path: Path) -> Iterator[None]:
    """Hold a handle to `path` while the block runs (a DuckDB connection's life, opened
    before it and closed after it); reads of the file meanwhile go through it (`reading`).
    Counted: connections of several threads to one file share it, closed after the last."""
    key = path.resolve()
    with _PIN_LOCK:
        handle, holders = _PINNED.get(key) or (path.open("rb"), 0)
        _PINNED[key] = (handle, holders + 1)
    try:
        yield
    finally:
        with _PIN_LOCK:
            handle, holders = _PINNED[key]
            if holders == 1:
                del _PINNED[key]
                handle.close()
            else:
                _PINNED[key] = (handle, holders - 1)


@contextmanager
def reading(path: Path) -> Iterator[BinaryIO]:
    """A handle to read `path` with: the pinned one (never closed here), else a fresh one."""
    with _PIN_LOCK:
        held = _PINNED.get(path.resolve())
        if held is not None:
            held[0].seek(0)
            yield held[0]
            return
    with path.open("rb") as fresh:
        yield fresh


def failing_blocks(path: Path, blocks: int) -> list[int] | None:
    """The blocks among the first `blocks` whose stored checksum does not match their content.

    Reads the file in pieces of 64 blocks (16 MiB); None when its layout is not the one
    expected (then DuckDB's own reads are the only check).
    """
    import numpy as np

    failing: list[int] = []
    with reading(path) as handle:
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


def block_count(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """The warehouse's block size, its blocks (in use and free) and its free blocks."""
    row = con.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchall()[0]
    return int(row[0]), int(row[1]), int(row[2])


def every_block_matches(path: Path, block_size: int, blocks: int, free: int) -> bool:
    """Whether each of the file's `blocks` blocks matches its checksum: what DuckDB verifies
    when it reads a block, here of every block, index and free ones too, without decoding a
    value. Blocks past the end of the file must be free ones: DuckDB gives the file's free
    tail back to the file system after writing the header that still counts it, so the free
    list that header points to (of `free` blocks) must hold them.

    False when that cannot be said so: the layout is not the known one, the file ends inside a
    block or before a block in use, or a block fails (a free one may hold a write an
    interruption cut short, which is harmless: the caller then reads every block through
    DuckDB, read_every_block, to tell).
    """
    if block_size != BLOCK_SIZE or blocks <= 0:
        return False
    try:
        present, rest = divmod(path.stat().st_size - HEADERS_SIZE, BLOCK_SIZE)
        if present < blocks:
            if rest or present < 0:
                return False
            with reading(path) as handle:
                listed = _free_list(handle, blocks)
            if listed is None or len(listed) != free or not set(range(present, blocks)) <= listed:
                return False
        return failing_blocks(path, min(present, blocks)) == []
    except OSError:
        return False


# DuckDB's database headers (two, the one with the higher iteration in force) and metadata:
# each block of metadata holds 64 pieces, each starting with the pointer to the next; a pointer
# is a block id with the piece's index in its top byte
DATABASE_HEADERS = (4096, 8192)
METADATA_PIECES = 64
_METADATA_PIECE = (BLOCK_SIZE - 8) // METADATA_PIECES // 8 * 8
_NO_POINTER = 2**64 - 1


def _checksum(words: np.ndarray) -> int:
    import numpy as np

    with np.errstate(over="ignore"):
        return int(np.bitwise_xor.reduce(words * np.uint64(CHECKSUM_MULTIPLIER))) ^ CHECKSUM_SEED


def _free_list(handle: BinaryIO, blocks: int) -> set[int] | None:
    """The free blocks listed by the database header in force; None when the headers or the
    list do not read as DuckDB's layout (storage format 1.x and 2.x) says."""
    import numpy as np

    newest: tuple[int, int] | None = None
    for offset in DATABASE_HEADERS:
        handle.seek(offset)
        words = np.frombuffer(handle.read(4096), dtype="<u8")
        if len(words) != 512 or _checksum(words[1:]) != int(words[0]):
            continue
        iteration, free_list, block_count, alloc = (int(w) for w in words[[1, 3, 4, 5]])
        if block_count != blocks or alloc != BLOCK_SIZE:
            return None
        if newest is None or iteration > newest[0]:
            newest = (iteration, free_list)
    if newest is None:
        return None
    pointer = newest[1]
    if pointer == _NO_POINTER:
        return set()
    head = _metadata(handle, pointer, 8, blocks)
    count = int.from_bytes(head, "little") if head else blocks + 1
    listed = _metadata(handle, pointer, 8 + 8 * count, blocks) if count <= blocks else None
    if listed is None:
        return None
    ids = {int(i) for i in np.frombuffer(listed[8:], dtype="<i8")}
    return ids if len(ids) == count and all(0 <= i < blocks for i in ids) else None


def _metadata(handle: BinaryIO, pointer: int, size: int, blocks: int) -> bytes | None:
    """`size` bytes of metadata from `pointer` on, across its pieces; None past the file."""
    out = bytearray()
    while len(out) < size:
        block, piece = pointer & (2**56 - 1), pointer >> 56
        if block >= blocks or piece >= METADATA_PIECES:
            return None
        handle.seek(HEADERS_SIZE + block * BLOCK_SIZE + 8 + piece * _METADATA_PIECE)
        raw = handle.read(_METADATA_PIECE)
        if len(raw) != _METADATA_PIECE:
            return None
        pointer = int.from_bytes(raw[:8], "little")
        out += raw[8:]
    return bytes(out[:size])


def in_use_damage(failing: list[int], total: int, free: int) -> str | None:
    """Why blocks that fail their checksum are damage for certain, or None: some fail and no
    block is free (a free one may hold a write an interruption cut short). Every block failing
    is no damage found but a layout this check does not know."""
    if not failing or len(failing) == total or free:
        return None
    return (
        f"{len(failing)} of {total} blocks fail their checksum (first: block {failing[0]}); "
        "every block is in use"
    )


def _check_blocks(con: duckdb.DuckDBPyConnection, path: Path, report: CheckReport) -> None:
    """Every block's checksum, index blocks included (no query reads those unless it writes)."""
    block_size, total, free = block_count(con)
    failing = failing_blocks(path, total) if block_size == BLOCK_SIZE else None
    if failing is None or len(failing) == total:  # not the layout this check knows
        report.checked.append("blocks: DuckDB's file layout is not the known one: not checked")
        return
    damage = in_use_damage(failing, total, free)
    if not failing:
        report.checked.append(f"blocks: all {total} blocks match their checksums")
    elif damage is not None:
        report.problems.append(f"file: {damage}")
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
