"""Imports that change history (issue 12, point 7): replacing a stored figure needs --replace
and is kept in import_replacements; the reading commands say when the analysis is older than
such an import, until the next analysis."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb

from core.settings import load_settings
from pipeline.analyse import run_analysis
from tests.support.cli import Result
from tests.support.warehouse import table_digest

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
HEADER = "platform,handle,date,followers\n"
START = date(2024, 1, 1)
DAYS = 40


def _history() -> str:
    return HEADER + "".join(
        f"github,octocat,{START + timedelta(d)},{1000 + 5 * d}\n" for d in range(DAYS)
    )


def _analyse(warehouse: Path) -> None:
    run_analysis(warehouse, load_settings(None, environ={}), START + timedelta(DAYS - 1))


def test_replacing_a_stored_figure_needs_replace_and_is_recorded(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = str(tmp_path / "wh.duckdb")
    assert cli("--warehouse", wh, "import", write_csv("history.csv", _history())).code == 0
    before = table_digest(Path(wh))
    fix = write_csv(
        "fix.csv", HEADER + "github,octocat,2024-01-10,9\ngithub,octocat,2024-01-11,1050\n"
    )

    refused = cli("--warehouse", wh, "import", fix)
    assert refused.code == 2
    assert refused.err.splitlines() == [
        f"{fix}:2: followers: would replace stored figures of github:octocat on 2024-01-10 "
        "(followers 1045 -> 9, stored by import:history.csv): add --replace to replace them",
        "import refused: 1 problem; the warehouse was not changed",
    ]
    assert table_digest(Path(wh)) == before

    done = cli("--warehouse", wh, "import", "--replace", fix)
    assert done.code == 0, done.err
    assert "1 changed" in done.out
    assert "1 stored figure replaced" in done.out
    with duckdb.connect(wh, read_only=True) as con:
        rows = con.execute(
            "SELECT r.file_name, r.sha256, r.platform, r.handle, r.day::VARCHAR, r.figure, "
            "r.old_value, r.new_value, r.old_source, r.run_id = i.run_id "
            "FROM import_replacements r JOIN imports i ON i.file_name = r.file_name"
        ).fetchall()
    digest = hashlib.sha256(fix.read_bytes()).hexdigest()
    assert rows == [
        (
            "fix.csv",
            digest,
            "github",
            "octocat",
            "2024-01-10",
            "followers",
            1045,
            9,
            "import:history.csv",
            True,
        )
    ]


def _notices(cli: Cli, wh: str) -> list[list[str]]:
    """The stale notice lines each reading command printed on stderr."""
    commands = [
        ("anomalies",),
        ("audit", "github:octocat", "--as-of", str(START + timedelta(DAYS - 1))),
        ("report",),
        ("accounts", "list"),
        ("query", "SELECT 1 AS one"),
    ]
    found = []
    for command in commands:
        result = cli("--warehouse", wh, *command)
        assert result.code == 0, (command, result.err)
        found.append([line for line in result.err.splitlines() if "out of date" in line])
    return found


def test_reading_commands_say_the_analysis_is_out_of_date_after_an_import_changed_history(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = str(tmp_path / "wh.duckdb")
    cli("--warehouse", wh, "import", write_csv("history.csv", _history()))
    assert "out of date" not in cli("--warehouse", wh, "anomalies").err  # never analysed
    _analyse(Path(wh))
    assert _notices(cli, wh) == [[]] * 5

    # days after the analysed ones are not a change of history
    later = write_csv("later.csv", HEADER + f"github,octocat,{START + timedelta(DAYS)},1300\n")
    assert cli("--warehouse", wh, "import", later).code == 0
    assert _notices(cli, wh) == [[]] * 5

    fix = write_csv("fix.csv", HEADER + "github,octocat,2024-01-10,9\n")
    imported = cli("--warehouse", wh, "import", "--replace", fix)
    assert "changed analysed history" in imported.err
    with duckdb.connect(wh, read_only=True) as con:
        (at,) = con.execute(
            "SELECT strftime(timezone('UTC', finished_at), '%Y-%m-%d %H:%M:%S') FROM runs "
            "JOIN imports USING (run_id) WHERE file_name = 'fix.csv'"
        ).fetchone() or ("",)
    expected = (
        f"note: the analysis is out of date since the import of fix.csv at {at} UTC, which "
        "changed history it covers: run `audience run --skip-collect` to refresh"
    )
    assert _notices(cli, wh) == [[expected]] * 5

    _analyse(Path(wh))
    assert _notices(cli, wh) == [[]] * 5


def test_a_new_account_inside_the_analysed_days_makes_the_analysis_stale(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = str(tmp_path / "wh.duckdb")
    cli("--warehouse", wh, "import", write_csv("history.csv", _history()))
    _analyse(Path(wh))
    cli("--warehouse", wh, "import", write_csv("more.csv", HEADER + "github,hubot,2024-01-05,7\n"))
    result = cli("--warehouse", wh, "anomalies")
    assert "out of date since the import of more.csv" in result.err
