"""Follower samples beyond the nightly window (issue 15.2) over real HTTP against the
simulator: a sample the budget cuts is queued, and the next nightly sampling continues it
first from where it stopped, whatever its age, within `[samples] max_requests`; `audit
--sample` of an anomaly older than the nights' 30 days re-judges it, so its stored verdict and
explanation carry the sample. (Samples over several nights: tests/test_sample_resume.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from audience.cli import main
from core.settings import Settings, load_settings
from pipeline.sample import SampleReport, sample_anomalies
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from tests.support.simulator import analysed_history

START = date(2024, 1, 1)
DAYS = 100
TODAY = START + timedelta(days=DAYS - 1)
OLD_JUMP, NEW_JUMP = 40, 85  # 59 days before TODAY (past the nights' 30), and 14
OLD, NEW = "old.bsky.social", "new.bsky.social"
SPECS = [
    AccountSpec(
        "bluesky", handle, 2_000, 6, events=(Event("burst_purchase", jump, 600, retention=0.9),)
    )
    for handle, jump in ((OLD, OLD_JUMP), (NEW, NEW_JUMP))
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(World(SPECS, START, DAYS, seed=7))) as running:
        yield running


def _settings(server: SimulatorServer, max_requests: int = 1_500) -> Settings:
    return load_settings(
        None,
        environ={
            "AUDIENCE_PLATFORMS__BLUESKY__BASE_URL": f"{server.url}/bluesky",
            "AUDIENCE_PLATFORMS__BLUESKY__BACKOFF_S": "0.01",
            "AUDIENCE_SAMPLES__MAX_REQUESTS": str(max_requests),
        },
    )


def _requests(server: SimulatorServer) -> int:
    stats = httpx.get(f"{server.url}/_sim/stats").json()
    return int(stats.get("bluesky:requests", 0))


def _warehouse(server: SimulatorServer, tmp_path: Path) -> Path:
    world = server.simulator.world
    return analysed_history(
        world, [("bluesky", h) for h in (OLD, NEW)], tmp_path, _settings(server)
    )


def _jumps(warehouse: Path) -> dict[str, tuple[str, str | None, str, str]]:
    """handle -> (the jump sample's status, its note, the anomaly's evidence, explanation)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(
            """
            SELECT a.handle, coalesce(s.status, 'none'), s.note, a.evidence, a.explanation
            FROM anomalies a LEFT JOIN sample_summaries s
              ON s.handle = a.handle AND s.day = a.day AND s.kind = 'jump'
            WHERE a.kind = 'spike' AND a.attribution = 'account'
            """
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def test_audit_sample_of_an_old_anomaly_re_judges_it(
    server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = _warehouse(server, tmp_path)
    before = _jumps(wh)[OLD]
    assert before[0] == "none"
    assert "look inauthentic" not in before[3]
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIENCE_PLATFORMS__BLUESKY__BASE_URL", f"{server.url}/bluesky")
    monkeypatch.setenv("AUDIENCE_PLATFORMS__BLUESKY__BACKOFF_S", "0.01")
    code = main(
        ["--warehouse", str(wh), "audit", f"bluesky:{OLD}", "--sample"], today=lambda: TODAY
    )
    assert code == 0
    status, _, evidence, explanation = _jumps(wh)[OLD]
    assert status == "done"
    # judged again with the sample, though 59 days old: the stored verdict reads it
    assert "sample" in evidence
    assert "Verdict: suspected purchase (high confidence): of 100 followers who arrived on" in (
        explanation
    )
    assert "look inauthentic, against" in explanation
    # the newer anomaly was not sampled (audit --sample takes the account's own only)
    assert _jumps(wh)[NEW][0] == "none"


def test_a_sample_the_budget_cuts_is_queued_and_taken_first_on_the_next_night(
    server: SimulatorServer, tmp_path: Path
) -> None:
    wh = _warehouse(server, tmp_path)
    # on demand, with too small a budget: spent mid-way, queued
    spent = _requests(server)
    report = sample_anomalies(wh, _settings(server, 10), TODAY, account=f"bluesky:{OLD}")
    assert report.requests == _requests(server) - spent <= 10
    assert not report.taken
    status, note, _, explanation = _jumps(wh)[OLD]
    assert status == "queued"
    assert note is not None
    assert note == "10 of ~18 requests done; continues on the next night"
    assert "look inauthentic" not in explanation
    # the next night: the queued one first, though older than the nights' 30 days, continued
    # where it stopped (8 requests more: 18 in all, none spent twice) and re-judged with it;
    # the new anomaly begins with what is left of the budget of 12, and waits
    first = _night(server, wh, 12, taken=OLD)
    assert first.requests == 12
    assert _jumps(wh)[NEW][:2] == (
        "queued",
        "4 of ~16 requests done; continues on the next night",
    )
    # the night after: the queued new one, from its fifth request on
    assert _night(server, wh, 25, taken=NEW).requests == 12


def _night(server: SimulatorServer, warehouse: Path, budget: int, taken: str) -> SampleReport:
    """A nightly sampling with a budget of `budget` requests, never exceeded, that takes the
    sample of `taken` only, and re-judges its anomaly with it."""
    spent = _requests(server)
    report = sample_anomalies(warehouse, _settings(server, budget), TODAY)
    assert report.requests == _requests(server) - spent <= budget
    assert len(report.taken) == 1
    assert taken in report.taken[0]
    jumps = _jumps(warehouse)
    assert jumps[taken][0] == "done"
    assert "look inauthentic, against" in jumps[taken][3]
    return report
