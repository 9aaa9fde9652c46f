"""Every command and subcommand, fed what a user can type: never a traceback, one error line.

Each template puts one odd value where a value goes (an argument, an option, a global option);
every run must end with a status of the exit table other than 1 (a bug), print no traceback,
show no raw control character, say what went wrong in one line when it refuses, and leave the
warehouse as it was.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click
import pytest

from audience.cli import cli as root
from core.platforms import PLATFORMS
from pipeline.import_history import import_history
from tests.support.cli import Result
from tests.support.warehouse import table_digest

Cli = Callable[..., Result]
V = object()  # where the odd value goes

ODD_VALUES = {
    "empty": "",
    "semicolon": ";",
    "whitespace": " \t ",
    "long": "x" * 100_000,
    "nul": "\x00",
    "nul_inside": "a\x00b",
    "sql_handle": "x:robert'); DROP TABLE snapshots;--",
    "path_handle": "github:../../etc/passwd",
    "escape": "esc\x1b[2Juser",
    "osc52": "\x1b]52;c;aGVsbG8=\x07",
    "rtl": "\u202eevil",
    "undecodable": "caf\udce9",  # a Latin-1 byte in a UTF-8 argv, as Python receives it
    "missing_file": "missing.csv",
    "directory": "adir",
    "dash": "-",
}

# a known account, so that commands reach the warehouse when the odd value is elsewhere
KNOWN = "github:octocat"

TEMPLATES: dict[tuple[str, ...], list[list[object]]] = {
    ("import",): [[V]],
    ("run",): [["--as-of", V], [V]],  # never with a valid value: it would run the nightly flow
    ("report",): [["--as-of", V], ["--output", V]],
    ("export",): [["--format", V], ["--output", V]],
    ("serve",): [["--port", V], [V]],
    ("demo",): [[V]],  # an extra argument only: the demo itself is tested elsewhere
    ("accounts",): [[V]],
    ("accounts", "add"): [[V], [KNOWN, V]],
    ("accounts", "remove"): [[V], [KNOWN, V]],
    ("accounts", "list"): [["--format", V], [V]],
    ("anomalies",): [["--platform", V], ["--since", V], ["--format", V], [V]],
    ("query",): [[V], ["SELECT 1", "--format", V], ["SELECT 1", V]],
    ("audit",): [
        [V],
        [KNOWN, "--as-of", V],
        [KNOWN, "--format", V],
        [KNOWN, "--html", V],
        [KNOWN, V],
    ],
}
GLOBAL_TEMPLATES: list[list[object]] = [
    ["--warehouse", V, "anomalies"],
    ["--warehouse", V, "query", "SELECT 1"],
    ["--config", V, "accounts", "list"],
    [V],
]
NO_WAREHOUSE_OPTION = {("run",), ("serve",), ("demo",)}  # with a good warehouse they would run


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _leaf_commands(command, (*prefix, name))
    return found


def _templates() -> list[tuple[str, list[object]]]:
    """(id, argv template) for every command; a command added later gets generic ones."""
    out = [(f"global-{i}", t) for i, t in enumerate(GLOBAL_TEMPLATES)]
    for path in _leaf_commands(root):
        templates = TEMPLATES.get(path, [[V], ["--bogus-option"]])
        if path not in NO_WAREHOUSE_OPTION and path != ("accounts",):
            templates = [*templates, ["--warehouse", V]]
        out += [(f"{' '.join(path)}-{i}", [*path, *t]) for i, t in enumerate(templates)]
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    csv = tmp_path_factory.mktemp("input") / "h.csv"
    csv.write_text(
        "platform,handle,date,followers\n"
        + "".join(f"github,octocat,2024-01-{d:02d},{100 + d}\n" for d in range(1, 21))
    )
    path = csv.parent / "audience.duckdb"
    import_history([csv], path, date(2024, 12, 31))
    return path


def _file_state(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest + ",".join(sorted(p.name for p in path.parent.iterdir()))


@pytest.mark.parametrize(
    ("template"), [t for _, t in _templates()], ids=[i for i, _ in _templates()]
)
def test_no_command_prints_a_traceback_for_odd_input(
    cli: Cli,
    tmp_path: Path,
    prepared: Path,
    template: list[object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for platform in PLATFORMS:  # nothing reaches a real platform: a closed port on loopback
        monkeypatch.setenv(
            f"AUDIENCE_PLATFORMS__{platform.upper()}__BASE_URL", "http://127.0.0.1:9"
        )
    warehouse = tmp_path / "warehouse" / "audience.duckdb"  # the default path
    warehouse.parent.mkdir()
    shutil.copy(prepared, warehouse)
    (tmp_path / "adir").mkdir()
    before, digest = _file_state(warehouse), table_digest(warehouse)
    problems = []
    for name, value in ODD_VALUES.items():
        args = [value if a is V else str(a) for a in template]
        result = cli(*args)
        said = f"{name}: exit {result.code}: {result.err[:300]!r}"
        output = result.out + result.err
        if "Traceback" in output:
            problems.append(f"traceback: {said}")
        if result.code not in (0, 2, 3, 4, 5, 130):
            problems.append(f"exit status not in the table: {said}")
        if any(c in result.err for c in ("\x1b", "\x07", "\x00", "\u202e")):
            problems.append(f"raw control character on stderr: {said}")
        lines = result.err.strip().splitlines()
        # one line; an import lists one line per problem, then its verdict
        one_line = len(lines) == 1 or (lines and lines[-1].startswith("import refused:"))
        if result.code == 2 and template[-1] != "accounts" and not one_line:
            problems.append(f"not one error line: {said}")
        if _file_state(warehouse) != before and table_digest(warehouse) != digest:
            problems.append(f"warehouse changed: {said}")
            shutil.copy(prepared, warehouse)
            before = _file_state(warehouse)
    assert not problems, "\n".join(problems)
