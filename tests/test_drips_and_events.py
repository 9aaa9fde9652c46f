"""Drips get a window, a retention and a severity like spikes; platform events are counted and
worded the same way in the anomaly, the report and the audit (issue 12, points 8 and 9).

One warehouse, analysed by the production path (pipeline.analyse.analyse through
run_analysis), read back through the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from core.detection import DetectionSettings
from core.settings import load_settings
from pipeline.analyse import analyse, run_analysis
from pipeline.import_history import import_history
from tests.support.cli import Result
from warehouse.snapshots import upsert_snapshots

Cli = Callable[..., Result]
START = dt.date(2026, 5, 1)
AS_OF = dt.date(2026, 11, 30)  # the drip is 72 days old
DRIP = (dt.date(2026, 9, 19), dt.date(2026, 9, 25))  # 7 days of 100 bought stars
EVENT = dt.date(2026, 10, 29)
DAYS = (AS_OF - START).days + 1


def _day(d: dt.date) -> int:
    return (d - START).days


def _organic(usual: float) -> np.ndarray:
    """Gains alternating around `usual` (+-2): a steady account with a little noise."""
    return usual + np.where(np.arange(DAYS) % 2 == 0, -2.0, 2.0)


def _account(platform: str, handle: str, start: float, gains: np.ndarray, **more: object) -> str:
    followers = start + np.cumsum(gains)
    lines = []
    for i, value in enumerate(followers):
        extra = "".join(f",{int(v[i])}" for v in more.values())  # type: ignore[index]
        lines.append(f"{platform},{handle},{START + dt.timedelta(i)},{int(value)}{extra}")
    return "\n".join(lines)


def drip_gains() -> np.ndarray:
    """14 a day; 100 more on each of 09-19..09-25; then 20 of them go each day for 30 days."""
    gains = _organic(14)
    gains[_day(DRIP[0]) : _day(DRIP[1]) + 1] += 100
    gains[_day(DRIP[1]) + 1 : _day(DRIP[1]) + 31] -= 20
    return gains


# the 700 bought stars are 13.3% of the 5,263 before the drip
DRIP_BEFORE = 5263.0
DRIP_START = DRIP_BEFORE - float(np.sum(drip_gains()[: _day(DRIP[0])]))


def history(path: Path) -> Path:
    drip = _account("github", "octo-org/widget", DRIP_START, drip_gains())
    # an organic spike: +2,000 (about 15% of the audience) on 08-30, with a posting burst
    spike = _organic(30)
    spike[_day(dt.date(2026, 8, 30))] += 2000
    posts = np.cumsum(np.where(np.isin(np.arange(DAYS), [119, 120, 121]), 8, 1))
    viral = _account("x", "newsroom", 10_000, spike, posts=posts)
    # the purge: three accounts fall unusually, the fourth moves -1 (z = -2.0 exactly: not more)
    purge = []
    for handle, usual, loss, start in (
        ("alice@mastodon.social", 30, 300, 8000),
        ("carol@hachyderm.io", 10, 400, 4000),
        ("bob@fosstodon.org", 4, 20, 1500),  # unusual for it, but under its own drop thresholds
        ("dave@mastodon.social", 1, 0, 400),
    ):
        gains = np.full(DAYS, float(usual))
        gains[_day(EVENT)] = -loss if loss else -1.0
        purge.append(_account("mastodon", handle, start, gains))
    (path / "plain.csv").write_text(
        "platform,handle,date,followers\n" + "\n".join([drip, *purge]) + "\n", encoding="utf-8"
    )
    (path / "posts.csv").write_text(
        "platform,handle,date,followers,posts\n" + viral + "\n", encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = history(tmp_path_factory.mktemp("drips"))
    warehouse = folder / "audience.duckdb"
    import_history([folder / "plain.csv", folder / "posts.csv"], warehouse, AS_OF)
    run_analysis(warehouse, load_settings(None, environ={}), AS_OF)
    return warehouse


def _anomalies(warehouse: Path) -> dict[tuple[str, str], dict[str, object]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql("SELECT * FROM anomalies ORDER BY day").pl().to_dicts()
    first: dict[tuple[str, str], dict[str, object]] = {}
    for r in rows:  # the first of each kind: a rebound after a purge can be flagged later
        first.setdefault((str(r["handle"]), str(r["kind"])), r)
    return first


def test_the_rebound_after_bought_stars_leave_is_never_a_purchase(analysed: Path) -> None:
    """Once the bought stars have left, the account's usual gains come back: against the
    baseline of the weeks it lost them, that is unusual, but it is no purchase."""
    with duckdb.connect(str(analysed), read_only=True) as con:
        later = con.execute(
            "SELECT verdict FROM anomalies WHERE handle = 'octo-org/widget' AND day > ?",
            [DRIP[1]],
        ).fetchall()
    assert all(verdict != "suspected_purchase" for (verdict,) in later)


def test_a_drip_has_its_window_retention_and_severity(analysed: Path) -> None:
    found = _anomalies(analysed)
    drip = found[("octo-org/widget", "drip")]
    assert drip["suspected_purchase"] is True
    # the window is the days that carried the excess, not the rule's moving window around them
    assert drip["window_start"] == DRIP[0]
    assert f"over 7 days, {DRIP[0]} to {DRIP[1]}" in str(drip["explanation"])
    assert drip["excess"] == pytest.approx(700, abs=10)
    assert drip["relative_excess"] == pytest.approx(0.133, abs=0.002)
    # 20 of the 700 go each day after the window: 560 left after 7 days, 100 after 30
    assert drip["retention_7"] == pytest.approx(560 / 700, abs=0.01)
    assert drip["retention_30"] == pytest.approx(100 / 700, abs=0.01)
    kept = f"{drip['retention_7']:.1%} of the excess remained 7 days after the window's end and "
    assert kept + f"{drip['retention_30']:.1%} after 30." in str(drip["explanation"])
    # 13.3% of the audience and a strong margin: high
    assert drip["severity"] == "high"
    # an organic spike (a posting burst) is never above low, even at 15% of the audience
    spike = found[("newsroom", "spike")]
    assert (spike["suspected_purchase"], spike["severity"]) == (False, "low")
    assert float(spike["relative_excess"]) > 0.10  # type: ignore[arg-type]


def test_the_audit_of_an_old_drip_reports_what_it_kept(cli: Cli, analysed: Path) -> None:
    result = cli("--warehouse", str(analysed), "audit", "github:octo-org/widget", "--as-of", AS_OF)
    assert "too recent" not in result.out
    assert "% of the excess remained 7 days after the window's end and 14." in result.out
    audit = json.loads(
        cli(
            "--warehouse",
            str(analysed),
            "audit",
            "github:octo-org/widget",
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ).out
    )
    assert audit["confidence"] == "high"
    # the estimate keeps 100 of the 700 (the 30-day retention)
    assert audit["estimate"]["kept"] == pytest.approx(100, abs=10)


def test_platform_event_counts_and_words_agree(cli: Cli, analysed: Path, tmp_path: Path) -> None:
    phrase = f"3 of 4 tracked mastodon accounts fell unusually on {EVENT}"
    found = _anomalies(analysed)
    for handle in ("alice@mastodon.social", "carol@hachyderm.io"):
        row = found[(handle, "drop")]
        assert row["attribution"] == "platform_event"
        assert f"{phrase}, so it is attributed to a platform-wide event" in str(row["explanation"])
    assert ("bob@fosstodon.org", "drop") not in found  # under its own drop thresholds
    # the report words the event the same way
    report = tmp_path / "r.html"
    assert cli("--warehouse", str(analysed), "report", "--output", report).code == 0
    assert f"mastodon {EVENT}: {phrase} (past their own thresholds: " in report.read_text("utf-8")
    # the audit of an account that fell with the others says so; dave's -1 was not unusual
    bob = cli("--warehouse", str(analysed), "audit", "mastodon:bob@fosstodon.org", "--as-of", AS_OF)
    assert f"on {EVENT} it lost 20 as {phrase}: a platform-wide event, not a purchase" in bob.out
    assert "no day stood out from the account's own usual growth but for platform-wide" in bob.out
    dave = cli(
        "--warehouse", str(analysed), "audit", "mastodon:dave@mastodon.social", "--as-of", AS_OF
    )
    assert str(EVENT) not in dave.out


def test_nightly_increments_follow_a_drip_to_its_30_days(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A drip is dated on its first flagged day, but its window and retention reach 30 days past
    its last: nightly runs rewrite it until then, and agree with a full rebuild."""
    t = DetectionSettings()
    followers = DRIP_START + np.cumsum(drip_gains())
    rows = pl.DataFrame(
        {
            "platform": "github",
            "handle": "octo-org/widget",
            "day": [START + dt.timedelta(i) for i in range(DAYS)],
            "followers": followers.astype(np.int64),
            "source": "import:test",
        }
    )
    # the last night's anomalies from 31 days back no longer hold the drip's first day, and it
    # is the first to see the 30 days after the drip's last
    nights = [DRIP[1] - dt.timedelta(2), DRIP[1] + dt.timedelta(27), DRIP[1] + dt.timedelta(31)]
    upsert_snapshots(con, rows.filter(pl.col("day") <= nights[0]))
    analyse(con, t, nights[0])
    for night in nights[1:]:
        upsert_snapshots(con, rows.filter(pl.col("day") <= night))
        assert analyse(con, t, night).mode == "incremental"
    nightly = con.sql("SELECT * EXCLUDE (detected_at) FROM anomalies ORDER BY ALL").pl()
    analyse(con, t, nights[-1], full=True)
    rebuilt = con.sql("SELECT * EXCLUDE (detected_at) FROM anomalies ORDER BY ALL").pl()
    assert nightly.equals(rebuilt)
    assert nightly.get_column("retention_30").to_list() == [pytest.approx(100 / 700, abs=0.01)]
