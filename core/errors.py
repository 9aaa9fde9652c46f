"""The exception hierarchy of the tracker, its exit statuses, and the text it shows people.

AudienceError                 anything the CLI turns into one clear line and exit status 2
├── ConfigError               audience.toml or an environment override is invalid
├── HandleError               an account handle or platform name is malformed
├── ImportRejected            a CSV history import was refused (carries every problem found)
├── PartlyDone                part done and kept, the rest on the next call (exit status 3)
└── WarehouseError            the DuckDB warehouse cannot be used
    ├── WarehouseBusy         another process holds the warehouse (a run is writing)
    ├── WarehouseDamaged      the file or its contents fail the integrity checks (exit status 5)
    └── MigrationError        a schema migration failed (nothing of it was applied)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitStatus(enum.IntEnum):
    """The one table of exit statuses of the whole command line (documented in the README)."""

    DONE = 0
    INTERNAL_ERROR = 1  # a bug: one line `internal error: ...`, the traceback with AUDIENCE_DEBUG=1
    REFUSED = 2  # bad input, usage, settings, busy warehouse: nothing was changed
    PARTLY_DONE = (
        3  # `run`: some accounts not collected, or alerts still queued; `audit`: a read failed
    )
    NO_ANSWER = 4  # `audit` cannot judge: not enough history, or no figure at all
    DAMAGED = 5  # the warehouse is damaged
    INTERRUPTED = 130  # Ctrl-C: nothing was changed


# right-to-left and other direction overrides: they reorder what a terminal shows
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def shown(text: str) -> str:
    """`text` safe for a terminal: every character it could act on written the way repr does.

    Control characters (C0, DEL, C1), direction overrides, separators and every other
    non-printable become visible escapes (`\\x1b`, `\\u202e`, `\\n`); the rest, backslashes
    included, is left alone, so a text that is already escaped is not escaped twice.
    """
    if text.isprintable():  # the common case; BIDI_CONTROLS are not printable (category Cf)
        return text
    return "".join(c if c.isprintable() and c not in BIDI_CONTROLS else repr(c)[1:-1] for c in text)


def os_reason(exc: OSError) -> str:
    """Why a path could not be used, in words (a file where a folder is needed says so)."""
    if isinstance(exc, FileExistsError | NotADirectoryError):
        return "a file stands where a folder is needed"
    return exc.strerror or type(exc).__name__


def shown_lines(text: str) -> str:
    """Like `shown`, but the line breaks a message was written with stay line breaks."""
    return "\n".join(shown(line) for line in text.split("\n"))


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 anomaly', '2 anomalies', '1,000 rows': the count and the word that agrees with it."""
    if many is None:
        many = (
            word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
        )
    return f"{count:,} {word if count == 1 else many}"


class AudienceError(Exception):
    """Base class: a domain error with a message meant for a person.

    The CLI prints it as one line `error: MESSAGE` (escaped with `shown`) and exits with
    `exit_status`; a subclass for another row of the exit table sets its own.
    """

    exit_status: int = ExitStatus.REFUSED


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

    exit_status = ExitStatus.DAMAGED
    reason = ""  # what is wrong, without the advice around it


INTERRUPTED = "interrupted: the warehouse was not changed"


class Interrupted(AudienceError):
    """Ctrl-C, with what it left: for a command of several transactions (`run`), which stayed."""

    exit_status = ExitStatus.INTERRUPTED


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, as Python reports it or as DuckDB does (RuntimeError('Query interrupted'))."""
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":
        return True
    text = str(exc).strip()
    if text.lower() in {"query interrupted", "interrupted!", "interrupt error: interrupted!"}:
        return isinstance(exc, RuntimeError) or type(exc).__module__.startswith(
            ("duckdb", "_duckdb")
        )
    # DuckDB reading a Python object (an Arrow batch) when Ctrl-C came: the KeyboardInterrupt
    # arrives inside its error's message
    return type(exc).__module__.startswith(("duckdb", "_duckdb")) and (
        text.endswith("KeyboardInterrupt:") or ": KeyboardInterrupt" in text
    )


class PartlyDone(AudienceError):
    """Part of the work was done and kept, the rest can be done by running the command again
    (a backfill whose rate limit ran out): exit status 3."""

    exit_status = ExitStatus.PARTLY_DONE


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

    def __init__(
        self, problems: list[Problem], total: int | None = None, verdict: str | None = None
    ) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        # the last line; by default the count of problems and that nothing changed
        self.verdict = verdict or (
            f"import refused: {plural(self.total, 'problem')}; the warehouse was not changed"
        )
        super().__init__(self.describe())

    def describe(self, limit: int = 20) -> str:
        """Return the first `limit` problems, one a line, then a count of the rest."""
        lines = [str(p) for p in self.problems[:limit]]
        rest = self.total - min(limit, len(self.problems))
        if rest > 0:
            lines.append(f"... and {plural(rest, 'more problem', 'more problems')}")
        lines.append(self.verdict)
        return "\n".join(lines)
