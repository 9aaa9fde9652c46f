"""`audience audit` of an account with no history (issue 15.3), over real HTTP against the
simulator: what it can judge now (its newest followers against earlier ones, the engagement of
its newest posts against its size tier), what only tracking gives, the verdict it allows
("unusual growth to review" at most, never "bought"), faults that cost only their own part,
and nothing written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from audience.cli import main
from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.engagement import collect_engagement
from pipeline.import_history import import_history
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from tests.support.cli import Result
from tests.support.warehouse import table_digest

ROOT = Path(__file__).resolve().parent.parent
START = date(2024, 1, 1)
DAYS = 100
TODAY = START + timedelta(days=DAYS - 1)
BOUGHT = "bought.bsky.social"  # 600 bought followers two days ago: its newest
ORGANIC = "organic.bsky.social"
PEERS = [f"peer{i}.bsky.social" for i in range(6)]  # tracked, of the same size tier (1k-10k)
SPECS = [
    AccountSpec("bluesky", BOUGHT, 2_000, 6, events=(Event("burst_purchase", DAYS - 3, 600, 0.9),)),
    AccountSpec("bluesky", ORGANIC, 2_000, 6),
    AccountSpec(
        "mastodon",
        "shop@fosstodon.org",
        2_000,
        6,
        events=(Event("burst_purchase", DAYS - 3, 600, 0.9),),
    ),
    *(AccountSpec("bluesky", handle, 1_800 + 100 * i, 5) for i, handle in enumerate(PEERS)),
    AccountSpec("twitch", "streamer_now", 3_000, 8),
    AccountSpec("reddit", "r/nowsub", 3_000, 8),
    AccountSpec("github", "octonow", 3_000, 8),
    AccountSpec("x", "poster_now", 3_000, 8),
]
TOKEN = "x-bearer-secret-4711"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(World(SPECS, START, DAYS, seed=11))) as running:
        yield running


@pytest.fixture
def env(server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The collectors pointed at the simulator; an empty folder: no warehouse, no config."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("AUDIENCE_"):
            monkeypatch.delenv(name)
    for name, value in server.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUDIENCE_TWITCH_CLIENT_ID", "sim-twitch-id")
    monkeypatch.setenv("AUDIENCE_TWITCH_TOKEN", "sim-twitch-token")
    monkeypatch.setenv("AUDIENCE_REDDIT_CLIENT_ID", "sim-reddit-id")
    monkeypatch.setenv("AUDIENCE_REDDIT_CLIENT_SECRET", "sim-reddit-secret")
    monkeypatch.setenv("AUDIENCE_X_BEARER_TOKEN", TOKEN)
    yield tmp_path / "none.duckdb"
    server.simulator.reset()


@pytest.fixture(scope="module")
def tracked(server: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse tracking the six peers: their histories, a night's engagement, analysed."""
    folder = tmp_path_factory.mktemp("tracked")
    rows = ["platform,handle,date,followers"]
    for handle in PEERS:
        history = server.simulator.world.history("bluesky", handle)
        assert history is not None
        rows += [
            f"bluesky,{handle},{START + timedelta(days=d)},{n}" for d, n in enumerate(history[0])
        ]
    (folder / "h.csv").write_text("\n".join(rows) + "\n")
    warehouse = folder / "wh.duckdb"
    import_history([folder / "h.csv"], warehouse, TODAY)
    settings = load_settings(None, environ=server.environ())
    done = collect_engagement(warehouse, settings, TODAY, accounts=[("bluesky", h) for h in PEERS])
    assert done.stored == len(PEERS)
    run_analysis(warehouse, settings, TODAY)
    return warehouse


def audit(warehouse: Path, account: str, *extra: object) -> tuple[Result, dict[str, Any]]:
    """The text page and the JSON of the same audit (two runs: nothing is stored between)."""
    args = ["--warehouse", str(warehouse), "audit", account, *map(str, extra)]
    text = _run(args)
    data = _run([*args, "--format", "json"])
    assert data.code == text.code, data.err
    return text, json.loads(data.out)


