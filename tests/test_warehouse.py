from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from core.errors import MigrationError, WarehouseBusy, WarehouseError
from core.fetched import Fetched, Outcome
from tests.support.warehouse import CONTRACT
from warehouse import migrations
from warehouse.collection import record_collection
from warehouse.db import open_warehouse, resolve_path
from warehouse.migrations import Migration, apply_migrations, load_migrations


def test_fresh_warehouse_has_the_documented_contract(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in CONTRACT.items():
        found = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        }
        assert columns <= found, f"{table} lacks {columns - found}"


def test_migrations_are_recorded_and_safe_to_rerun(warehouse_path: Path) -> None:
    with open_warehouse(warehouse_path) as con:
        versions = [
            r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        ]
        assert versions == [m.version for m in load_migrations()]
        assert apply_migrations(con) == []
    with open_warehouse(warehouse_path) as con:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchall()[0][0] == len(
            versions
        )


def test_a_failing_migration_leaves_nothing_behind(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_warehouse(warehouse_path):
        pass
    known = load_migrations()
    bad = Migration(
        known[-1].version + 1,
        "broken",
        "CREATE TABLE half_done (x INT); SELECT * FROM no_such_table;",
    )
    monkeypatch.setattr(migrations, "load_migrations", lambda: [*known, bad])
    with (
        pytest.raises(MigrationError, match=r"migration \d{4}_broken failed and was rolled back"),
        open_warehouse(warehouse_path),
    ):
        pass
    monkeypatch.undo()
    with duckdb.connect(str(warehouse_path)) as con:
        assert not con.execute(
            "SELECT * FROM information_schema.tables WHERE table_name = 'half_done'"
        ).fetchall()
        assert (
            con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0]
            == known[-1].version
        )


def test_an_edited_migration_is_detected(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_warehouse(warehouse_path):
        pass
    known = load_migrations()
    edited = [
        *known[:-1],
        Migration(known[-1].version, known[-1].name, known[-1].sql + "\n-- edited"),
    ]
    monkeypatch.setattr(migrations, "load_migrations", lambda: edited)
    with (
        pytest.raises(MigrationError, match="changed after it was applied"),
        open_warehouse(warehouse_path),
    ):
        pass


def test_a_newer_warehouse_is_refused(warehouse_path: Path) -> None:
    with open_warehouse(warehouse_path) as con:
        con.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')"
        )
    with (
        pytest.raises(MigrationError, match="schema version 999, newer than this program knows"),
        open_warehouse(warehouse_path),
    ):
        pass


def test_readers_need_an_existing_warehouse(tmp_path: Path) -> None:
    with (
        pytest.raises(WarehouseError, match="no warehouse at"),
        open_warehouse(tmp_path / "x.duckdb", read_only=True),
    ):
        pass
    assert not (tmp_path / "x.duckdb").exists()


def test_resolve_path_precedence(tmp_path: Path) -> None:
    configured = Path("from-config.duckdb")
    assert resolve_path(None, configured, {}) == configured
    assert resolve_path(None, configured, {"AUDIENCE_WAREHOUSE": "env.duckdb"}) == Path(
        "env.duckdb"
    )
    assert resolve_path("cli.duckdb", configured, {"AUDIENCE_WAREHOUSE": "env.duckdb"}) == Path(
        "cli.duckdb"
    )


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the warehouse open for writing, once it has said so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_busy_warehouse_gives_a_clear_message(warehouse_path: Path) -> None:
    with open_warehouse(warehouse_path):
        pass
    with _hold_lock(warehouse_path, 30) as holder:
        try:
            for read_only in (True, False):
                with (
                    pytest.raises(
                        WarehouseBusy,
                        match=rf"warehouse .* is busy: process {holder.pid} is writing",
                    ),
                    open_warehouse(warehouse_path, read_only=read_only, timeout_s=0.3),
                ):
                    pass
        finally:
            holder.kill()


def test_waiting_writer_gets_the_lock_when_it_is_released(warehouse_path: Path) -> None:
    with open_warehouse(warehouse_path):
        pass
    with _hold_lock(warehouse_path, 1.0), open_warehouse(warehouse_path, timeout_s=20) as con:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchall()[0][0] >= 1


def test_a_collection_records_every_lasting_status_in_one_pass(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Statuses are written for the whole night at once: each lasting outcome becomes the
    account's status, a passing fault changes nothing, an id seen before is kept when the new
    answer has none, and an account answered twice keeps its last answer."""
    con.execute(
        "INSERT INTO accounts (platform, handle, tracked, status, platform_id) VALUES "
        "('mastodon', 'kept@x.social', true, 'active', 'id-1'), "
        "('mastodon', 'flaky@x.social', true, 'active', NULL)"
    )
    at = datetime(2026, 1, 1, 3, tzinfo=UTC)
    results = [
        Fetched("mastodon", "kept@x.social", Outcome.OK, followers=5, observed_at=at),
        Fetched("mastodon", "flaky@x.social", Outcome.UNAVAILABLE, "503 twice", observed_at=at),
        Fetched(
            "mastodon", "gone@x.social", Outcome.NOT_FOUND, "404 from the server", observed_at=at
        ),
        Fetched("mastodon", "twice@x.social", Outcome.SUSPENDED, "suspended", observed_at=at),
        Fetched(
            "mastodon",
            "twice@x.social",
            Outcome.OK,
            followers=1,
            display_name="Back",
            platform_id="id-2",
            observed_at=at,
        ),
    ]
    recorded = record_collection(con, "run-1", date(2026, 1, 1), results)
    assert recorded.outcomes == {"ok": 2, "unavailable": 1, "not_found": 1, "suspended": 1}
    rows = con.execute(
        "SELECT handle, status, status_reason, platform_id, display_name FROM accounts "
        "ORDER BY handle"
    ).fetchall()
    assert rows == [
        ("flaky@x.social", "active", None, None, None),
        ("gone@x.social", "not_found", "404 from the server", None, None),
        ("kept@x.social", "active", None, "id-1", None),
        ("twice@x.social", "active", None, "id-2", "Back"),
    ]
