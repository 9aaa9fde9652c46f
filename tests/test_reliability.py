"""Reliability and security: faults, hard crashes, concurrent runs, hostile input, secrets.

The drills are in drills/ (benchmarks/reliability.py runs them with larger counts and prints
figures); here each part runs small enough for the suite.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import logging
import re
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.deliver import send_alerts
from collectors.run import collect
from core.errors import ConfigError, HandleError
from core.fetched import Outcome
from core.platforms import PLATFORMS, parse_account
from core.settings import SECRET_ENV, load_settings
from drills.concurrency import concurrent_imports
from drills.crashes import crash_runs
from drills.faults import run_faults
from drills.secrets import find_sentinels, sentinel_secrets, warehouse_text
from pipeline.import_history import import_history
from simulator.histories import write_history
from simulator.server import SimulatorServer
from simulator.worlds import handle_for
from tests.support.cli import SAMPLE_AS_OF, Result
from tests.support.simulator import sim_environ
from tests.support.smtp import Inbox
from tests.support.warehouse import table_digest

Cli = Callable[..., Result]


# --- faults -----------------------------------------------------------------------------------


def test_every_account_ends_with_a_snapshot_or_a_reason_under_faults() -> None:
    r = run_faults(480)
    assert r.injected > 0.15 * r.requests  # the simulator really misbehaved
    assert sum(r.outcomes.values()) == r.accounts
    assert (r.logged, r.logged_distinct) == (r.accounts, r.accounts)
    assert r.duplicates == 0
    assert r.without_reason == 0
    assert r.stored_differs == 0  # what was stored is what was served
    assert r.snapshots == r.outcomes["ok"]


# --- crashes and concurrency ------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("history") / "history.csv", 200, 200)


@pytest.mark.parametrize("kind", ["import", "analysis"])
def test_a_hard_kill_while_writing_loses_nothing(kind: str, history: Path, tmp_path: Path) -> None:
    result = crash_runs(kind, tmp_path, history, dt.date(2024, 12, 17), times=3, seed=4)
    assert result.killed_while_running >= 2
    assert result.problems == []  # it opens, migrations hold, no duplicate or orphan rows
    assert result.partial_states == 0  # all of the write or none of it
    assert result.recovered_identical == result.attempts  # the next run completes it exactly


def test_two_writers_started_together_wait_or_are_told(history: Path, tmp_path: Path) -> None:
    other = write_history(tmp_path / "other.csv", 200, 200, seed=9, start=dt.date(2023, 6, 1))
    waiting = concurrent_imports(tmp_path, history, other, 1, 10)
    assert waiting.unclear == []
    assert waiting.both_ok == 1  # the second waited for the first
    assert waiting.rows_wrong == 0
    assert waiting.readers >= 1
    assert waiting.readers_told_busy == waiting.readers  # every reader got the one-line message
    refusing = concurrent_imports(tmp_path, history, other, pairs=2, lock_timeout_s=0, readers=0)
    assert refusing.unclear == []
    assert refusing.one_busy + refusing.both_ok == 2
    assert refusing.rows_wrong == 0


# --- hostile input ----------------------------------------------------------------------------

HOSTILE_HANDLES = [
    "robert'); DROP TABLE snapshots;--",
    "x' OR '1'='1",
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows",
    "a;rm -rf /",
    "%2e%2e%2f",
    "name\x00null",
    "name\nnewline",
    "$(reboot)",
    "",
]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_handles_that_look_like_sql_or_paths_are_rejected(platform: str) -> None:
    for bad in HOSTILE_HANDLES:
        with pytest.raises(HandleError):
            parse_account(f"{platform}:{bad}")


def test_hostile_handles_change_nothing_anywhere(cli: Cli, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    csv = tmp_path / "good.csv"
    csv.write_text("platform,handle,date,followers\ngithub,octocat,2024-01-01,5\n")
    import_history([csv], warehouse, dt.date(2024, 1, 2))
    before = table_digest(warehouse)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text(
        "platform,handle,date,followers\n"
        + "".join(
            f"github,{json.dumps(h) if ',' in h or chr(10) in h else h},2024-01-01,5\n"
            for h in HOSTILE_HANDLES
            if "\x00" not in h
        )
    )
    w = ("--warehouse", str(warehouse))
    for args in (
        ("import", str(bad_csv)),
        ("accounts", "add", "x:robert'); DROP TABLE snapshots;--"),
        ("audit", "github:../../etc/passwd"),
        ("anomalies", "--platform", "x' OR 1=1 --"),
    ):
        result = cli(*w, *args)
        assert result.code == 2, (args, result.out)
        assert "Traceback" not in result.err
    assert table_digest(warehouse) == before


JSON_KEYS = [
    "data", "errors", "profiles", "items", "statistics", "public_metrics", "business_discovery",
    "followers_count", "following_count", "statuses_count", "tweet_count", "followersCount",
    "followsCount", "postsCount", "subscriberCount", "hiddenSubscriberCount", "videoCount",
    "stargazers_count", "followers", "following", "public_repos", "subscribers", "media_count",
    "follows_count", "total", "username", "handle", "login", "acct", "did", "id", "value",
    "detail", "type", "moved", "suspended", "is_suspended", "error", "message", "reason",
    "displayName", "display_name", "name", "access_token", "kind", "snippet", "title",
]  # fmt: skip


def _json_values(handles: list[str]) -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from([*handles, "1e3", "12,000", "-5", "1.2K", ""]),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=8), inner, max_size=6),
        ),
        max_leaves=25,
    )


def _handles(platform: str) -> list[str]:
    return [handle_for(platform, i) for i in (1, 2)]


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_platform_parser_survives_any_answer(platform: str, data: st.DataObject) -> None:
    """Whatever a platform answers (any JSON, any bytes, any status), one clean outcome each."""
    handles = _handles(platform)
    status = data.draw(st.sampled_from([200, 200, 200, 400, 401, 403, 404, 410, 429, 500, 503]))
    as_json = data.draw(st.booleans())
    body = (
        json.dumps(data.draw(_json_values(handles))).encode()
        if as_json
        else data.draw(st.binary(max_size=60))
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    env = {
        f"AUDIENCE_PLATFORMS__{platform.upper()}__{k}": v
        for k, v in (("MAX_RETRIES", "0"), ("BACKOFF_S", "0"), ("MAX_WAIT_S", "0"))
    }
    env |= {var: "fuzz" for var in SECRET_ENV.values()}
    env["AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID"] = "1"
    results = collect(
        [(platform, h) for h in handles],
        load_settings(None, environ=env),
        transport=httpx.MockTransport(answer),
    )
    assert sorted(r.handle for r in results) == sorted(handles)
    for r in results:
        assert isinstance(r.outcome, Outcome)
        if r.outcome == Outcome.OK:
            assert isinstance(r.followers, int)
            assert r.followers >= 0
            for figure in (r.following, r.posts):
                assert figure is None or (isinstance(figure, int) and figure >= 0)
        else:
            assert r.followers is None
            assert r.reason


CONFIG_KEYS = [
    "warehouse", "path", "lock_timeout_s", "accounts", "platform", "handle", "tags", "platforms",
    "github", "mastodon", "youtube", "base_url", "timeout_s", "max_concurrency", "detection",
    "spike_z", "baseline_days", "alerts", "recipients", "smtp_port", "outbox", "report",
    "api_key", "token",
]  # fmt: skip


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


@settings(max_examples=200, deadline=None)
@given(
    document=st.dictionaries(
        st.sampled_from(CONFIG_KEYS),
        st.recursive(
            st.one_of(
                st.booleans(),
                st.integers(-(2**40), 2**40),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=12),
            ),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.sampled_from(CONFIG_KEYS), inner, max_size=4)
            ),
            max_leaves=12,
        ),
        max_size=5,
    ),
    raw=st.text(max_size=80),
    env=st.dictionaries(
        st.sampled_from(
            [
                "AUDIENCE_WAREHOUSE__PATH",
                "AUDIENCE_DETECTION__SPIKE_Z",
                "AUDIENCE_ALERTS__SMTP_PORT",
                "AUDIENCE_PLATFORMS__GITHUB__TIMEOUT_S",
                "AUDIENCE_ACCOUNTS",
                "AUDIENCE_X__Y__Z",
            ]
        ),
        st.text(max_size=12),
        max_size=3,
    ),
)
def test_configuration_gives_settings_or_one_clear_error(
    document: dict[str, Any],
    raw: str,
    env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("config")
    for text in (
        "\n".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in document.items()),
        raw,
    ):
        path = folder / "audience.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))  # invalid UTF-8 included
        message = _config_error(path, env)
        assert message is None or (message.strip() and "Traceback" not in message)


def _config_error(path: Path, env: dict[str, str]) -> str | None:
    """None when the settings load; the error's message when they are refused."""
    try:
        load_settings(path, environ=env)
    except ConfigError as exc:
        return str(exc)
    return None


