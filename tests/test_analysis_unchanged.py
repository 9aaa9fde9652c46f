"""A night with nothing new (issue 17): the analysis finds the stored one is what it would
write, records an `unchanged` run and writes nothing else; anything it is computed from
changing (a snapshot, a back-dated import, a [detection] value, a sample, engagement, the
code) recomputes, and so does --full. On a real DuckDB file, through the product's own runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from audience.cli import main
from core.records import AnalysisSummary
from core.settings import Settings, load_settings
from pipeline.analyse import ANALYSED_PACKAGES, run_analysis, source_digest
from pipeline.engagement import SCHEMA as ENGAGEMENT
from tests.support.warehouse import build_warehouse
from transforms.judging import MarginChecker
from warehouse.db import in_transaction, open_warehouse
from warehouse.engagement import store_engagement
from warehouse.samples import store_summary
from warehouse.snapshots import upsert_snapshots

ROOT = Path(__file__).resolve().parent.parent
LAST = date(2024, 12, 31)  # the sample history's last day
ANALYSIS_TABLES = ("daily_metrics", "anomalies", "account_metrics", "analysis_state")


@pytest.fixture
def analysed(tmp_path: Path) -> Path:
    """The sample history imported and analysed once (margins)."""
    return build_warehouse(tmp_path / "audience.duckdb")


def analyse(path: Path, settings: Settings | None = None, **options: Any) -> AnalysisSummary:
    """One recorded analysis run, as `audience run --skip-collect` makes it (through the
    newest figure), checks by margins."""
    return run_analysis(path, settings or load_settings(None), checker=MarginChecker(), **options)


def analysis_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the analysis's tables, clocks included."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ANALYSIS_TABLES
        }


def analysis_runs(path: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT status, summary FROM runs WHERE kind = 'analyze' ORDER BY started_at"
        ).fetchall()
    return [(status, json.loads(summary)["mode"]) for status, summary in rows]


def collected(path: Path, day: date, followers: int) -> None:
    """A figure of x:growthguru written as a night's collection writes it."""
    with open_warehouse(path) as con, in_transaction(con):
        upsert_snapshots(
            con,
            pl.DataFrame(
                {
                    "platform": ["x"],
                    "handle": ["growthguru"],
                    "day": [day],
                    "followers": [followers],
                }
            ).with_columns(source=pl.lit("api:x")),
        )


def test_a_second_analysis_with_nothing_new_is_unchanged_and_writes_nothing(
    analysed: Path,
) -> None:
    before = analysis_tables(analysed)
    assert before["daily_metrics"]
    assert before["anomalies"]
    summary = analyse(analysed)
    assert summary.mode == "unchanged"
    assert (summary.as_of, summary.days_written, summary.anomalies) == (LAST, 0, 0)
    with duckdb.connect(str(analysed), read_only=True) as con:
        [(updated_at,)] = con.execute("SELECT updated_at FROM analysis_state").fetchall()
    assert summary.unchanged_since == updated_at  # when the analysis it kept ran
    assert analysis_tables(analysed) == before  # every row, every clock
    assert analyse(analysed).mode == "unchanged"  # and again
    assert analysis_tables(analysed) == before
    # each run recorded, the kept ones as such
    assert analysis_runs(analysed) == [("ok", "full"), ("ok", "unchanged"), ("ok", "unchanged")]


@pytest.mark.parametrize("day", [LAST + timedelta(days=1), LAST], ids=["new day", "same day"])
def test_a_snapshot_written_since_recomputes(analysed: Path, day: date) -> None:
    """A night's figure (a new day), or a figure of the analysed day collected again."""
    collected(analysed, day, 99_999)
    summary = analyse(analysed, through_newest=True)
    assert summary.mode == "incremental"
    assert summary.as_of == day
    assert summary.days_written >= 1
    with duckdb.connect(str(analysed), read_only=True) as con:
        [(followers,)] = con.execute(
            "SELECT followers FROM daily_metrics WHERE handle = 'growthguru' AND day = ?", [day]
        ).fetchall()
    assert followers == 99_999
    assert analyse(analysed, through_newest=True).mode == "unchanged"


