"""Stargazer samples of a GitHub repository (issue 15.2) over real HTTP against the simulator:
the stargazers of a planted star purchase's days, with their `/users/{login}` profiles, show
the bought share well above the ordinary days' baseline, and the sample becomes the anomaly's
evidence for suspected_purchase."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from audience.cli import main
from core.settings import load_settings
from pipeline.sample import sample_anomalies
from simulator.audiences import AccountSpec, Event
from simulator.server import SimulatorServer
from tests.support.cli import Result
from tests.support.clock import FakeClock
from tests.support.simulator import analysed_history, jump_sample_and_anomaly, serving

REPO, TOKEN = "acme/boosted", "sim-github-token-77"
POPULAR = "acme/popular"  # about 7,000 stars: 70 pages, more than 60 requests an hour
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
    AccountSpec("github", POPULAR, 6_500, 5, posts_per_day=None, following=None),
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
    httpx.post(  # a sample needs about 215 requests: five windows of this budget
        f"{server.url}/_sim/audience-limits/github",
        json={"bucket": "core", "limit": 50, "window_s": 60},
    ).raise_for_status()
    settings = load_settings(None, environ=server.environ() | {"AUDIENCE_GITHUB_TOKEN": TOKEN})
    wh = analysed_history(server.simulator.world, [("github", REPO)], tmp_path, settings)
    report = sample_anomalies(wh, settings, TODAY, clock=clock)
    assert report.taken, report.lines()
    # GitHub's budget was waited for, never exceeded: no 403 or 429 answered
    assert report.requests > 150
    assert len(clock.waits) >= 3
    stats = server.simulator.stats
    assert stats["github:403"] == stats["github:429"] == stats["github:limited"] == 0
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


@pytest.fixture
def audit(
    server: SimulatorServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Result]]:
    """`audience audit ARGS` in-process on the simulated last day, against the simulator, with
    the token or without (token=None); the warehouse is tmp_path's."""
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG", "AUDIENCE_GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIENCE_PLATFORMS__GITHUB__BASE_URL", f"{server.url}/github")
    monkeypatch.setenv("AUDIENCE_PLATFORMS__GITHUB__BACKOFF_S", "0.01")

    def run(*args: object, token: str | None = TOKEN) -> Result:
        if token is None:
            monkeypatch.delenv("AUDIENCE_GITHUB_TOKEN", raising=False)
        else:
            monkeypatch.setenv("AUDIENCE_GITHUB_TOKEN", token)
        argv = ["--warehouse", str(tmp_path / "wh.duckdb"), "audit", *map(str, args)]
        code = main(argv, today=lambda: TODAY)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
    server.simulator.reset()


def test_the_audit_of_an_untracked_repository_shows_its_stargazer_evidence(
    audit: Callable[..., Result], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jump_day = START + timedelta(days=JUMP)
    page = tmp_path / "audit.html"
    result = audit(f"github:{REPO}", "--format", "json", "--html", page)
    assert result.code == 0, result.err
    found = json.loads(result.out)
    # the rebuilt history
    assert found["days_observed"] > DAYS
    assert "its history was rebuilt now from the timestamps" in " ".join(found["limits"])
    # the stargazer evidence: the jump's sample against ordinary days'
    (jump,) = [s for s in found["samples"] if s["kind"] == "jump"]
    assert jump["status"] == "done"
    assert jump["day"] == str(jump_day)
    assert jump["size"] == 100
    assert jump["share"] - jump["baseline_share"] >= 0.4
    assert jump["share_low"] <= jump["share"] <= jump["share_high"]
    (said,) = found["sampled"]
    assert said.startswith(
        f"sampled now from github: 100 stargazers at most of its largest jump ({jump_day})"
    )
    # the verdict uses it
    (day,) = [f for f in found["flagged"] if f["day"] == str(jump_day)]
    assert day["verdict"] == "suspected_purchase"
    assert "sample" in day["evidence"]
    assert found["verdict_code"] == "bought_audience_likely"
    assert "stargazers of" in " ".join(found["reasons"])
    html = page.read_text()
    assert "Who arrived (follower samples)" in html
    assert "of ordinary days" in html
    # the text page, read again: stored history analysed alone, the stored sample shown
    text = audit(f"github:{REPO}")
    assert text.code == 0, text.err
    who = text.out.split("Who arrived (follower samples)")[1]
    assert f"{jump['flagged']} of 100 look inauthentic" in who
    assert "against" in who
    assert "bought audience likely" in text.out
    assert "was analysed now on its own" in text.out
    # the sampled stargazers' logins stay in the warehouse's sample table
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        logins = [r[0] for r in con.sql("SELECT follower_id FROM follower_samples").fetchall()]
    assert len(logins) >= 150
    shown = [result.out, result.err, text.out, text.err, html]
    shown += [record.getMessage() for record in caplog.records]
    assert [login for login in logins if any(login in out for out in shown)] == []
    # and the token is in no file the audit wrote (warehouse, page)
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert written
    assert [f.name for f in written if TOKEN.encode() in f.read_bytes()] == []


def test_without_a_token_the_untracked_audit_says_what_a_sample_needs(
    audit: Callable[..., Result], tmp_path: Path
) -> None:
    result = audit(f"github:{REPO}", "--format", "json", token=None)
    assert result.code == 0, result.err
    found = json.loads(result.out)
    assert found["days_observed"] > DAYS  # ~40 pages: within the 60 an hour
    assert found["samples"] == []
    (said,) = found["sampled"]
    assert "no stargazer sample of its largest jump" in said
    assert "without a token GitHub allows 60" in said
    assert "AUDIENCE_GITHUB_TOKEN" in said
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM sample_summaries").fetchall() == [(0,)]


def test_without_a_token_a_large_untracked_repository_is_neither_rebuilt_nor_sampled(
    audit: Callable[..., Result], server: SimulatorServer
) -> None:
    result = audit(f"github:{POPULAR}", "--format", "json", token=None)
    assert result.code == 4, result.err  # only today's figure: no verdict yet
    found = json.loads(result.out)
    limits = " ".join(found["limits"])
    assert "could not be rebuilt from GitHub's stargazers" in limits
    assert "without a token GitHub allows 60 requests an hour" in limits
    (said,) = found["sampled"]
    assert said.startswith("no stargazer sample either: a GitHub sample needs about")
    assert found["samples"] == []
    # said, not tried: the repository's count, refused there, and today's figure
    assert server.simulator.stats["github:requests"] <= 3
