"""Follower samples on unusual growth (issue 15.2) over real HTTP against the simulator: a
purchase's sample shows the bought share and its baseline does not, the simulator's rate
limits are never exceeded (virtual clock), the sample is stored with the judged fields only,
and it becomes the anomaly's evidence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from core.settings import Settings, load_settings
from pipeline.sample import sample_anomalies
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from tests.support.clock import FakeClock
from tests.support.simulator import analysed_history

START = date(2024, 1, 1)
DAYS = 100
TODAY = START + timedelta(days=DAYS - 1)
JUMP = 70
HANDLE = "bought.bsky.social"
SPECS = [
    AccountSpec(
        "bluesky",
        HANDLE,
        2_000,
        6,
        events=(Event("burst_purchase", JUMP, 600, retention=0.9),),
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(World(SPECS, START, DAYS, seed=7))) as running:
        yield running


def _settings(server: SimulatorServer) -> Settings:
    return load_settings(
        None,
        environ={
            "AUDIENCE_PLATFORMS__BLUESKY__BASE_URL": f"{server.url}/bluesky",
            "AUDIENCE_PLATFORMS__BLUESKY__BACKOFF_S": "0.01",
        },
    )


def _warehouse(server: SimulatorServer, tmp_path: Path, settings: Settings) -> Path:
    return analysed_history(server.simulator.world, [("bluesky", HANDLE)], tmp_path, settings)


def test_a_purchase_sample_shows_the_bought_share_and_its_baseline_does_not(
    server: SimulatorServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    server.simulator.use_clock(clock.now)
    httpx.post(
        f"{server.url}/_sim/audience-limits/bluesky",
        json={"bucket": "appview", "limit": 5, "window_s": 60},
    ).raise_for_status()
    settings = _settings(server)
    wh = _warehouse(server, tmp_path, settings)
    report = sample_anomalies(wh, settings, TODAY, clock=clock)
    assert report.taken, report.lines()
    with duckdb.connect(str(wh), read_only=True) as con:
        jump = con.sql(
            "SELECT size, flagged, share, baseline_share, p_value FROM sample_summaries "
            "WHERE kind = 'jump' AND status = 'done'"
        ).fetchall()
        columns = [r[0] for r in con.sql("DESCRIBE follower_samples").fetchall()]
        anomaly = con.sql(
            "SELECT verdict, evidence, explanation FROM anomalies WHERE handle = ? AND day = ?",
            params=[HANDLE, START + timedelta(days=JUMP)],
        ).fetchall()
    assert len(jump) == 1
    size, _flagged, share, baseline, p = jump[0]
    assert size == 100
    assert share >= 0.5  # the bought block, mostly empty and new accounts created together
    assert baseline <= 0.15  # ordinary days' followers
    assert p < 0.01
    # only the judged fields: no name, bio or avatar address
    assert not {"display_name", "handle_name", "description", "avatar", "bio"} & set(columns)
    assert anomaly
    assert "sample" in anomaly[0][1]
    assert anomaly[0][0] == "suspected_purchase"
    assert "look inauthentic, against" in anomaly[0][2]
    # the budget of 5 requests a minute was waited for, never exceeded (no 429 retried)
    assert clock.waits
    server.simulator.reset()
