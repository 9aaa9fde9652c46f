"""Ordered schema migrations: each one runs in a transaction and is recorded, so re-running is safe.

A migration is a file `NNNN_name.sql` in this folder. Never edit one that has shipped: add
the next number. The checksum recorded with each version makes an edited file an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from audience.errors import MigrationError, WarehouseError
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


def _applied(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    exists = fetch_one(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    )
    if not exists or not exists[0]:
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
