"""Ordered schema migrations: each one runs in a transaction and is recorded, so re-running is safe.

A migration is a file `NNNN_name.sql` in this folder. Never edit one that has shipped: add
the next number. The checksum recorded with each version makes an edited file an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from itertools import pairwise
from pathlib import Path

import duckdb

from core.errors import MigrationError, WarehouseError
from warehouse.query import fetch_one


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def load_migrations() -> list[Migration]:
    """Every migration shipped with the package, in order."""
    found = []
    for entry in resources.files(__name__).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append(Migration(int(name[:4]), name[5:-4], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number: {versions}")
    return found


_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    checksum   VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def _ledger_exists(con: duckdb.DuckDBPyConnection) -> bool:
    exists = fetch_one(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    )
    return bool(exists and exists[0])


def _applied(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    if not _ledger_exists(con):
        return {}
    rows = con.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {int(v): str(c) for v, c in rows}


def _check_known(applied: dict[int, str], known: list[Migration]) -> None:
    by_version = {m.version: m for m in known}
    for version, checksum in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the warehouse has schema version {version}, newer than this program knows "
                f"({known[-1].version if known else 0}); upgrade the tracker"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name} changed after it was applied "
                f"(checksum {checksum} in the warehouse, {migration.checksum} now)"
            )


def applied_in_order(
    con: duckdb.DuckDBPyConnection, known: list[Migration]
) -> tuple[list[str], dict[int, str]]:
    """For `audience check`: every problem of the recorded migrations, and what was applied.

    Each recorded version must be a known one with the file's checksum, applied after the
    versions before it, with no earlier version missing.
    """
    if not _ledger_exists(con):
        return ["the warehouse has no schema_migrations table"], {}
    rows = con.execute(
        "SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    by_version = {m.version: m for m in known}
    problems = []
    for version, checksum, _at in rows:
        migration = by_version.get(int(version))
        if migration is None:
            problems.append(f"version {version} is recorded but unknown to this program")
        elif migration.checksum != checksum:
            problems.append(
                f"{version:04d}_{migration.name}: checksum {checksum!r} in the warehouse, "
                f"{migration.checksum!r} in the file"
            )
    applied = {int(v): str(c) for v, c, _ in rows}
    for missing in sorted(
        v for v in by_version if v not in applied and v < max(applied, default=0)
    ):
        problems.append(f"{missing:04d} was never applied, though later versions were")
    for (earlier, _, t0), (later, _, t1) in pairwise(rows):
        if t0 is not None and t1 is not None and t1 < t0:
            problems.append(f"{later:04d} was applied before {earlier:04d} (out of order)")
    return problems, applied


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    con.execute(_LEDGER)
    known = load_migrations()
    applied = _applied(con)
    _check_known(applied, known)
    done = []
    for migration in known:
        if migration.version in applied:
            continue
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} failed and was rolled back: {exc}"
            ) from None
        done.append(migration.version)
    return done


def check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """For read-only use: the warehouse must be at the schema version this program knows."""
    known = load_migrations()
    applied = _applied(con)
    _check_known(applied, known)
    missing = [m.version for m in known if m.version not in applied]
    if missing:
        raise WarehouseError(
            f"warehouse {path} needs schema upgrade(s) {missing}; run any writing command "
            "(e.g. audience run --skip-collect) to apply them"
        )
