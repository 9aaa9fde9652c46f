"""Dates and gaps (issue 12, point 10): figures dated before a platform existed are refused,
interpolation never spans more than [detection] max_gap_days, and the audit's history and
confidence count the days observed, not the calendar span."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from core.errors import ImportRejected
from core.platforms import PLATFORMS
from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from tests.support.cli import Result
from tests.support.warehouse import table_digest

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
HEADER = "platform,handle,date,followers\n"
TODAY = date(2026, 11, 22)
START = date(2024, 1, 1)


def test_a_date_before_the_platform_existed_is_refused(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    cli("--warehouse", wh, "import", write_csv("ok.csv", HEADER + "x,growthguru,2024-01-01,5\n"))
    before = table_digest(wh)
    bad = write_csv("old.csv", HEADER + "x,growthguru,1900-01-01,5\n")
    result = cli("--warehouse", wh, "import", bad)
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        f"{bad}:2: date: date 1900-01-01 is before x existed (its first accounts date from "
        "2006-03-21)"
    )
    assert table_digest(wh) == before


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_each_platform_accepts_its_first_day_and_refuses_the_day_before(
    platform: str, write_csv: WriteCsv, tmp_path: Path
) -> None:
    spec = PLATFORMS[platform]
    handle = spec.example.split(" or ")[0]
    first = f"{platform},{handle},{spec.launched},1\n"
    import_history([write_csv("first.csv", HEADER + first)], tmp_path / "a.duckdb", TODAY)
    earlier = f"{platform},{handle},{spec.launched - timedelta(1)},1\n"
    with pytest.raises(ImportRejected, match=f"is before {platform} existed"):
        import_history([write_csv("early.csv", HEADER + earlier)], tmp_path / "b.duckdb", TODAY)


def _history(wh: Path, write_csv: WriteCsv, stray_gap: int, days: int = 60) -> None:
    """`days` steady days from START, and one figure `stray_gap` days before START at a very
    different level (what a typo in a third-party file looks like)."""
    rows = [f"github,octocat,{START - timedelta(stray_gap)},5"]
    rows += [f"github,octocat,{START + timedelta(d)},{10_000 + 10 * d}" for d in range(days)]
    import_history([write_csv("h.csv", HEADER + "\n".join(rows) + "\n")], wh, TODAY)


def _metrics(wh: Path) -> list[tuple[str, bool, float | None]]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return [
            (str(d), bool(o), g)
            for d, o, g in con.execute(
                "SELECT day::VARCHAR, observed, daily_gain FROM daily_metrics ORDER BY day"
            ).fetchall()
        ]


def test_a_gap_longer_than_max_gap_days_stays_a_gap(write_csv: WriteCsv, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    _history(wh, write_csv, stray_gap=1000)
    run_analysis(wh, load_settings(None, environ={}), START + timedelta(59))
    metrics = _metrics(wh)
    assert len(metrics) == 61  # the stray day and the 60 days: nothing in between
    assert not any(not observed for _, observed, _ in metrics)
    assert metrics[1] == (str(START), True, None)  # no gain across the gap
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM anomalies").fetchall() == [(0,)]


def test_a_gap_up_to_max_gap_days_is_interpolated_and_the_limit_is_a_setting(
    write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _history(wh, write_csv, stray_gap=20)
    run_analysis(wh, load_settings(None, environ={}), START + timedelta(59))
    metrics = _metrics(wh)
    assert len(metrics) == 80
    assert sum(not observed for _, observed, _ in metrics) == 19
    narrow = load_settings(None, environ={"AUDIENCE_DETECTION__MAX_GAP_DAYS": "10"})
    run_analysis(wh, narrow, START + timedelta(59), full=True)
    assert len(_metrics(wh)) == 61


def test_the_audit_counts_the_days_observed_not_the_calendar_span(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _history(wh, write_csv, stray_gap=1000, days=30)
    as_of = START + timedelta(29)
    run_analysis(wh, load_settings(None, environ={}), as_of)
    args = ("--warehouse", wh, "audit", "github:octocat", "--as-of", str(as_of))
    audit = json.loads(cli(*args, "--format", "json").out)
    assert audit["days_observed"] == 31
    # 31 days with a figure (over 1,030 calendar days, which used to count): low
    assert audit["confidence"] == "low"
    assert audit["verdict"] == "no sign of bought audience in 31 days of history"
    text = cli(*args).out
    assert (
        "  31 days with a figure (0 collected from github, 31 imported), between 2021-04-06 "
        "and 2024-01-30 (1,030 calendar days); not tracked"
    ) in text.splitlines()
