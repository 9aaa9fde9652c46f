"""`audience audit ACCOUNT --sample` (issue 15.2) over real HTTP against the simulator: the
jump's followers and ordinary days' are sampled on demand and shown in the audit's text, JSON
and HTML page ("Who arrived"); a purchase shows its bought share, an organic jump a share like
its baseline's; a sampled follower's id stays in the warehouse's sample table (never in the
log, the report, the audit, the anomalies or the other exported tables); bad input is one line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from audience.cli import main
from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from tests.support.cli import Result

START = date(2024, 1, 1)
DAYS = 100
TODAY = START + timedelta(days=DAYS - 1)
JUMP = 70
BOUGHT = "bought.bsky.social"
VIRAL = "viral.bsky.social"
SPECS = [
    AccountSpec(
        "bluesky", BOUGHT, 2_000, 6, events=(Event("burst_purchase", JUMP, 600, retention=0.9),)
    ),
    AccountSpec("bluesky", VIRAL, 2_000, 6, events=(Event("viral", JUMP, 60),)),
]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(World(SPECS, START, DAYS, seed=7))) as running:
        yield running


@pytest.fixture
def warehouse(server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG", "AUDIENCE_GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUDIENCE_PLATFORMS__BLUESKY__BASE_URL", f"{server.url}/bluesky")
    monkeypatch.setenv("AUDIENCE_PLATFORMS__BLUESKY__BACKOFF_S", "0.01")
    rows = ["platform,handle,date,followers,posts"]
    for spec in SPECS:
        history = server.simulator.world.history("bluesky", spec.handle)
        assert history is not None
        rows += [
            f"bluesky,{spec.handle},{START + timedelta(days=d)},{n},{'' if p is None else p}"
            for d, (n, p) in enumerate(zip(*history, strict=True))
        ]
    csv = tmp_path / "h.csv"
    csv.write_text("\n".join(rows) + "\n")
    wh = tmp_path / "wh.duckdb"
    import_history([csv], wh, TODAY)
    run_analysis(wh, load_settings(None), TODAY)
    return wh


def audience(capsys: pytest.CaptureFixture[str], *args: object) -> Result:
    code = main([str(a) for a in args], today=lambda: TODAY)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def _jump(audit: dict[str, object]) -> dict[str, object]:
    samples = audit["samples"]
    assert isinstance(samples, list)
    (jump,) = [s for s in samples if s["kind"] == "jump"]
    assert isinstance(jump, dict)
    return jump


def test_audit_sample_shows_the_bought_share_of_a_purchase(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "audit.html"
    result = audience(
        capsys, "--warehouse", warehouse, "audit", f"bluesky:{BOUGHT}", "--sample",
        "--format", "json", "--html", page,
    )  # fmt: skip
    assert result.code == 0, result.err
    audit = json.loads(result.out)
    jump = _jump(audit)
    assert jump["status"] == "done"
    assert jump["day"] == str(START + timedelta(days=JUMP))
    assert jump["size"] == 100
    assert jump["share"] >= 0.5 > 0.15 >= jump["baseline_share"]
    assert jump["share_low"] <= jump["share"] <= jump["share_high"]
    assert audit["sampled"] == ["sampled now from bluesky (audit --sample)"]
    assert audit["verdict_code"] == "bought_audience_likely"
    html = page.read_text()
    assert "Who arrived (follower samples)" in html
    assert "look inauthentic" in html
    assert "of ordinary days" in html
    # the text page words the same sample (stored: no new sample taken without --sample)
    text = audience(capsys, "--warehouse", warehouse, "audit", f"bluesky:{BOUGHT}")
    assert text.code == 0, text.err
    who = text.out.split("Who arrived (follower samples)")[1]
    assert f"{jump['flagged']} of 100 look inauthentic" in who
    assert "against" in who
    assert "of ordinary days'" in who


def test_audit_sample_of_an_organic_jump_is_like_its_baseline(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = audience(
        capsys,
        "--warehouse",
        warehouse,
        "audit",
        f"bluesky:{VIRAL}",
        "--sample",
        "--format",
        "json",
    )
    assert result.code == 0, result.err
    audit = json.loads(result.out)
    jump = _jump(audit)
    assert jump["status"] == "done"
    assert jump["share"] <= 0.2
    assert abs(jump["share"] - jump["baseline_share"]) <= 0.15
    assert audit["verdict_code"] != "bought_audience_likely"


def test_sampled_followers_stay_in_the_sample_table(
    warehouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sampled = audience(capsys, "--warehouse", warehouse, "audit", f"bluesky:{BOUGHT}", "--sample")
    assert sampled.code == 0, sampled.err
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ids = [r[0] for r in con.sql("SELECT follower_id FROM follower_samples").fetchall()]
    assert len(ids) >= 100
    report = tmp_path / "report.html"
    outputs = [
        sampled,
        audience(capsys, "--warehouse", warehouse, "audit", f"bluesky:{BOUGHT}", "--format", "json"),
        audience(capsys, "--warehouse", warehouse, "anomalies", "--format", "json"),
        audience(capsys, "--warehouse", warehouse, "accounts", "list", "--format", "json"),
        audience(capsys, "--warehouse", warehouse, "report", "--output", report),
        audience(
            capsys, "--warehouse", warehouse, "export", "--format", "csv",
            "--output", tmp_path / "export",
        ),
    ]  # fmt: skip
    assert [r.code for r in outputs] == [0] * len(outputs), [r.err for r in outputs]
    texts = {"stdout and stderr": " ".join(r.out + r.err for r in outputs)}
    texts["log"] = " ".join(record.getMessage() for record in caplog.records)
    texts["report"] = report.read_text()
    exported = sorted((tmp_path / "export").iterdir())
    assert any(f.name.startswith("follower_samples") for f in exported)
    for f in exported:
        if not f.name.startswith("follower_samples"):
            texts[f.name] = f.read_text()
    follower = ids[0]
    assert follower in (tmp_path / "export" / "follower_samples.csv").read_text()
    leaked = [where for where, text in texts.items() if any(i in text for i in ids)]
    assert leaked == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x:growthguru", "--sample"], "x gives no follower list ordered in time"),
        (["github:octocat", "--sample"], "does not document the order of a user's followers"),
        (["github:acme/rocket", "--sample"], "without a token GitHub allows 60"),
        ([f"bluesky:{BOUGHT}", "--sample", "--as-of", str(START)], "cannot be used with --as-of"),
    ],
)
def test_audit_sample_refuses_bad_input_in_one_line(
    warehouse: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.sql("SELECT count(*) FROM sample_summaries").fetchall()
    result = audience(capsys, "--warehouse", warehouse, "audit", *args)
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert result.err.startswith("error: ")
    assert words in result.err
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM sample_summaries").fetchall() == before
