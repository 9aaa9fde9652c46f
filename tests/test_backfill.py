"""History on day one (issue 15.3): GitHub stargazers served by the simulator over real HTTP,
`audience backfill` rebuilding daily star counts from them, resumable, within the rate limit,
and `audience audit` of an untracked repository judged on the rebuilt history."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from audience.cli import main
from core.errors import PartlyDone
from core.settings import Settings, load_settings
from pipeline.backfill import backfill
from pipeline.star_rebuild import ESTIMATED, SOURCE
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.stargazers import PAGE_CAP_BODY, surviving_counts
from simulator.world import World
from tests.support.cli import Result
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parent.parent
START = date(2024, 6, 1)
DAYS = 120
TODAY = START + timedelta(days=DAYS - 1)
TOKEN = "sim-github-token-4242"
STEADY = "acme/rocket"  # about 9,000 stars, never loses one
PURGED = "acme/purged"  # a purchase that loses 70% of itself
HUGE = "huge/stars"  # past GitHub's 400-page cap
SPECS = [
    AccountSpec("github", STEADY, 6_500, 25, posts_per_day=None, following=None),
    AccountSpec(
        "github",
        PURGED,
        1_800,
        12,
        posts_per_day=None,
        following=None,
        events=(Event("burst_purchase", 60, 900, retention=0.3),),
    ),
    AccountSpec("github", HUGE, 40_300, 40, posts_per_day=None, following=None),
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    simulator = Simulator(World(SPECS, START, DAYS, seed=15), credentials={"github_token": TOKEN})
    with SimulatorServer(simulator) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorServer) -> Iterator[Simulator]:
    yield server.simulator
    server.simulator.reset()


def settings_for(server: SimulatorServer, token: str | None = TOKEN, **extra: str) -> Settings:
    environ = {
        "AUDIENCE_PLATFORMS__GITHUB__BASE_URL": f"{server.url}/github",
        "AUDIENCE_PLATFORMS__GITHUB__BACKOFF_S": "0.01",
        **extra,
    }
    if token is not None:
        environ["AUDIENCE_GITHUB_TOKEN"] = token
    return load_settings(None, environ=environ)


def stored(warehouse: Path, handle: str) -> dict[date, tuple[int, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT day, followers, source FROM snapshots WHERE platform = 'github' "
            "AND handle = ? ORDER BY day",
            [handle],
        ).fetchall()
    finally:
        con.close()
    return {d: (int(f), str(s)) for d, f, s in rows}


def simulated(sim: Simulator, handle: str) -> list[int]:
    series = sim.world._series[("github", handle)][0]
    return [int(v) for v in series]


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """`audience ARGS` in-process, on the simulated last day."""
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG", "AUDIENCE_GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: object) -> Result:
        code = main([str(a) for a in args], today=lambda: TODAY)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


# --- the simulator ---------------------------------------------------------------------------


def test_the_simulator_serves_githubs_shapes_order_links_and_cap(server: SimulatorServer) -> None:
    root = f"{server.url}/github/repos/{STEADY}/stargazers"
    ua = {"User-Agent": "test"}
    with httpx.Client(headers=ua) as client:
        timed = client.get(
            root,
            params={"per_page": 100, "page": 2},
            headers={"Accept": "application/vnd.github.star+json"},
        )
        plain = client.get(root, params={"per_page": 100, "page": 2})
        capped = client.get(root, params={"page": 401})
        default = client.get(root)
        missing = client.get(f"{server.url}/github/repos/acme/nothing/stargazers")
        bad = client.get(root, headers={"Authorization": "Bearer wrong"})
        link_next = timed.headers["link"].split(", ")[1].split(">")[0][1:]
        followed = client.get(link_next, headers={"Accept": "application/vnd.github.star+json"})
    assert timed.status_code == 200
    items = timed.json()
    assert len(items) == 100
    assert set(items[0]) == {"starred_at", "user"}
    assert items[0]["user"]["type"] == "User"
    assert "created_at" not in items[0]["user"]
    stamps = [i["starred_at"] for i in items]
    assert stamps == sorted(stamps)
    assert stamps[0].endswith("Z")
    assert [u["login"] for u in plain.json()] == [i["user"]["login"] for i in items]
    assert "starred_at" not in plain.json()[0]
    rels = [part.split('rel="')[1].rstrip('"') for part in timed.headers["link"].split(", ")]
    assert rels == ["prev", "next", "last", "first"]
    assert "/repositories/" in timed.headers["link"]  # GitHub's numeric form, served too
    assert followed.status_code == 200
    assert followed.json()[0]["starred_at"] >= stamps[-1]
    assert len(default.json()) == 30  # GitHub's default page
    assert capped.status_code == 422
    assert capped.json() == PAGE_CAP_BODY
    assert missing.status_code == 404
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"


# --- backfill --------------------------------------------------------------------------------


def test_a_full_rebuild_equals_the_simulated_history(
    server: SimulatorServer, sim: Simulator, tmp_path: Path
) -> None:
    counts = simulated(sim, STEADY)
    assert all(b >= a for a, b in itertools.pairwise(counts))  # it never lost a star
    warehouse = tmp_path / "wh.duckdb"
    summary = backfill(warehouse, settings_for(server), f"github:{STEADY}", TODAY)
    rows = stored(warehouse, STEADY)
    window = [rows[START + timedelta(days=i)][0] for i in range(DAYS)]
    assert window == counts
    assert summary.listed == counts[-1] == summary.stars
    assert summary.pages == -(-counts[-1] // 100)
    assert not summary.capped
    assert {s for _, s in rows.values()} == {SOURCE}
    before = [n for d, (n, _) in rows.items() if d < START]  # the stars before the window
    assert before == sorted(before)
    assert before[-1] <= counts[0]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM backfill_pages").fetchone() == (0,)
        assert con.execute("SELECT kind, status FROM runs").fetchall() == [("backfill", "ok")]
    finally:
        con.close()


def test_removed_stars_are_gone_from_the_list_and_from_the_rebuild(
    server: SimulatorServer, sim: Simulator, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh.duckdb"
    backfill(warehouse, settings_for(server), f"github:{PURGED}", TODAY)
    rows = stored(warehouse, PURGED)
    expected = surviving_counts(sim.world, PURGED, TODAY)
    assert {d: n for d, (n, _) in rows.items()} == expected
    counts = simulated(sim, PURGED)
    window = [rows[START + timedelta(days=i)][0] for i in range(DAYS)]
    assert window[-1] == counts[-1]
    assert all(r <= c for r, c in zip(window, counts, strict=True))
    assert sum(c - r for r, c in zip(window, counts, strict=True)) > 0  # the purge hides


def test_past_the_page_cap_the_rest_is_estimated_and_marked(
    server: SimulatorServer,
    sim: Simulator,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_github(monkeypatch, server)
    warehouse = tmp_path / "wh.duckdb"
    result = cli("--warehouse", warehouse, "backfill", f"github:{HUGE}")
    assert result.code == 0, result.err
    counts = simulated(sim, HUGE)
    rows = stored(warehouse, HUGE)
    exact = {d: n for d, (n, s) in rows.items() if s == SOURCE}
    estimated = {d: n for d, (n, s) in rows.items() if s == ESTIMATED}
    last_exact = max(d for d in exact if d < TODAY)
    surviving = surviving_counts(sim.world, HUGE, TODAY)
    assert all(exact[d] == surviving[d] for d in exact if d <= last_exact)
    assert exact[last_exact] <= 40_000 < surviving[last_exact + timedelta(days=1)]
    assert exact[TODAY] == counts[-1]  # today's count is GitHub's own
    assert sorted(estimated) == [
        last_exact + timedelta(days=k) for k in range(1, (TODAY - last_exact).days)
    ]
    values = [estimated[d] for d in sorted(estimated)]
    assert values == sorted(values)
    assert exact[last_exact] <= values[0] <= values[-1] <= counts[-1]
    assert "GitHub lists only the first 40,000 stars (400 pages)" in result.out
    assert f"written as {ESTIMATED}" in result.out
    # the first line says what is exact and what is estimated, as the table holds them
    first = result.out.splitlines()[0]
    assert (
        f": {len(rows):,} days from {min(rows)} to {TODAY}: {len(exact):,} exact ({min(rows)} "
        f"to {last_exact} and today's count, GitHub's own), {len(estimated):,} estimated; "
        f"{len(exact):,} snapshots written as {SOURCE}, {len(estimated):,} as {ESTIMATED}"
    ) in first, first


def settings_env(server: SimulatorServer, token: str | None = TOKEN) -> dict[str, str]:
    env = {
        "AUDIENCE_PLATFORMS__GITHUB__BASE_URL": f"{server.url}/github",
        "AUDIENCE_PLATFORMS__GITHUB__BACKOFF_S": "0.01",
    }
    return env | ({"AUDIENCE_GITHUB_TOKEN": token} if token else {})


def use_github(
    monkeypatch: pytest.MonkeyPatch, server: SimulatorServer, **token: str | None
) -> None:
    """The `cli` commands' environment: GitHub served by the simulator, with TOKEN (or `token`)."""
    for name, value in settings_env(server, **token).items():
        monkeypatch.setenv(name, value)


