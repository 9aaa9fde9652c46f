"""`audience query`: NULL, NaN and infinities as each format writes them (CSV and the table:
an empty cell, `nan`, `inf`, `-inf`; JSON: null)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Result

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
SQL = (
    "SELECT 1/0 AS d, CAST('nan' AS DOUBLE) AS n, -CAST('inf' AS DOUBLE) AS m, "
    "CAST(NULL AS DOUBLE) AS z, 2.5 AS h"
)


@pytest.fixture
def warehouse(cli: Cli, write_csv: WriteCsv, tmp_path: Path) -> Path:
    wh = tmp_path / "wh.duckdb"
    rows = "platform,handle,date,followers\ngithub,octocat,2024-01-01,10\n"
    assert cli("--warehouse", wh, "import", write_csv("h.csv", rows)).code == 0
    return wh


def test_null_nan_and_infinities_in_csv_and_the_table(cli: Cli, warehouse: Path) -> None:
    csv = cli("--warehouse", warehouse, "query", "--format", "csv", SQL)
    assert csv.code == 0, csv.err
    assert csv.out.splitlines() == ["d,n,m,z,h", "inf,nan,-inf,,2.5"]
    table = cli("--warehouse", warehouse, "query", SQL)
    assert table.code == 0, table.err
    cells = [c.strip() for c in table.out.splitlines()[3].strip("│").split("│")]
    assert cells == ["inf", "nan", "-inf", "", "2.5"]
    assert "None" not in csv.out + table.out


def test_null_nan_and_infinities_in_json(cli: Cli, warehouse: Path) -> None:
    result = cli("--warehouse", warehouse, "query", "--format", "json", SQL)
    assert result.code == 0, result.err
    assert json.loads(result.out) == [{"d": None, "n": None, "m": None, "z": None, "h": 2.5}]


def test_a_column_of_whole_numbers_with_nan_keeps_its_integers(cli: Cli, warehouse: Path) -> None:
    sql = "SELECT * FROM (VALUES (1.0::DOUBLE), ('nan'::DOUBLE), (NULL)) t(x) ORDER BY x NULLS LAST"
    result = cli("--warehouse", warehouse, "query", "--format", "csv", sql)
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["x", "1", "nan", '""']  # a lone empty cell, quoted
