"""The lines commands print when they succeed: counts that agree with their word, and every
path a user gave shown escaped (a terminal escape as `\\x1b`, never raw)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from core.settings import load_settings
from pipeline.analyse import run_analysis
from tests.support.cli import Result
from transforms.judging import MarginChecker

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
HEADER = "platform,handle,date,followers\n"
OSC52 = "e\x1b]52;c;eA==\x07x"  # a clipboard write, as a folder name
RLO = "r\u202eport.html"


def _history(days: int) -> str:
    start = date(2024, 1, 1)
    return HEADER + "".join(
        f"github,octocat,{start + timedelta(d)},{1000 + d}\n" for d in range(days)
    )


def _raw_free(text: str) -> None:
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in text, text


def test_one_row_one_account_one_import_are_singular(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    imported = cli("--warehouse", wh, "import", write_csv("one.csv", _history(1)))
    assert imported.code == 0, imported.err
    assert imported.out.startswith(f"imported 1 row for 1 account into {wh}: 1 new"), imported.out
    exported = cli("--warehouse", wh, "export", "--output", tmp_path / "out")
    assert exported.code == 0, exported.err
    assert "imports (1 row)" in exported.out
    assert "snapshots (1 row)" in exported.out
    assert "import_replacements (0 rows)" in exported.out


def test_paths_in_success_lines_are_shown_escaped(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "w\x1b[2Jh.duckdb"
    imported = cli("--warehouse", wh, "import", write_csv("h.csv", _history(40)))
    assert imported.code == 0, imported.err
    _raw_free(imported.out + imported.err)
    assert "w\\x1b[2Jh.duckdb" in imported.out
    run_analysis(wh, load_settings(None, environ={}), checker=MarginChecker())

    exported = cli("--warehouse", wh, "export", "--output", OSC52)
    assert exported.code == 0, exported.err
    _raw_free(exported.out + exported.err)
    assert exported.out.startswith("exported to e\\x1b]52;c;eA==\\x07x/: accounts (1 row)")
    assert (tmp_path / OSC52 / "snapshots.parquet").is_file()

    report = cli("--warehouse", wh, "report", "--output", RLO)
    assert report.code == 0, report.err
    _raw_free(report.out + report.err)
    assert report.out.strip() == "report written to r\\u202eport.html"
    assert (tmp_path / RLO).is_file()


def test_refused_rows_listed_under_skip_invalid_are_escaped(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    bad = write_csv(
        "b\u202ead.csv", HEADER + "x,esc\x1b[2Juser,2024-01-01,5\nx,ok_user,2024-01-01,5\n"
    )
    result = cli("--warehouse", wh, "import", "--skip-invalid", bad)
    assert result.code == 0, result.err
    _raw_free(result.out + result.err)
    assert "1 row refused, written to " in result.out
    assert "b\\u202ead.csv:2:" in result.err
    assert "esc\\x1b[2Juser" in result.err  # as written (x handles are stored lower-cased)
