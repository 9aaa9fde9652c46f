"""`audience export`: every documented table, every target checked before anything is written,
and an output folder that cannot be made refused in one line (exit status 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from audience.cli import EXPORTED
from tests.support.cli import Result
from tests.support.warehouse import readme_tables

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]


def _one_line(result: Result) -> str:
    assert "Traceback" not in result.err + result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def warehouse(cli: Cli, write_csv: WriteCsv, tmp_path: Path) -> Path:
    wh = tmp_path / "wh.duckdb"
    rows = "platform,handle,date,followers\ngithub,octocat,2024-01-01,10\n"
    assert cli("--warehouse", wh, "import", write_csv("h.csv", rows)).code == 0
    fix = write_csv("fix.csv", "platform,handle,date,followers\ngithub,octocat,2024-01-01,11\n")
    assert cli("--warehouse", wh, "import", "--replace", fix).code == 0
    return wh


def test_export_holds_every_documented_table(cli: Cli, warehouse: Path, tmp_path: Path) -> None:
    documented = readme_tables()
    assert "import_replacements" in documented
    assert "imports" in documented
    assert sorted(EXPORTED) == sorted(documented)
    out = tmp_path / "out"
    result = cli("--warehouse", warehouse, "export", "--format", "csv", "--output", out)
    assert result.code == 0, result.err
    assert "import_replacements (1 row)" in result.out
    replaced = (out / "import_replacements.csv").read_text().splitlines()
    assert len(replaced) == 2
    assert ",followers,10,11," in replaced[1]


def test_a_target_that_is_a_folder_is_refused_before_anything_is_written(
    cli: Cli, warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ex2"
    assert cli("--warehouse", warehouse, "export", "--output", out).code == 0
    (out / "snapshots.parquet").unlink()
    (out / "snapshots.parquet").mkdir()
    before = _snapshot(tmp_path)
    result = cli("--warehouse", warehouse, "export", "--output", out)
    assert result.code == 2
    assert _one_line(result) == (
        f"error: export refused, nothing was written: {str(out / 'snapshots.parquet')!r} "
        "exists and is not a file: remove it or choose another --output"
    )
    assert _snapshot(tmp_path) == before  # no file replaced, no temporary folder left


def test_an_output_folder_that_cannot_be_made_is_refused(
    cli: Cli, warehouse: Path, tmp_path: Path
) -> None:
    for output in ("/proc/nope", "/proc/nope/deeper"):
        result = cli("--warehouse", warehouse, "export", "--output", output)
        assert result.code == 2, result.err
        assert _one_line(result).startswith("error: export refused, nothing was written: ")
    (tmp_path / "afile").write_text("x")
    before = _snapshot(tmp_path)
    result = cli("--warehouse", warehouse, "export", "--output", tmp_path / "afile" / "a" / "b")
    assert result.code == 2
    assert "cannot create a folder in" in _one_line(result)
    assert _snapshot(tmp_path) == before


def test_a_demo_folder_that_cannot_be_made_is_refused(cli: Cli, tmp_path: Path) -> None:
    before = _snapshot(tmp_path)
    for folder in ("a" * 100_000, "/proc/nope"):
        result = cli("demo", "--folder", folder)
        assert result.code == 2, result.err
        line = _one_line(result)
        assert line.startswith("error: "), line
        assert len(line) < 300, line
    assert _snapshot(tmp_path) == before
