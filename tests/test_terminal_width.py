"""Listings fit the terminal: under 100 columns each row is a record (a field a line, long
values wrapped at spaces), and a handle is never cut, whatever the width (COLUMNS respected)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import SAMPLE_AS_OF, Result
from tests.support.warehouse import analysed_sample

Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return analysed_sample(tmp_path_factory.mktemp("width"))


def _handles(warehouse: Path, table: str) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {h for (h,) in con.execute(f"SELECT DISTINCT handle FROM {table}").fetchall()}


@pytest.mark.parametrize("columns", [60, 80, 99])
def test_anomalies_under_100_columns_are_records_that_fit(
    cli: Cli, warehouse: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = cli("--warehouse", str(warehouse), "anomalies")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    handles = _handles(warehouse, "anomalies")
    too_long = [line for line in lines if len(line) > columns]
    # only a line holding one unbreakable word may pass the width (never the case here)
    assert too_long == []
    records = result.out.strip().split("\n\n")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (count,) = con.execute(
            "SELECT count(*) FROM anomalies WHERE day <= ?", [SAMPLE_AS_OF]
        ).fetchone() or (0,)
    assert len(records) == count
    for record in records:
        fields = dict(
            line.split(":", 1) for line in record.splitlines() if not line.startswith(" ")
        )
        assert fields["handle"].strip() in handles  # whole, on one line
        assert fields["explanation"].strip()
        assert fields["verdict"].strip()  # the judgement and how sure, as stored
        assert "confidence" in fields
    assert len(lines) < 30 * count  # a record a few lines long (a word a line: over 100)


def test_anomalies_at_100_columns_or_piped_stay_a_table(
    cli: Cli, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    wide = cli("--warehouse", str(warehouse), "anomalies")
    assert wide.code == 0, wide.err
    assert all(len(line) <= 100 for line in wide.out.splitlines())
    assert "┃" in wide.out.splitlines()[1] or "│" in wide.out  # a table
    for handle in _handles(warehouse, "anomalies"):
        assert handle in wide.out  # never cut
    monkeypatch.delenv("COLUMNS")
    piped = cli("--warehouse", str(warehouse), "anomalies")
    assert max(len(line) for line in piped.out.splitlines()) <= 240


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_accounts_list_never_cuts_a_handle(
    cli: Cli, warehouse: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    result = cli("--warehouse", str(warehouse), "accounts", "list")
    assert result.code == 0, result.err
    assert "…" not in result.out
    for handle in _handles(warehouse, "accounts"):
        assert handle in result.out
    if columns < 100:
        assert result.out.count("handle:") == len(_handles(warehouse, "accounts"))


def test_records_wrap_at_spaces_and_keep_long_words_whole() -> None:
    from audience.cli.output import records

    text = records([["x", "a" * 50, "one two three four five six"]], ["p", "handle", "note"], 30)
    assert text.splitlines() == [
        "p:      x",
        "handle: " + "a" * 50,
        "note:   one two three four",
        "        five six",
        "",
    ]
