"""`audience run --skip-collect` on a warehouse with nothing new: the analysis is kept as it is
(no suite runs); analysed through a later day with no new snapshot, the snapshot suite has no
rows to check, so it reports nothing failed (no freshness failure on an empty batch)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.cli import Result

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]


@pytest.mark.usefixtures("prefect_api")
def test_nothing_new_is_not_a_failed_expectation(cli: Cli, write_csv: WriteCsv) -> None:
    start = date(2024, 1, 1)
    rows = "".join(f"github,octocat,{start + timedelta(d)},{1000 + 3 * d}\n" for d in range(40))
    history = write_csv("h.csv", "platform,handle,date,followers\n" + rows)
    assert cli("import", history).code == 0
    first = cli("run", "--skip-collect")
    assert first.code == 0, first.err
    assert "  snapshots: 11 expectations, all met" in first.err.splitlines()

    # nothing new at all: the analysis is kept as it is, no suite runs (and none fails)
    again = cli("run", "--skip-collect")
    assert again.code == 0, again.err
    assert "analysis: unchanged since " in again.out
    assert not [line for line in again.err.splitlines() if line.startswith("  snapshots:")]
    assert "not met" not in again.err
    # a later day with no new snapshot (the analysis runs): the snapshot suite has no rows
    later = cli("run", "--skip-collect", "--as-of", str(start + timedelta(days=45)))
    assert later.code == 0, later.err
    assert "(incremental)" in later.out
    assert "  snapshots: nothing new to check" in later.err.splitlines()
    assert "not met" not in later.err
    assert "  unexpected" not in later.err
