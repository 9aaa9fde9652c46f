"""The snapshot suite's freshness expectation judges the newest day the warehouse holds for the
accounts with new rows, not the newest of the new rows: an import of an older day for an
account that is up to date is not stale, while a night whose newest collected day is old still
is (real DuckDB file, GX suites, the analysis run directly with a fixed day)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from checks.suites import GXChecker
from core.records import SuiteCheck
from core.settings import load_settings
from pipeline.analyse import run_analysis
from tests.support.cli import Result

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
HEADER = "platform,handle,date,followers\n"
TODAY = date(2026, 6, 1)
FRESHNESS = "expect_column_max_to_be_between"


def _import(cli: Cli, write_csv: WriteCsv, wh: Path, name: str, days: list[date]) -> None:
    rows = "".join(f"github,octocat,{d},{1000 + (d - TODAY).days + 100}\n" for d in days)
    done = cli("--warehouse", str(wh), "import", write_csv(name, HEADER + rows))
    assert done.code == 0, done.err


def _snapshot_suite(wh: Path, as_of: date) -> SuiteCheck:
    summary = run_analysis(wh, load_settings(None, environ={}), as_of, checker=GXChecker())
    suite = summary.checks.snapshots
    assert suite is not None
    assert suite.evaluated == 11  # the suite ran on new rows
    return suite


def _unmet(suite: SuiteCheck) -> list[str]:
    return [f.expectation for f in suite.failed]


def test_a_back_dated_import_is_not_a_freshness_failure(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _import(cli, write_csv, wh, "history.csv", [TODAY - timedelta(d) for d in range(40)])
    first = _snapshot_suite(wh, TODAY)
    assert first.success, first.failed
    assert not first.failed

    # one older day than the history holds: the night's only new row is back-dated, the
    # account's newest day is still today
    _import(cli, write_csv, wh, "older.csv", [TODAY - timedelta(days=60)])
    again = _snapshot_suite(wh, TODAY)
    assert FRESHNESS not in _unmet(again)
    assert again.success, again.failed


def test_a_night_whose_newest_collected_day_is_old_is_still_stale(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    start = TODAY - timedelta(days=10)
    _import(cli, write_csv, wh, "history.csv", [start - timedelta(d) for d in range(40)])
    assert _snapshot_suite(wh, start).success

    # the next night brings new days, the newest of them five days before the analysed day
    _import(cli, write_csv, wh, "night.csv", [start + timedelta(d) for d in range(1, 6)])
    stale = _snapshot_suite(wh, TODAY)
    assert not stale.success
    assert _unmet(stale) == [FRESHNESS]
