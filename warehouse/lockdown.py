"""The connection `audience query` runs an analyst's SQL on: it reads the warehouse, nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# What `audience query` sets on its read-only connection before the user's SQL runs, in this
# order: nothing spills to a temporary folder (settable only while external access is on); no
# file, URL, extension, secret or other database can be reached (COPY, EXPORT, ATTACH, INSTALL,
# LOAD, read_*, glob: refused); and the configuration is locked so that no SET, RESET or PRAGMA
# of the query can undo any of it. The warehouse itself was opened before, read-only.
QUERY_LOCKDOWN = (
    "SET temp_directory = ''",
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET allow_persistent_secrets = false",
    "SET allow_extension_repositories = 'forbidden'",
    "SET lock_configuration = true",
)


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Apply QUERY_LOCKDOWN to a connection opened read-only."""
    for setting in QUERY_LOCKDOWN:
        con.execute(setting)
