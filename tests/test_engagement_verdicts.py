"""Engagement as verdict evidence (issue 15.1, "growth that brings no engagement is a purchase
signal; growth with rising engagement is organic"): the ladder with engagement readings (pure,
through transforms.verdicts), the window read around a jump, and end to end over real HTTP
against the simulator, whose interactions come from the organic audience only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.detection import DetectionSettings
from core.settings import Settings, load_settings
from pipeline.analyse import run_analysis
from pipeline.engagement import collect_engagement
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from tests.support.simulator import import_counts
from tests.test_engagement import rows
from tests.test_sample_verdicts import DECAYING, FADING, bought
from tests.test_verdicts import evidence
from transforms.engagement import JumpReading, jump_reading, read_jump
from transforms.verdicts import judge
from warehouse.db import open_warehouse

T = DetectionSettings()
BEFORE = [12.0, 11, 13, 12, 12, 14, 10] * 4  # 28 days of median interactions per post, about 12


def bought_jump() -> JumpReading:
    """A jump that added 40% more followers who do not engage: interactions stay at 12."""
    return read_jump(BEFORE, [12.0, 11, 12, 13, 12, 12, 11], 0.4)


def organic_jump() -> JumpReading:
    """The same jump of newcomers who engage as the audience did: about 12 x 1.4 = 17."""
    return read_jump(BEFORE, [17.0, 16, 18, 17, 16, 17, 18], 0.4)


def test_the_fixtures_read_as_documented() -> None:
    assert bought_jump().reading == "no_engagement_rise"
    assert organic_jump().reading == "engagement_rose"


def test_no_engagement_rise_makes_a_purchase_where_nothing_explains_the_growth() -> None:
    alone = judge(evidence(profile=FADING), T)
    assert alone.verdict == "unexplained"
    judged = judge(evidence(profile=FADING, engagement=bought_jump()), T)
    assert judged.verdict == "suspected_purchase"
    assert judged.confidence == "medium"  # not decisive on its own
    assert "no_engagement_rise" in judged.evidence
    assert (
        "interactions per post stayed at 12 after a jump that added 40% more followers, where "
        "newcomers who engage would have raised them to about 17" in judged.reasons
    )


def test_no_engagement_rise_never_outweighs_a_trigger() -> None:
    triggered = evidence(
        profile=FADING, posts_recent=9.0, posts_usual=1.0, engagement=bought_jump()
    )
    judged = judge(triggered, T)
    assert judged.verdict != "suspected_purchase"
    assert {"trigger", "no_engagement_rise"} <= set(judged.evidence)


def test_no_engagement_rise_adds_to_a_decisive_attrition() -> None:
    without = judge(evidence(profile=DECAYING), T)
    judged = judge(evidence(profile=DECAYING, engagement=bought_jump()), T)
    assert (without.verdict, judged.verdict) == ("suspected_purchase", "suspected_purchase")
    assert judged.evidence == (*without.evidence, "no_engagement_rise")


def test_rising_engagement_is_organic_evidence() -> None:
    judged = judge(evidence(profile=FADING, engagement=organic_jump()), T)
    assert judged.verdict == "organic"
    assert "engagement_rose" in judged.evidence
    assert any(
        r.startswith("interactions per post rose from 12 to 17 after a jump that added 40%")
        for r in judged.reasons
    ), judged.reasons


def test_rising_engagement_never_outweighs_a_decisive_attrition_or_sample() -> None:
    decaying = judge(evidence(profile=DECAYING, engagement=organic_jump()), T)
    assert decaying.verdict == "suspected_purchase"
    assert "engagement_rose" in decaying.evidence
    sampled = judge(evidence(profile=FADING, sample=bought(), engagement=organic_jump()), T)
    assert sampled.verdict == "suspected_purchase"
    assert {"sample", "engagement_rose"} <= set(sampled.evidence)


def test_a_young_jump_stays_pending_whatever_its_engagement() -> None:
    # two days after the jump: its profile known up to then, engagement not readable yet
    known = [*FADING[:6], *[float("nan")] * (len(FADING) - 6)]
    early = read_jump(BEFORE, [12.0, 12.0], 0.4)
    assert early.reading == "not_enough_data"
    for reading in (early, bought_jump(), organic_jump()):
        judged = judge(evidence(profile=known, age_days=2, engagement=reading), T)
        assert judged.verdict == "pending"


@pytest.mark.parametrize(
    "reading",
    [
        None,
        read_jump(BEFORE, [14.0] * 7, 0.4),  # inconclusive: rose less than the audience
        read_jump(BEFORE[:3], [12.0] * 7, 0.4),  # not enough days before
    ],
)
@pytest.mark.parametrize("profile", [FADING, DECAYING])
def test_without_a_reading_the_judgement_is_as_before(
    reading: JumpReading | None, profile: list[float]
) -> None:
    assert judge(evidence(profile=profile, engagement=reading), T) == judge(
        evidence(profile=profile), T
    )


def test_the_window_is_the_28_days_before_and_the_7_after() -> None:
    first = last = date(2024, 3, 22)
    daily = {first - timedelta(days=k): 10.0 for k in range(1, 29)}
    daily |= {last + timedelta(days=k): 10.0 for k in range(1, 8)}
    daily[first] = 100.0  # the jump's own day is neither
    daily[first - timedelta(days=29)] = 100.0  # nor are days outside the windows
    daily[last + timedelta(days=8)] = 100.0
    read = jump_reading(daily, first, last, 0.5)
    assert read is not None
    assert (read.reading, read.before, read.after) == ("no_engagement_rise", 10.0, 10.0)
    assert (read.days_before, read.days_after) == (28, 7)
    # a drip: before its first day, after its last
    drip = jump_reading(daily, first - timedelta(days=2), last, 0.5)
    assert drip is not None
    # its 28 days before are first - 30 to first - 3: 26 of the tens and the day at 29
    assert (drip.days_before, drip.days_after) == (27, 7)
    assert jump_reading({}, first, last, 0.5) is None
    assert jump_reading({date(2020, 1, 1): 5.0}, first, last, 0.5) is None
    assert jump_reading(daily, first, last, 0.0) is None


# --- end to end: a bought jump on the simulator --------------------------------------------

START = date(2024, 1, 1)
DAYS = 100
TODAY = START + timedelta(days=DAYS - 1)
JUMP = 60
BOUGHT = "bought.bsky.social"
NOW = datetime(2024, 4, 10, 3, 30, tzinfo=UTC)
SPECS = [
    # 2,000 followers, then 3,000 bought in one day and kept: the audience more than doubles,
    # its interactions (from the organic audience only) do not
    AccountSpec(
        "bluesky",
        BOUGHT,
        2_000,
        4,
        posts_per_day=2,
        events=(Event("burst_purchase", JUMP, 3_000),),
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(World(SPECS, START, DAYS, seed=7))) as running:
        yield running


def _settings(server: SimulatorServer) -> Settings:
    return load_settings(None, environ=server.environ())


def test_a_bought_jump_carries_its_engagement_reading(
    server: SimulatorServer, tmp_path: Path
) -> None:
    settings = _settings(server)
    wh = import_counts(server.simulator.world, "bluesky", BOUGHT, tmp_path, TODAY)
    # the nightly engagement read of the 28 days before the jump to the 7 after, each on its day
    for offset in range(JUMP - 28, JUMP + 8):
        day = START + timedelta(days=offset)
        httpx.post(f"{server.url}/_sim/clock", json={"day": day.isoformat()}).raise_for_status()
        read = collect_engagement(wh, settings, day, accounts=[("bluesky", BOUGHT)], now=NOW)
        assert read.outcomes == {"ok": 1}
    run_analysis(wh, settings, TODAY)
    with open_warehouse(wh, read_only=True) as con:
        found = rows(
            con,
            "SELECT verdict, evidence, explanation, relative_excess FROM anomalies "
            "WHERE handle = ? AND day = ?",
            [BOUGHT, START + timedelta(days=JUMP)],
        )
    assert len(found) == 1, found
    anomaly = found[0]
    assert "no_engagement_rise" in anomaly["evidence"]
    assert anomaly["verdict"] == "suspected_purchase"
    # "interactions per post rose only from 35 to 37 after a jump that added 137% more
    # followers, where newcomers who engage would have raised them to about 83"
    added = f"after a jump that added {anomaly['relative_excess']:.0%} more followers, where"
    assert "interactions per post " in anomaly["explanation"]
    assert added in anomaly["explanation"]
    assert "newcomers who engage would have raised them to about" in anomaly["explanation"]