# --- secrets and hostile account text, end to end ---------------------------------------------

HOSTILE_NAME = (
    "<script>alert('x')</script><img src=x onerror=alert(1)>\u202eevil\x1b[31m" + "A" * 5000
)


@pytest.mark.usefixtures("prefect_api")
def test_secrets_appear_nowhere_and_account_text_is_escaped(
    sim: SimulatorServer,
    smtp: tuple[Any, Inbox],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A nightly run with sentinel secrets: wrong ones for the simulator (so every error path
    runs: 401s, a refused SMTP login) and faults on YouTube (its key travels in the URL)."""
    from audience.cli import SAMPLE
    from flows.nightly import nightly

    caplog.set_level(logging.DEBUG)
    sentinels = sentinel_secrets()
    world = sim.simulator.world
    for key in (("mastodon", "carol@hachyderm.io"), ("bluesky", "newsroom.bsky.social")):
        monkeypatch.setitem(world.display_names, key, HOSTILE_NAME)
    sim.simulator.set_faults("youtube", reset_rate=0.5, error_rate=0.3)
    controller, inbox = smtp
    env = sim_environ(sim) | sentinels
    env |= {
        "AUDIENCE_ALERTS__SMTP_HOST": "localhost",
        "AUDIENCE_ALERTS__SMTP_PORT": str(controller.port),
        "AUDIENCE_ALERTS__SMTP_USER": "alerts",
        "AUDIENCE_ALERTS__SMTP_TIMEOUT_S": "3",
        "AUDIENCE_ALERTS__RECIPIENTS": '["analyst@example.org"]',
        "AUDIENCE_ALERTS__OUTBOX": str(tmp_path / "outbox"),
        "AUDIENCE_REPORT__PATH": str(tmp_path / "report.html"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "audience.toml"
    config.write_text(
        "".join(
            f'[[accounts]]\nplatform = "{p}"\nhandle = "{h}"\n'
            for p, h in (
                ("mastodon", "carol@hachyderm.io"),
                ("bluesky", "newsroom.bsky.social"),
                ("github", "janedoe"),
                ("youtube", "@cookingwithsam"),
                ("x", "growthguru"),
                ("twitch", "streamer_one"),
                ("reddit", "r/dataengineering"),
                ("instagram", "brand.studio"),
            )
        )
    )
    warehouse = tmp_path / "w.duckdb"
    import_history([SAMPLE], warehouse, SAMPLE_AS_OF)
    summary = nightly(as_of=SAMPLE_AS_OF, warehouse=str(warehouse), config=str(config))
    assert summary.collection is not None
    outcomes = summary.collection.outcomes
    assert outcomes.get("auth_failed", 0) >= 3  # the error paths ran
    # the refused SMTP login (a wrong sentinel password), then the same anomalies to an outbox
    s = load_settings(config)
    refused = send_alerts(warehouse, s, SAMPLE_AS_OF, lookback_days=366)
    assert refused.sent == 0
    assert refused.errors
    outbox = s.model_copy(update={"alerts": s.alerts.model_copy(update={"smtp_host": None})})
    written = send_alerts(warehouse, outbox, SAMPLE_AS_OF, lookback_days=366)
    assert written.sent == 1
    assert inbox.messages == []
    captured = capfd.readouterr()
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "log records": caplog.text,
        "flow summary": repr(summary),
        "alert errors": repr(refused.errors),
        "warehouse": warehouse_text(warehouse),
    }
    assert find_sentinels(sentinels, texts, [tmp_path]) == []
    control = {"control": f"Bearer {sentinels['AUDIENCE_X_BEARER_TOKEN']}"}
    assert find_sentinels(sentinels, control, []) != []  # the scan does see a leak
    # the hostile display names were stored as the platform sent them, and shown escaped
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    html_body, text_body = html_part.get_content(), text_part.get_content()
    assert "carol@hachyderm.io" in html_body
    for body in (html_body, text_body):
        assert "\u202e" not in body
        assert "\x1b" not in body
    assert "<script>" not in html_body
    assert "&lt;script&gt;" in html_body
    report = (tmp_path / "report.html").read_text()
    assert "<script>" not in report
    assert "&lt;script&gt;" in report
    assert "\u202e" not in report
    # a 5,000-character name is cut short wherever it shows (the charts' size aside)
    assert sum(len(run) for run in re.findall("A{100,}", report)) < 14 * 3_000
    assert "A" * 2_500 not in report