def _run(args: list[str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args, today=lambda: TODAY)
    return Result(code, out.getvalue(), err.getvalue())


def section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n\n", 1)[0]


def test_a_recent_bought_batch_among_the_newest_followers_is_to_review(
    env: Path, tmp_path: Path
) -> None:
    page = tmp_path / "audit.html"
    text, data = audit(env, f"bluesky:{BOUGHT}", "--html", page)
    assert text.code == 0, text.err  # an answer: unusual growth to review
    assert data["verdict_code"] == "unusual_growth_to_review"
    assert data["confidence"] == "low"
    s = data["sample_now"]
    assert s["reading"] == "sample"
    assert (s["newest"], s["earlier"]) == (100, 100)
    assert s["newest_share"] >= 0.4
    assert s["earlier_share"] <= 0.1
    assert s["newest_low"] <= s["newest_share"] <= s["newest_high"]
    assert s["p_value"] < 0.01
    assert s["earlier_from"] >= 1_000  # halfway down its list, below the bought batch
    words = f"of 100 newest followers, {s['newest_flagged']} ("
    assert words in section(text.out, "Judged now, without history")
    assert f"against {s['earlier_share']:.0%} of 100 earlier followers" in text.out
    assert text.out.count("Verdict: unusual growth to review") == 1
    assert "bought audience likely" not in text.out  # one sample without history accuses no one
    needs = section(text.out, "What only tracking gives")
    assert f"`audience accounts add bluesky:{BOUGHT}`" in needs
    assert f"possible on {TODAY + timedelta(days=14)}" in needs
    assert "retention" in needs
    html = page.read_text()
    assert "Judged now, without history" in html
    assert "What only tracking gives" in html
    assert "newest followers" in html
    assert not env.exists()  # read once, never stored: no warehouse made


def test_an_organic_account_is_not_accused(env: Path) -> None:
    text, data = audit(env, f"bluesky:{ORGANIC}")
    assert text.code == 4  # no history, no decisive evidence: no answer yet
    assert data["verdict_code"] == "not_enough_history"
    s = data["sample_now"]
    assert s["reading"] != "sample"
    assert s["newest_share"] <= 0.15
    assert "unusual growth" not in text.out
    assert "its newest followers look like earlier ones" in text.out or (
        "not decisively" in text.out
    )


def test_mastodon_newest_followers_are_compared_too(env: Path) -> None:
    text, data = audit(env, "mastodon:shop@fosstodon.org")
    assert text.code == 0, text.err
    assert data["sample_now"]["reading"] == "sample"
    assert data["engagement_now"]["posts_sampled"] > 0


def test_engagement_now_without_and_with_a_tier_group(env: Path, tracked: Path) -> None:
    _, alone = audit(env, f"bluesky:{ORGANIC}")
    e = alone["engagement_now"]
    assert e["posts_sampled"] > 0
    assert e["median_interactions"] > 0
    assert e["engagement_rate"] == pytest.approx(e["median_interactions"] / alone["followers"])
    assert (e["comparison"], e["tier_accounts"], e["size_tier"]) == (
        "tier_group_too_small",
        0,
        "1k-10k",
    )
    assert "only 0 other tracked bluesky account(s) of its size (1k-10k)" in e["text"]
    before = table_digest(tracked)
    text, grouped = audit(tracked, f"bluesky:{ORGANIC}")
    e = grouped["engagement_now"]
    assert e["tier_accounts"] == len(PEERS)
    assert e["comparison"] in ("below_tier", "typical_for_tier", "above_tier")
    assert f"median of the {len(PEERS)} other tracked bluesky accounts of its size" in text.out
    assert table_digest(tracked) == before  # the audit only read the warehouse


@pytest.mark.parametrize(
    ("account", "why"),
    [
        ("twitch:streamer_now", "Twitch lists a channel's followers to its broadcaster"),
        ("reddit:r/nowsub", "Reddit lists no subreddit's subscribers"),
        ("github:octonow", "GitHub does not document the order of a user's followers"),
    ],
)
def test_a_platform_with_nothing_to_judge_now_says_so(env: Path, account: str, why: str) -> None:
    text, data = audit(env, account)
    assert text.code == 4
    assert data["verdict_code"] == "not_enough_history"
    assert data["sample_now"] is None
    assert data["engagement_now"] is None
    now = section(text.out, "Judged now, without history")
    assert now.splitlines()[0] == "  - only today's size could be judged now (above)"
    assert why in now
    assert f"`audience accounts add {account}`" in section(text.out, "What only tracking gives")
    assert not env.exists()


def test_x_engagement_is_off_unless_allowed_and_no_secret_is_shown(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, _ = audit(env, "x:poster_now")
    assert text.code == 4
    now = section(text.out, "Judged now, without history")
    assert "engagement: not read: engagement on x is off in the settings ([engagement] x)" in now
    assert "X lists followers only with a paid token" in now
    monkeypatch.setenv("AUDIENCE_ENGAGEMENT__X", "true")  # the token's tier allows it
    allowed, data = audit(env, "x:poster_now")
    assert "engagement on x is off" not in allowed.out
    assert any(line.startswith("engagement: ") for line in data["judged_now"])
    monkeypatch.delenv("AUDIENCE_X_BEARER_TOKEN")
    missing, data = audit(env, "x:poster_now")
    assert missing.code == 4
    assert data["verdict_code"] == "no_figure"
    assert "AUDIENCE_X_BEARER_TOKEN" in missing.out  # what it would need
    for result in (text, allowed, missing):
        assert TOKEN not in result.out + result.err


def test_a_failing_follower_read_costs_only_its_part(env: Path, server: SimulatorServer) -> None:
    server.simulator.set_faults("bluesky", error_rate=1.0, paths={"getFollowers"})
    text, data = audit(env, f"bluesky:{BOUGHT}")
    assert text.code == 4  # no history and no sample: no answer, whatever failed
    assert data["sample_now"] is None
    assert data["engagement_now"]["posts_sampled"] > 0  # the rest of the page is there
    assert data["followers"] is not None
    (failed,) = data["failed_now"]
    assert failed.startswith("followers: no sample: the follower list could not be read")
    assert "HTTP 50" in failed  # the platform's answer, retried and given up
    assert section(text.out, "Judged now, without history").count("could not be read") == 1
    # the posts failing instead: judged on the followers, and the page says what failed (3)
    server.simulator.set_faults("bluesky", error_rate=1.0, paths={"getAuthorFeed"})
    text, data = audit(env, f"bluesky:{BOUGHT}")
    assert text.code == 3, text.err
    assert data["verdict_code"] == "unusual_growth_to_review"
    assert data["engagement_now"] is None
    assert data["failed_now"][0].startswith("engagement: its posts could not be read")


def test_a_timing_out_follower_list_and_a_disabled_platform(
    env: Path, server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIENCE_PLATFORMS__MASTODON__TIMEOUT_S", "0.2")
    server.simulator.set_faults("mastodon", timeout_rate=1.0, timeout_s=1.0, paths={"/followers"})
    text, data = audit(env, "mastodon:shop@fosstodon.org")
    assert text.code == 4
    assert data["engagement_now"]["posts_sampled"] > 0
    (failed,) = data["failed_now"]
    assert "the follower list could not be read: mastodon answered unavailable" in failed
    monkeypatch.setenv("AUDIENCE_PLATFORMS__MASTODON__ENABLED", "false")
    off, data = audit(env, "mastodon:shop@fosstodon.org")
    assert off.code == 4
    assert data["verdict_code"] == "no_figure"
    assert "disabled" in " ".join(data["reasons"])
    assert data["judged_now"] == []  # nothing asked of a disabled platform


def test_the_sample_stays_within_max_requests(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIENCE_SAMPLES__MAX_REQUESTS", "10")
    text, data = audit(env, f"bluesky:{BOUGHT}")
    assert text.code == 4
    assert data["sample_now"] is None
    assert "the 10 requests allowed for samples are spent" in data["failed_now"][0]
    assert "after 10 requests" in data["failed_now"][0]


def test_ctrl_c_during_the_follower_read(server: SimulatorServer, tmp_path: Path) -> None:
    """Interrupted while it reads the follower list: 130, one line, nothing written."""
    server.simulator.set_faults("bluesky", latency_s=0.5, paths={"getFollowers"})
    asked = server.simulator.stats["bluesky:requests"]
    warehouse, page = tmp_path / "none.duckdb", tmp_path / "audit.html"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AUDIENCE_")}
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "audience.cli", "--warehouse", str(warehouse), "audit",
             f"bluesky:{BOUGHT}", "--html", str(page)],
            cwd=ROOT, env=environ | server.environ(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        # its size (1 request) and posts (1) read, the follower list's first page asked
        deadline = time.monotonic() + 60
        while server.simulator.stats["bluesky:requests"] < asked + 3:
            assert time.monotonic() < deadline, "the audit never read the follower list"
            assert child.poll() is None, child.communicate()
            time.sleep(0.01)
        assert child.poll() is None, "the audit finished before it read the follower list"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        server.simulator.reset()
    assert child.returncode == 130, err
    assert err.strip() == "interrupted: the warehouse was not changed"
    assert out == ""
    assert not warehouse.exists()
    assert not page.exists()
