"""The exception hierarchy of the tracker.

AudienceError                 anything the CLI turns into one clear line and exit status 2
├── ConfigError               audience.toml or an environment override is invalid
├── HandleError               an account handle or platform name is malformed
├── ImportRejected            a CSV history import was refused (carries every problem found)
└── WarehouseError            the DuckDB warehouse cannot be used
    ├── WarehouseBusy         another process holds the warehouse (a run is writing)
    ├── WarehouseDamaged      the file or its contents fail the integrity checks (exit status 5)
    └── MigrationError        a schema migration failed (nothing of it was applied)
"""

from __future__ import annotations

from dataclasses import dataclass


class AudienceError(Exception):
    """Base class: a domain error with a message meant for a person."""


class ConfigError(AudienceError):
    """The configuration file or an environment override is invalid."""


class HandleError(AudienceError):
    """An account handle or platform name is malformed or unsupported."""


class WarehouseError(AudienceError):
    """The warehouse cannot be opened or used."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse file's lock."""


class WarehouseDamaged(WarehouseError):
    """The warehouse's file or contents fail the integrity checks: nothing may write into it."""

    exit_code = 5
    reason = ""  # what is wrong, without the advice around it


INTERRUPTED = "interrupted: the warehouse was not changed"


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, as Python reports it or as DuckDB does (RuntimeError('Query interrupted'))."""
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":
        return True
    return isinstance(exc, RuntimeError) and str(exc).strip().lower() in {
        "query interrupted",
        "interrupted!",
        "interrupt error: interrupted!",
    }


class MigrationError(WarehouseError):
    """A schema migration failed and was rolled back."""


@dataclass(frozen=True)
class Problem:
    """One reason an input row was refused: where (file, line, field) and why."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.field}: {self.reason}"


class ImportRejected(AudienceError):
    """A history import found problems; nothing was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(self.describe())

    def describe(self, limit: int = 20) -> str:
        """Return the first `limit` problems, one a line, then a count of the rest."""
        lines = [str(p) for p in self.problems[:limit]]
        rest = self.total - min(limit, len(self.problems))
        if rest > 0:
            lines.append(f"... and {rest} more problem(s)")
        lines.append(f"import refused: {self.total} problem(s); the warehouse was not changed")
        return "\n".join(lines)