def test_the_rate_limit_is_never_exceeded(
    server: SimulatorServer, sim: Simulator, tmp_path: Path
) -> None:
    clock = FakeClock()
    sim.use_clock(clock.now)
    sim.set_limit("github", 25, 3600)
    settings = settings_for(server, AUDIENCE_PLATFORMS__GITHUB__MAX_WAIT_S="7200")
    warehouse = tmp_path / "wh.duckdb"
    summary = backfill(warehouse, settings, f"github:{STEADY}", TODAY, clock=clock)
    requests = summary.pages + 1
    assert sim.stats["github:requests"] == requests
    assert sim.stats["github:limited"] == 0  # not one request refused
    windows = -(-requests // 25)
    assert (windows - 1) * 3600 - 3600 < clock.elapsed <= (windows - 1) * 3600 + 60
    window = [stored(warehouse, STEADY)[START + timedelta(days=i)][0] for i in range(DAYS)]
    assert window == simulated(sim, STEADY)


def test_a_spent_limit_stops_with_the_cursor_kept_and_the_next_call_continues(
    server: SimulatorServer, sim: Simulator, tmp_path: Path
) -> None:
    clock = FakeClock()
    sim.use_clock(clock.now)
    sim.set_limit("github", 50, 3600)
    settings = settings_for(server, AUDIENCE_PLATFORMS__GITHUB__MAX_WAIT_S="60")
    warehouse = tmp_path / "wh.duckdb"
    with pytest.raises(PartlyDone) as stopped:
        backfill(warehouse, settings, f"github:{STEADY}", TODAY, clock=clock)
    assert "49 stargazer pages are kept in backfill_pages" in str(stopped.value)
    assert "continue from page 50" in str(stopped.value)
    assert not stored(warehouse, STEADY)  # no rebuilt day yet
    clock.t += 3600  # the next window
    summary = backfill(warehouse, settings, f"github:{STEADY}", TODAY, clock=clock)
    assert summary.pages_now == summary.pages - 49
    assert sim.stats["github:limited"] == 0
    window = [stored(warehouse, STEADY)[START + timedelta(days=i)][0] for i in range(DAYS)]
    assert window == simulated(sim, STEADY)


def test_ctrl_c_keeps_the_pages_read_and_a_second_call_gives_the_same_result(
    server: SimulatorServer, sim: Simulator, tmp_path: Path
) -> None:
    sim.set_faults("github", latency_s=0.03)
    warehouse = tmp_path / "wh.duckdb"
    env = os.environ | settings_env(server)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "audience.cli",
            "--warehouse",
            str(warehouse),
            "backfill",
            f"github:{STEADY}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while sim.stats["github:requests"] < 35 and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert child.poll() is None, "the backfill finished before it was interrupted"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert line.startswith("interrupted: ")
    assert "are kept in backfill_pages" in line
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        pages = con.execute("SELECT count(*) FROM backfill_pages").fetchone()
        assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
    finally:
        con.close()
    assert pages is not None
    assert pages[0] >= 30
    assert pages[0] % 10 == 0
    sim.set_faults("github")
    today = date.today()  # the child's today: the rebuild runs to it
    resumed = backfill(warehouse, settings_for(server), f"github:{STEADY}", today)
    assert resumed.pages_now == resumed.pages - pages[0]
    fresh = tmp_path / "fresh.duckdb"
    backfill(fresh, settings_for(server), f"github:{STEADY}", today)
    assert stored(warehouse, STEADY) == stored(fresh, STEADY)


def test_collected_and_imported_figures_are_never_overwritten(
    server: SimulatorServer,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_github(monkeypatch, server)
    warehouse = tmp_path / "wh.duckdb"
    day = START + timedelta(days=50)
    history = tmp_path / "h.csv"
    history.write_text(f"platform,handle,date,followers\ngithub,{PURGED},{day},99999\n")
    assert cli("--warehouse", warehouse, "import", history).code == 0
    result = cli("--warehouse", warehouse, "backfill", f"github:{PURGED}")
    assert result.code == 0, result.err
    rows = stored(warehouse, PURGED)
    assert rows[day] == (99999, "import:h.csv")
    assert rows[day + timedelta(days=1)][1] == SOURCE
    assert "1 day with a collected or imported figure were left as they are" in result.out
    again = cli("--warehouse", warehouse, "backfill", f"github:{PURGED}")  # a re-run: the same
    assert again.code == 0
    assert stored(warehouse, PURGED) == rows


def test_without_a_token_a_large_repository_is_refused_with_how_long_it_would_take(
    server: SimulatorServer,
    sim: Simulator,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_github(monkeypatch, server, token=None)
    clock = FakeClock()
    sim.use_clock(clock.now)
    sim.set_limit("github", 60, 3600)
    warehouse = tmp_path / "wh.duckdb"
    sim.stats.clear()
    result = cli("--warehouse", warehouse, "backfill", f"github:{STEADY}")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    pages = -(-simulated(sim, STEADY)[-1] // 100)
    assert line.startswith(f"error: github:{STEADY} has ")
    assert (
        f"{pages} pages of stargazers to read, and without a token GitHub allows 60 requests an hour (59 left now)"
        in line
    )
    assert "set AUDIENCE_GITHUB_TOKEN" in line
    assert "nothing was stored" in line
    assert not warehouse.exists()  # and nothing was: no warehouse created for a refusal
    assert sim.stats["github:requests"] == 1  # the count only
    small = cli("--warehouse", warehouse, "backfill", f"github:{PURGED}")  # 20-odd pages: fits
    assert small.code == 0, small.err


@pytest.mark.parametrize(
    ("account", "code", "says"),
    [
        (
            "github:acme/nothing",
            2,
            "error: github:acme/nothing: GitHub has no such repository (HTTP 404",
        ),
        ("github:octocat", 2, "error: backfill rebuilds a GitHub repository's stars"),
        ("x:someone", 2, "error: backfill rebuilds a GitHub repository's stars"),
        ("github:acme/../etc", 2, "error: "),
        ("nohandle", 2, "error: expected PLATFORM:HANDLE"),
    ],
)
def test_bad_accounts_get_one_line(
    server: SimulatorServer,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    account: str,
    code: int,
    says: str,
) -> None:
    use_github(monkeypatch, server)
    result = cli("--warehouse", tmp_path / "new" / "wh.duckdb", "backfill", account)
    assert result.code == code
    (line,) = result.err.strip().splitlines()
    assert line.startswith(says)
    assert "Traceback" not in result.out + result.err
    assert not (tmp_path / "new").exists()  # a refusal creates no warehouse, nor its directory


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once it is closed


@pytest.mark.parametrize("failure", ["unreachable", "failing"])
def test_an_unreachable_or_failing_github_is_partly_done_exit_3(
    server: SimulatorServer,
    sim: Simulator,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    """Not bad input (2): GitHub down or answering 5xx after the retries is "partly done" (3),
    as a spent rate limit is: run it again later; nothing half-written."""
    use_github(monkeypatch, server)
    if failure == "unreachable":  # the simulator stopped: nothing listens on its address
        url = f"http://127.0.0.1:{_closed_port()}/github"
        monkeypatch.setenv("AUDIENCE_PLATFORMS__GITHUB__BASE_URL", url)
        reason = "connection failed"
    else:
        sim.set_faults("github", error_rate=1.0)
        reason = "HTTP 5"
    warehouse = tmp_path / "new" / "wh.duckdb"
    result = cli("--warehouse", warehouse, "backfill", f"github:{STEADY}")
    assert result.code == 3, result.err
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"error: github:{STEADY}: GitHub gave no usable answer: "), line
    assert reason in line
    assert "(gave up after" in line
    assert line.endswith(f"nothing was stored: run `audience backfill github:{STEADY}` again later")
    assert not (tmp_path / "new").exists()  # and nothing was: no warehouse, nor its directory
    assert "Traceback" not in result.out + result.err


def test_a_wrong_token_is_one_line_and_never_shown_or_stored(
    server: SimulatorServer,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "wrong-token-sentinel-777"
    use_github(monkeypatch, server, token=secret)
    warehouse = tmp_path / "wh.duckdb"
    result = cli("--warehouse", warehouse, "backfill", f"github:{STEADY}")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert "Bad credentials (AUDIENCE_GITHUB_TOKEN)" in line
    assert secret not in result.out + result.err
    monkeypatch.setenv("AUDIENCE_GITHUB_TOKEN", TOKEN)
    assert cli("--warehouse", warehouse, "backfill", f"github:{PURGED}").code == 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()
            assert TOKEN.encode() not in path.read_bytes()


# --- audit -----------------------------------------------------------------------------------


def test_the_audit_of_an_untracked_repository_is_judged_on_its_rebuilt_history(
    server: SimulatorServer,
    sim: Simulator,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_github(monkeypatch, server)
    warehouse = tmp_path / "wh.duckdb"
    result = cli("--warehouse", warehouse, "audit", f"github:{PURGED}", "--format", "json")
    assert result.code == 0, result.err
    audit = json.loads(result.out)
    rows = stored(warehouse, PURGED)
    assert audit["days_observed"] == len(rows) > DAYS
    assert audit["followers"] == simulated(sim, PURGED)[-1]
    assert audit["verdict_code"] not in ("not_enough_history", "no_figure")
    limits = " ".join(audit["limits"])
    assert "was not tracked: its history was rebuilt now from the timestamps of its" in limits
    assert f"stored as {SOURCE}" in limits
    text = cli("--warehouse", warehouse, "audit", f"github:{PURGED}")  # now stored: no refetch
    assert text.code == 0, text.err
    assert "rebuilt now from the timestamps" not in text.out
    assert f"{len(rows)} " in text.out


def test_an_audit_refused_a_rebuild_creates_no_warehouse(
    server: SimulatorServer,
    sim: Simulator,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a token a repository past the hour's requests is not rebuilt (exit 4: today's
    figure only): the audit stores nothing, so it creates no warehouse."""
    use_github(monkeypatch, server, token=None)
    sim.use_clock(FakeClock().now)
    sim.set_limit("github", 60, 3600)
    warehouse = tmp_path / "new" / "wh.duckdb"
    result = cli("--warehouse", warehouse, "audit", f"github:{STEADY}")
    assert result.code == 4, result.err
    assert "could not be rebuilt from GitHub's stargazers" in result.out
    assert not (tmp_path / "new").exists()


def test_the_audit_of_a_missing_repository_gives_no_token_advice(
    server: SimulatorServer,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A repository GitHub does not have: said so, and no "set a token" advice (none helps)."""
    use_github(monkeypatch, server, token=None)
    warehouse = tmp_path / "new" / "wh.duckdb"
    result = cli("--warehouse", warehouse, "audit", "github:acme/nothing")
    assert result.code == 4, result.err
    assert "GitHub has no such repository" in result.out
    assert "AUDIENCE_GITHUB_TOKEN" not in result.out + result.err
    assert "no stargazer sample either" not in result.out
    assert not (tmp_path / "new").exists()


def test_an_audit_after_a_backfill_says_how_to_sample_its_jump_or_why_it_cannot(
    server: SimulatorServer,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_github(monkeypatch, server)
    warehouse = tmp_path / "wh.duckdb"
    assert cli("--warehouse", warehouse, "backfill", f"github:{PURGED}").code == 0
    result = cli("--warehouse", warehouse, "audit", f"github:{PURGED}", "--format", "json")
    assert result.code == 0, result.err
    audit = json.loads(result.out)
    assert audit["samples"] == []
    assert audit["sampled"] == []
    jumps = [f for f in audit["flagged"] if f["kind"] in ("spike", "drip")]
    day = max(jumps, key=lambda f: f["excess"])["day"]
    assert day == str(START + timedelta(days=60))  # the planted purchase
    (hint,) = [x for x in audit["limits"] if x.startswith("no stargazer sample")]
    assert hint.startswith(f"no stargazer sample of its largest jump ({day}), so its verdict")
    assert f"`audience audit github:{PURGED} --sample` takes one now" in hint
    monkeypatch.delenv("AUDIENCE_GITHUB_TOKEN")  # without a token: why none can be taken
    text = cli("--warehouse", warehouse, "audit", f"github:{PURGED}")
    assert text.code == 0, text.err
    limits = text.out.split("What this cannot see")[1]
    assert f"no stargazer sample of its largest jump ({day})" in limits
    assert "none can be taken now: a GitHub sample needs about 204 requests" in limits
    assert "without a token GitHub allows 60 an hour" in limits
    assert "--sample` takes one" not in limits
