"""Samples that take several nights (issue 15.2: "samples queue and continue on the next night
when the budget is spent") over real HTTP against the simulator. A Bluesky and a Mastodon
account whose jump lies about 3,500 positions down the follower list (55-60 requests), and a
GitHub repository's 900 bought stars (about 215 requests: pages, then a profile a stargazer),
each need more than two nights' `[samples] max_requests`. Each night continues where the last
stopped (the stored cursor, `max_id` or page, the positions read, the profiles fetched), a day
later, while new followers arrive at the list's head and the stored counts grow, within the
simulator's rate limits; the finished sample is the one a single big-budget night gives,
follower for follower, and no answer is served twice. An interrupted or failed night keeps
what it read. A cursor the platform no longer accepts restarts the walk once and says so; a
sample no number of nights can finish is refused with why."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from core.settings import Settings, load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from pipeline.sample import SampleReport, sample_anomalies
from reports.render import render
from simulator.audiences import AccountSpec, Event
from simulator.server import SimulatorServer
from tests.support.clock import FakeClock
from tests.support.simulator import analysed_history, serving

START, DAYS, JUMP = date(2024, 1, 1), 100, 70
LAST = START + timedelta(days=DAYS - 1)
NIGHT1 = LAST - timedelta(days=2)  # the anomaly is found, and the sampling begins
DEEP, REPO, TOKEN = "deep.bsky.social", "acme/huge", "sim-github-token-9"
BOOSTED = "acme/boosted"  # about 215 requests: a page per 100 stars, a profile per stargazer


def _repo(handle: str, stars: int, rate: float, day: int, bought: int) -> AccountSpec:
    """A repository (no posts, no following) with a star purchase on `day`."""
    event = Event("burst_purchase", day, bought, retention=0.9)
    return AccountSpec(
        "github", handle, stars, rate, posts_per_day=None, following=None, events=(event,)
    )


SPECS = [
    AccountSpec("bluesky", DEEP, 3_000, 120, events=(Event("burst_purchase", JUMP, 600),)),
    AccountSpec(
        "mastodon", "deep@masto.social", 3_000, 120, events=(Event("burst_purchase", JUMP, 600),)
    ),
    _repo(BOOSTED, 3_000, 12, JUMP, 900),
    _repo(REPO, 41_000, 20, 90, 900),  # 41,000 stars before its jump: past GitHub's 400 pages
]
# (platform, handle, a night's budget a little over a third of the sample, the rate bucket)
ACCOUNTS = {
    "bluesky": ("bluesky", DEEP, 22, "appview"),
    "mastodon": ("mastodon", "deep@masto.social", 22, "unauthenticated_api"),
    "github": ("github", BOOSTED, 80, "core"),
}
OneNight = tuple[list[tuple[Any, ...]], dict[str, Any], int]  # followers, summary, answers
SAMPLE_COLUMNS = "kind, follower_id, position, arrival_day, created_at, has_avatar, posts, "
SAMPLE_COLUMNS += "followers, following, looks_inauthentic, signals"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with serving(SPECS, START, DAYS, 11, github_token=TOKEN) as running:
        yield running


def _settings(server: SimulatorServer, max_requests: int) -> Settings:
    return load_settings(
        None,
        environ=server.environ()
        | {
            "AUDIENCE_SAMPLES__MAX_REQUESTS": str(max_requests),
            "AUDIENCE_SAMPLES__MAX_LIST_PAGES": "80",
            "AUDIENCE_GITHUB_TOKEN": TOKEN,
        },
    )


def _served(server: SimulatorServer, platform: str = "bluesky") -> int:
    """The answers the simulator served with 200 (a request answered twice counts twice)."""
    return int(server.simulator.stats[f"{platform}:200"])


def _on(server: SimulatorServer, day: date) -> None:
    httpx.post(f"{server.url}/_sim/clock", json={"day": day.isoformat()}).raise_for_status()


def _warehouse(server: SimulatorServer, folder: Path, platform: str = "bluesky") -> Path:
    """The account's counts up to NIGHT1, analysed on NIGHT1 (the jump is an anomaly)."""
    folder.mkdir()
    _on(server, NIGHT1)
    handle = ACCOUNTS[platform][1]
    history = server.simulator.world.history(platform, handle)
    assert history is not None
    rows = [
        f"{platform},{handle},{START + timedelta(days=d)},{history[0][d]}"
        for d in range((NIGHT1 - START).days + 1)
    ]
    csv = folder / "h.csv"
    csv.write_text("platform,handle,date,followers\n" + "\n".join(rows) + "\n")
    wh = folder / "wh.duckdb"
    import_history([csv], wh, NIGHT1)
    run_analysis(wh, _settings(server, 1_500), NIGHT1)
    return wh