def test_an_import_of_a_back_dated_row_rebuilds(
    analysed: Path, write_csv: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    day = date(2024, 7, 1)  # months before the analysed day: outside a night's window
    changed = write_csv(
        "fix.csv", f"platform,handle,date,followers,following,posts\nx,growthguru,{day},1,,\n"
    )
    code = main(["-q", "--warehouse", str(analysed), "import", "--replace", str(changed)])
    assert code == 0, capsys.readouterr()
    summary = analyse(analysed)
    assert summary.mode == "full"
    with duckdb.connect(str(analysed), read_only=True) as con:
        [(followers,)] = con.execute(
            "SELECT followers FROM daily_metrics WHERE handle = 'growthguru' AND day = ?", [day]
        ).fetchall()
    assert followers == 1


def test_another_detection_value_rebuilds_every_day_with_it(analysed: Path, tmp_path: Path) -> None:
    window = LAST - timedelta(days=31)  # what a night rewrites

    def old_spikes() -> int:
        with duckdb.connect(str(analysed), read_only=True) as con:
            [(n,)] = con.execute(
                "SELECT count(*) FROM anomalies WHERE kind = 'spike' AND day < ?", [window]
            ).fetchall()
        return int(n)

    by_default = old_spikes()
    config = tmp_path / "audience.toml"
    config.write_text("[detection]\nspike_z = 2.0\nspike_min_relative = 0.001\n", encoding="utf-8")
    sensitive = load_settings(config)
    assert analyse(analysed, sensitive).mode == "full"  # every day judged by the same values
    assert old_spikes() > by_default  # the days before a night's window too
    with duckdb.connect(str(analysed), read_only=True) as con:
        [(stored,)] = con.execute("SELECT detection FROM analysis_state").fetchall()
    assert json.loads(stored)["spike_z"] == 2.0
    assert analyse(analysed, sensitive).mode == "unchanged"
    assert analyse(analysed).mode == "full"  # back to the defaults: rebuilt again
    assert old_spikes() == by_default


def test_a_new_sample_or_engagement_row_recomputes(analysed: Path) -> None:
    with open_warehouse(analysed) as con, in_transaction(con):
        store_engagement(
            con,
            pl.DataFrame(
                [
                    {
                        "platform": "x",
                        "handle": "growthguru",
                        "day": LAST,
                        "outcome": "ok",
                        "posts_sampled": 4,
                        "median_interactions": 12.0,
                        "engagement_rate": 0.01,
                        "observed_at": datetime(2025, 1, 1, tzinfo=UTC),
                    }
                ],
                schema=ENGAGEMENT,
            ),
        )
    assert analyse(analysed).mode == "incremental"
    assert analyse(analysed).mode == "unchanged"
    with open_warehouse(analysed) as con, in_transaction(con):
        [(day,)] = con.execute(
            "SELECT day FROM anomalies WHERE handle = 'growthguru' AND kind IN ('spike', 'drip') "
            "ORDER BY day DESC LIMIT 1"
        ).fetchall()
        store_summary(
            con,
            {
                "sample_id": f"x:growthguru:{day}:jump",
                "platform": "x",
                "handle": "growthguru",
                "day": day,
                "kind": "jump",
                "status": "done",
                "size": 50,
                "flagged": 30,
                "share": 0.6,
                "share_low": 0.46,
                "share_high": 0.72,
                "baseline_share": 0.1,
                "p_value": 1e-6,
                "sampled_at": datetime.now(UTC),
            },
        )
    assert analyse(analysed).mode != "unchanged"  # judged again with it (an old one: a rebuild)
    assert analyse(analysed).mode == "unchanged"


def test_full_always_recomputes(analysed: Path) -> None:
    assert analyse(analysed).mode == "unchanged"
    assert analyse(analysed, full=True).mode == "full"
    assert analyse(analysed).mode == "unchanged"


# a crash between writing the results and committing them: the process dies (no rollback, no
# close) with the analysis's transaction open
_CRASH = """
import datetime, os, sys
from pathlib import Path
from core.settings import load_settings
from pipeline.analyse import analyse
from transforms.judging import MarginChecker
from warehouse.db import connect
con = connect(Path(sys.argv[1]))
con.execute("BEGIN TRANSACTION")
summary = analyse(con, load_settings(None).detection, {as_of!r}, checker=MarginChecker())
assert summary.mode == "incremental", summary.mode
os._exit(9)
"""


def test_a_crash_before_the_commit_leaves_no_digest_of_what_it_read(analysed: Path) -> None:
    day = LAST + timedelta(days=1)
    collected(analysed, day, 50_000)
    before = analysis_tables(analysed)
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASH.replace("{as_of!r}", repr(day)), str(analysed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr
    assert analysis_tables(analysed) == before  # the digest went with the results
    summary = analyse(analysed, through_newest=True)
    assert summary.mode == "incremental"
    assert summary.as_of == day
    assert analyse(analysed, through_newest=True).mode == "unchanged"


def test_the_warehouse_checks_clean_after_unchanged_runs(analysed: Path, cli: Any) -> None:
    assert analyse(analysed).mode == "unchanged"
    assert analyse(analysed).mode == "unchanged"
    result = cli("--warehouse", analysed, "check")
    assert result.code == 0, result.out + result.err


def test_the_code_is_in_the_digest(tmp_path: Path) -> None:
    """An upgrade of the code (any source file of the analysed packages) recomputes."""
    for package in ANALYSED_PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    first = source_digest(tmp_path)
    assert source_digest(tmp_path) == first
    source = tmp_path / "transforms" / "anomalies.py"
    source.write_text(source.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert source_digest(tmp_path) != first
    (tmp_path / "warehouse" / "migrations" / "9999_next.sql").write_text("SELECT 1;\n")
    assert len({first, source_digest(tmp_path)}) == 2
