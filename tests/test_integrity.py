"""`audience check`, and every command refusing a damaged warehouse before writing (issue 12.3)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from audience.cli import EXPORTED, SAMPLE
from core.settings import load_settings
from pipeline.analyse import run_analysis
from tests.support.cli import Result
from tests.support.warehouse import build_warehouse, file_digest
from transforms.judging import MarginChecker
from warehouse.db import open_warehouse
from warehouse.integrity import BLOCK_SIZE, HEADERS_SIZE, block_count, every_block_matches
from warehouse.migrations import load_migrations

BLOCK = 262144  # DuckDB's block size; blocks follow the file's three 4 KB headers
HEADERS = 3 * 4096


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("made") / "audience.duckdb")


def blocks_of(path: Path, table: str) -> list[int]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0"
        ).fetchall()
    return sorted(int(r[0]) for r in rows)


def overwrite(path: Path, offset: int, size: int = 4096) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        # no repeating pattern: DuckDB's block checksum XORs 8-byte words, so a word written
        # an even number of times over zeros would cancel out
        f.write(
            b"".join(hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(size // 32))
        )


def one_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err + result.out
    return lines[0]


def test_check_passes_on_a_clean_warehouse(cli: Callable[..., Result], made: Path) -> None:
    before = file_digest(made)
    result = cli("--warehouse", made, "check")
    assert result.code == 0, result.out + result.err
    with duckdb.connect(str(made), read_only=True) as con:
        tables = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()[0][0]
    known = len(load_migrations())
    assert f"file: every block of {tables} tables read" in result.out
    assert f"migrations: {known} applied of {known} known, in order" in result.out
    assert "rows: one snapshot per account and day" in result.out
    assert result.out.rstrip().endswith("no problem found")
    assert file_digest(made) == before


def test_a_damaged_warehouse_is_refused_by_every_command(
    cli: Callable[..., Result], made: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(made, copy)
    # the middle of the blocks that hold table data: DuckDB verifies a block's checksum when
    # it reads it, and reads the tables' blocks; index blocks and free blocks it reads lazily
    # or never (see the README, "The warehouse")
    data = sorted(
        {
            b
            for t in ("snapshots", "daily_metrics", "account_metrics", "anomalies", "accounts")
            for b in blocks_of(copy, t)
        }
    )
    middle = HEADERS + data[len(data) // 2] * BLOCK + BLOCK // 2 - 2048
    overwrite(copy, middle)
    damaged = file_digest(copy)

    checked = cli("--warehouse", copy, "check")
    assert checked.code == 5
    problems = [line for line in checked.out.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 1, checked.out
    assert "does not read back" in problems[0]
    assert one_line(checked).startswith(f"warehouse {copy} is damaged")

    export = tmp_path / "export"
    for args in (
        ("import", str(SAMPLE)),
        ("run", "--skip-collect"),
        ("export", "--output", str(export)),
        ("accounts", "add", "github:octocat"),
    ):
        result = cli("--warehouse", copy, *args)
        assert result.code == 5, (args, result.err)
        line = one_line(result)
        assert line.startswith(f"error: warehouse {copy} is damaged: "), line
        assert line.endswith("(run audience check)")
        assert file_digest(copy) == damaged, args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.duckdb"]  # no export, no staging


def test_check_lists_broken_invariants_and_migrations(
    cli: Callable[..., Result], made: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(made, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("INSERT INTO daily_metrics SELECT * FROM daily_metrics LIMIT 1")
        con.execute(
            "INSERT INTO snapshots (platform, handle, day, followers, observed_at, source) "
            "VALUES ('x', 'ghost', DATE '2999-01-01', 5, now(), 'import:x.csv')"
        )
        con.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
    result = cli("--warehouse", copy, "check")
    assert result.code == 5
    problems = [line for line in result.out.splitlines() if line.startswith("problem: ")]
    expected = [
        "problem: migrations: 0002_analysis: checksum 'edited' in the warehouse, '",
        "problem: rows: one metrics row per account and day: 1 violation, e.g. '",
        "problem: rows: no snapshot after today: 1 violation, e.g. 'x:ghost 2999-01-01'",
        "problem: rows: snapshots only for known accounts: 1 violation, e.g. 'x:ghost'",
    ]
    assert len(problems) == len(expected), result.out
    for line, start in zip(problems, expected, strict=True):
        assert line.startswith(start), line
    assert (
        one_line(result)
        == f"warehouse {copy} is damaged: 4 problems; restore it from a backup (no command writes into it meanwhile)"
    )


def test_export_writes_every_table_or_nothing(
    cli: Callable[..., Result], made: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "export"
    result = cli("--warehouse", made, "export", "--format", "csv", "--output", out)
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.csv" for t in EXPORTED)
    assert "imports" in EXPORTED
    assert "imports (1 row)" in result.out
    assert (out / "imports.csv").read_text().splitlines()[1].split(",")[1] == "sample_history.csv"

    # damage the last table exported: every file before it would be written, then it fails
    copy = tmp_path / "copy.duckdb"
    shutil.copy(made, copy)
    overwrite(copy, HEADERS + blocks_of(copy, EXPORTED[-2])[0] * BLOCK + 1024)
    fresh = tmp_path / "fresh"
    failed = cli("--warehouse", copy, "export", "--output", fresh)
    assert failed.code == 5
    assert "is damaged" in one_line(failed)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.duckdb", "out"]
    # an earlier export stays whole when a new one fails
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert cli("--warehouse", copy, "export", "--format", "csv", "--output", out).code == 5
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["export"]


def test_check_finds_damage_in_blocks_no_query_reads(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    """An index block is read only by a write that needs it: `check` verifies every block's
    checksum itself, so it says what a later import would run into."""
    copy = tmp_path / "copy.duckdb"
    assert cli("-q", "--warehouse", copy, "import", SAMPLE).code == 0
    with duckdb.connect(str(copy), read_only=True) as con:
        size = con.execute("PRAGMA database_size").fetchall()[0]
        total, free = int(size[3]), int(size[5])
        read = {0}  # the metadata's first block, and every block of table data
        for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall():
            read |= {
                int(b)
                for (b,) in con.execute(
                    f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0"
                ).fetchall()
            }
    assert free == 0  # a fresh import: every block in use
    unread = [b for b in range(total) if b not in read]
    assert unread, "every block holds table data: nothing to test"
    noise = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(128))
    with copy.open("r+b") as handle:  # 4 KiB that never repeat (DuckDB's checksum XORs words)
        handle.seek(HEADERS_SIZE + unread[0] * BLOCK_SIZE + BLOCK_SIZE // 2)
        handle.write(noise)
    before = file_digest(copy)
    result = cli("--warehouse", copy, "check")
    assert result.code == 5, result.out + result.err
    assert f"fail their checksum (first: block {unread[0]})" in result.out
    assert file_digest(copy) == before
    # a writer's check finds the block failing too, with no free block it could be: refused
    # as `check` says (it opened, and a write that did not need the block hid the damage)
    refused = cli("--warehouse", copy, "accounts", "add", "github:octocat")
    assert refused.code == 5, refused.out + refused.err
    assert f"fail their checksum (first: block {unread[0]}); every block is in use" in refused.err
    assert file_digest(copy) == before
    with duckdb.connect(str(copy), read_only=True) as con:  # a reader still reads the data
        assert con.execute("SELECT count(*) FROM snapshots").fetchall() == [(2983,)]


def test_a_writer_verifies_every_block_against_its_checksum(made: Path, tmp_path: Path) -> None:
    """What a writer checks before writing, without decoding a value: every block (index and
    free ones too) against its checksum, the blocks past the file's end only when the free
    list says they are free; on any doubt it reads every block through DuckDB (the damaged
    warehouse above is refused that way)."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(made, copy)

    def matches(path: Path) -> bool:
        with duckdb.connect(str(copy), read_only=True) as con:
            block_size, blocks, free = block_count(con)
        assert block_size == BLOCK_SIZE
        return every_block_matches(path, block_size, blocks, free)

    assert matches(copy)
    # a writer that changes little (an unchanged analysis: a run recorded) leaves the file
    # shorter than its header counts: DuckDB gave its free tail back to the file system
    run_analysis(copy, load_settings(None), checker=MarginChecker())
    with duckdb.connect(str(copy), read_only=True) as con:
        _, blocks, free = block_count(con)
    present = (copy.stat().st_size - HEADERS_SIZE) // BLOCK_SIZE
    assert present < blocks, "the file holds every block: nothing to test"
    assert matches(copy)
    # cut short by more: a block in use is missing
    short = tmp_path / "short.duckdb"
    short.write_bytes(copy.read_bytes()[: HEADERS_SIZE + (present - 1) * BLOCK_SIZE])
    assert not matches(short)
    short.write_bytes(copy.read_bytes()[:-100])  # inside a block
    assert not matches(short)
    assert not every_block_matches(copy, BLOCK_SIZE // 2, blocks, free)  # another layout
    assert not every_block_matches(copy, BLOCK_SIZE, blocks, free + 1)  # another free list
    overwrite(copy, HEADERS + (present - 1) * BLOCK + BLOCK // 2)  # the last, whatever it holds
    assert not matches(copy)


def _another_process_opens(path: Path, *, read_only: bool) -> str:
    """What a second process gets when it opens `path`: 'opened', or DuckDB's error."""
    import subprocess
    import sys

    code = (
        "import duckdb, sys\n"
        "try:\n"
        "    duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r').close()\n"
        "    print('opened')\n"
        "except duckdb.Error as exc:\n"
        "    print(exc)\n"
    )
    args = [sys.executable, "-c", code, str(path), "r" if read_only else "w"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("reader", [False, True], ids=["writer", "check"])
def test_the_lock_holds_while_the_file_is_checked(
    made: Path, tmp_path: Path, reader: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer reads every block of the file before it writes, `audience check` after its
    queries. POSIX drops a process's fcntl locks on a file (DuckDB's) when the process closes
    any descriptor of it: the check's own handle, closed while DuckDB held the file, let a
    second writer in, and two writers corrupted the warehouse (a fresh-eyes drill)."""
    from datetime import date

    from warehouse import db
    from warehouse.integrity import check_warehouse

    copy = tmp_path / "copy.duckdb"
    shutil.copy(made, copy)
    db._verified.clear()  # a writer skips the blocks of a file it has just read
    seen: list[str] = []
    if reader:

        def checked(con: duckdb.DuckDBPyConnection, path: Path, today: date) -> object:
            report = check_warehouse(con, path, today)  # every block read, then asked again
            seen.append(_another_process_opens(path, read_only=False))
            return report

        monkeypatch.setattr(db, "check_warehouse", checked)
        assert not db.inspect_warehouse(copy, date(2025, 1, 1)).problems
    else:
        with open_warehouse(copy) as con:
            con.execute("SELECT count(*) FROM snapshots").fetchall()
            seen.append(_another_process_opens(copy, read_only=False))
            seen.append(_another_process_opens(copy, read_only=True))
        # two connections of this process overlapping (threads of a run): the first to go
        # must not take the lock with it while the other still writes
        first = open_warehouse(copy)
        first.__enter__()
        second = open_warehouse(copy)
        second.__enter__()
        first.__exit__(None, None, None)
        seen.append(_another_process_opens(copy, read_only=False))
        second.__exit__(None, None, None)
    assert seen
    assert all("lock" in answer.lower() for answer in seen), seen
    assert _another_process_opens(copy, read_only=False) == "opened\n"  # let go after


def test_a_file_that_is_no_warehouse_is_refused_and_left_alone(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    """DuckDB opens an existing CSV as an empty in-memory database: an import into it said
    "imported 1 row" and stored nothing. Every command now refuses such a file, untouched."""
    history = tmp_path / "history.csv"
    history.write_text("platform,handle,date,followers\nx,someone,2024-05-01,10\n")
    mistaken = tmp_path / "copy.csv"
    mistaken.write_bytes(history.read_bytes())
    before = file_digest(mistaken)
    for command in (("import", str(history)), ("anomalies",), ("check",)):
        result = cli("--warehouse", mistaken, *command)
        assert result.code == 2, (command, result.out + result.err)
        assert "it is not a DuckDB database file (it begins with 'platform')" in one_line(result)
    assert file_digest(mistaken) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.csv", "history.csv"]
    hostile = tmp_path / "hostile.duckdb"
    hostile.write_bytes(b"x\x1b[31m\xe2\x80\xaeevil")
    shown = one_line(cli("--warehouse", hostile, "check"))
    assert "\x1b" not in shown
    assert "x\\x1b[31m" in shown


def test_a_warehouse_cut_short_is_damaged_not_a_bug(
    cli: Callable[..., Result], made: Path, tmp_path: Path
) -> None:
    """A file that ends before blocks it lists (a copy cut short, a full disk): exit 5."""
    cut = tmp_path / "cut.duckdb"
    shutil.copy(made, cut)
    with cut.open("r+b") as f:
        f.truncate(HEADERS + BLOCK)
    result = cli("--warehouse", cut, "check")
    assert result.code == 5, result.out + result.err
    assert "internal error" not in result.err
    assert "problem: file:" in result.out
