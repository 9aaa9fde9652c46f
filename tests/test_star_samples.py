"""Stargazer samples of a GitHub repository (issue 15.2) over real HTTP against the simulator:
the stargazers of a planted star purchase's days, with their `/users/{login}` profiles, show
the bought share well above the ordinary days' baseline, and the sample becomes the anomaly's
evidence for suspected_purchase."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from core.settings import load_settings
from pipeline.sample import sample_anomalies
from simulator.audiences import AccountSpec, Event
from simulator.server import SimulatorServer
from tests.support.clock import FakeClock
from tests.support.simulator import analysed_history, jump_sample_and_anomaly, serving

REPO, TOKEN = "acme/boosted", "sim-github-token-77"
START, DAYS, JUMP = date(2024, 1, 1), 100, 70
TODAY = START + timedelta(days=DAYS - 1)
SPECS = [
    AccountSpec(
        "github",
        REPO,
        3_000,
        12,
        posts_per_day=None,
        following=None,
        events=(Event("burst_purchase", JUMP, 900, retention=0.9),),
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with serving(SPECS, START, DAYS, 7, github_token=TOKEN) as running:
        yield running


def test_a_star_purchase_sample_shows_the_bought_share_above_its_baseline(
    server: SimulatorServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    server.simulator.use_clock(clock.now)
    settings = load_settings(None, environ=server.environ() | {"AUDIENCE_GITHUB_TOKEN": TOKEN})
    wh = analysed_history(server.simulator.world, [("github", REPO)], tmp_path, settings)
    report = sample_anomalies(wh, settings, TODAY, clock=clock)
    assert report.taken, report.lines()
    jump, anomaly = jump_sample_and_anomaly(wh, REPO, START + timedelta(days=JUMP))
    with duckdb.connect(str(wh), read_only=True) as con:
        arrivals = con.sql(
            "SELECT DISTINCT arrival_day FROM follower_samples WHERE sample_id = ?",
            params=[jump[0]["sample_id"]],
        ).fetchall()
    assert len(jump) == 1
    assert jump[0]["size"] == 100
    assert jump[0]["baseline_size"] > 0
    share, baseline = jump[0]["share"], jump[0]["baseline_share"]
    assert share >= 0.5  # the bought stars: batch-created, empty accounts
    assert baseline <= 0.15  # ordinary days' stargazers
    assert share - baseline >= 0.4
    assert jump[0]["p_value"] < 0.01
    assert arrivals == [(START + timedelta(days=JUMP),)]  # by starred_at: the jump's day
    assert anomaly
    assert anomaly[0][0] == "suspected_purchase"
    assert "sample" in anomaly[0][1]
    assert "stargazers of" in anomaly[0][2]
    assert "look inauthentic, against" in anomaly[0][2]
    server.simulator.reset()