def _next_day(
    server: SimulatorServer, warehouse: Path, day: date, platform: str = "bluesky"
) -> None:
    """A night later: the simulator on `day`, and its count stored as the collection would."""
    _on(server, day)
    handle = ACCOUNTS[platform][1]
    history = server.simulator.world.history(platform, handle)
    assert history is not None
    count = history[0][(day - START).days]
    csv = warehouse.parent / f"{day}.csv"
    csv.write_text(f"platform,handle,date,followers\n{platform},{handle},{day},{count}\n")
    import_history([csv], warehouse, day)


def _sample(warehouse: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The finished jump sample's and baseline's followers, and the jump's summary."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(
            f"SELECT {SAMPLE_COLUMNS} FROM follower_samples ORDER BY kind, follower_id"
        ).fetchall()
        summary = con.sql(
            "SELECT size, flagged, share, share_low, share_high, baseline_size, baseline_share,"
            " p_value, status FROM sample_summaries WHERE kind = 'jump'"
        ).pl()
    return rows, summary.to_dicts()[0]


def _progress(warehouse: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql("SELECT requests, needed, restarts, state FROM sample_progress").fetchall()


def _note(warehouse: Path) -> tuple[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT status, note FROM sample_summaries WHERE kind = 'jump'"
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def _edit_state(warehouse: Path, **changes: Any) -> None:
    """Change the stored progress as time would (an expired cursor): the state's fields."""
    ((_, _, _, state),) = _progress(warehouse)
    edited = json.loads(state) | changes
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE sample_progress SET state = ?", [json.dumps(edited)])


@pytest.fixture(scope="module")
def one_nights(
    server: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], OneNight]:
    """The platform's sample as one night with a budget for all of it gives it: followers,
    summary, and the answers it took (each taken once, when first asked)."""
    taken: dict[str, OneNight] = {}

    def one_night(platform: str) -> OneNight:
        if platform not in taken:
            wh = _warehouse(server, tmp_path_factory.mktemp(platform) / "night", platform)
            served = _served(server, platform)
            report = sample_anomalies(wh, _settings(server, 1_500), NIGHT1)
            assert len(report.taken) == 1, report.lines()
            rows, summary = _sample(wh)
            assert _progress(wh) == []
            taken[platform] = (rows, summary, _served(server, platform) - served)
        return taken[platform]

    return one_night


@pytest.fixture
def one_night(one_nights: Callable[[str], OneNight]) -> OneNight:
    """The Bluesky account's sample in one night."""
    return one_nights("bluesky")


@pytest.mark.parametrize("platform", sorted(ACCOUNTS))
def test_a_sample_of_two_and_a_half_nights_finishes_on_the_third_as_one_night_would(
    server: SimulatorServer,
    tmp_path: Path,
    one_nights: Callable[[str], OneNight],
    platform: str,
) -> None:
    _, handle, budget, bucket = ACCOUNTS[platform]
    rows, summary, needed = one_nights(platform)
    assert 2 * budget < needed < 3 * budget  # two nights do not suffice, three do
    assert summary["size"] == 100
    assert summary["share"] - summary["baseline_share"] >= 0.4
    clock = FakeClock()
    server.simulator.use_clock(clock.now)
    httpx.post(  # 10 requests a minute here: the gate waits, never exceeds
        f"{server.url}/_sim/audience-limits/{platform}",
        json={"bucket": bucket, "limit": 10, "window_s": 60},
    ).raise_for_status()
    wh = _warehouse(server, tmp_path / "nights", platform)
    served = _served(server, platform)
    reports: list[SampleReport] = []
    for night in (NIGHT1, NIGHT1 + timedelta(days=1), LAST):
        if night != NIGHT1:  # a day on: new followers arrive at the list's head, the count grows
            clock.t += 86_400
            _next_day(server, wh, night, platform)
        reports.append(sample_anomalies(wh, _settings(server, budget), night, clock=clock))
        if night != LAST:
            assert reports[-1].requests == budget
            assert not reports[-1].taken
            ((done, estimate, restarts, _),) = _progress(wh)
            assert done == budget * len(reports)
            assert restarts == 0
            said = f"{done} of ~{estimate} requests done; continues on the next night"
            assert _note(wh) == ("queued", said)
            with duckdb.connect(str(wh), read_only=True) as con:
                page = render(con, night)  # the report's flagged day says it too
            assert f"Follower sample queued: {said}." in page
            (line,) = reports[-1].queued
            assert line.endswith(f": queued: {said}")
    history = server.simulator.world.history(platform, handle)
    assert history is not None
    assert history[0][DAYS - 1] - history[0][DAYS - 3] > 10  # the list grew between the nights
    # the third night finished it: no answer served twice, the same followers and judgement
    assert len(reports[-1].taken) == 1
    assert 0 < reports[-1].requests < budget
    assert sum(r.requests for r in reports) == _served(server, platform) - served == needed
    assert _progress(wh) == []
    assert _sample(wh) == (rows, summary)
    # within the simulator's rate limit: waited for, never refused
    stats = server.simulator.stats
    assert stats[f"{platform}:429"] == stats[f"{platform}:403"] == stats[f"{platform}:limited"] == 0
    assert len(clock.waits) >= 3
    server.simulator.reset()


def _faulting(after: int, fault: Callable[[], None]) -> httpx.AsyncBaseTransport:
    """A real loopback transport that calls `fault` before its request number `after` + 1."""

    class Faulting(httpx.AsyncHTTPTransport):
        sent = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.sent == after:
                fault()
            self.sent += 1
            return await super().handle_async_request(request)

    return Faulting()


def test_an_interrupted_or_failed_night_keeps_what_it_read(
    server: SimulatorServer,
    tmp_path: Path,
    one_night: OneNight,
) -> None:
    rows, summary, needed = one_night
    wh = _warehouse(server, tmp_path / "faults")
    served = _served(server)

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C before the eighth request
        sample_anomalies(wh, _settings(server, 1_500), NIGHT1, transport=_faulting(7, interrupt))
    ((done, estimate, _, _),) = _progress(wh)
    assert done == 7 == _served(server) - served
    assert _note(wh) == (
        "queued",
        f"interrupted; 7 of ~{estimate} requests done; continues on the next night",
    )

    def errors() -> None:  # the platform answers 500 from then on (after the retries too)
        server.simulator.set_faults("bluesky", error_rate=1.0)

    report = sample_anomalies(wh, _settings(server, 1_500), NIGHT1, transport=_faulting(10, errors))
    assert not report.taken
    ((done, _, _, _),) = _progress(wh)
    assert done == 7 + report.requests == 18  # ten answered, the eleventh failed
    status, note = _note(wh)
    assert status == "queued"
    assert note.startswith("bluesky gave no usable answer: HTTP 50")
    assert note.endswith(f"18 of ~{estimate} requests done; continues on the next night")
    server.simulator.faults.clear()
    report = sample_anomalies(wh, _settings(server, 1_500), NIGHT1)
    assert len(report.taken) == 1
    # nothing lost, nothing read twice: the answers served are those of one night
    assert _served(server) - served == needed
    assert _sample(wh) == (rows, summary)
    server.simulator.reset()


def test_a_refused_cursor_restarts_the_walk_once_and_says_so(
    server: SimulatorServer,
    tmp_path: Path,
    one_night: OneNight,
) -> None:
    wh = _warehouse(server, tmp_path / "cursor")
    assert sample_anomalies(wh, _settings(server, 22), NIGHT1).queued
    _edit_state(wh, cursor="expired")  # the platform answers 400 "Malformed cursor"
    _next_day(server, wh, LAST)  # and 120 or so followers arrived since
    served = _served(server)
    report = sample_anomalies(wh, _settings(server, 1_500), LAST)
    (line,) = report.taken
    assert (
        "InvalidRequest: Malformed cursor: the walk began again from the newest follower, " in line
    )
    assert "positions further for the followers gained since" in line
    # the pages read before were read again (more than one night's answers), but the sample
    # is the same: the positions moved on by the followers gained
    rows, summary, needed = one_night
    assert _served(server) - served > needed - 22
    assert _progress(wh) == []
    assert _sample(wh) == (rows, summary)
    server.simulator.reset()


def test_a_cursor_refused_again_after_the_restart_refuses_the_sample(
    server: SimulatorServer, tmp_path: Path
) -> None:
    wh = _warehouse(server, tmp_path / "twice")
    sample_anomalies(wh, _settings(server, 22), NIGHT1)
    _edit_state(wh, cursor="expired", restarts=1)
    report = sample_anomalies(wh, _settings(server, 1_500), NIGHT1)
    (line,) = report.refused
    assert "not sampled: it cannot finish: bluesky refused the stored cursor" in line
    assert "again after the walk began anew from the newest follower" in line
    assert _note(wh)[0] == "refused"
    assert _progress(wh) == []
    server.simulator.reset()


def test_a_jump_past_githubs_page_cap_is_refused_not_queued_for_ever(
    server: SimulatorServer, tmp_path: Path
) -> None:
    settings = _settings(server, 1_500)
    wh = analysed_history(server.simulator.world, [("github", REPO)], tmp_path, settings)
    served = server.simulator.stats["github:requests"]
    report = sample_anomalies(wh, settings, LAST)
    (line,) = report.refused
    assert "past GitHub's cap of 400 pages (40,000 stars, oldest first)" in line
    assert "no number of nights reaches them" in line
    assert server.simulator.stats["github:requests"] == served  # said, not tried
    assert _note(wh)[0] == "refused"
    assert _progress(wh) == []
