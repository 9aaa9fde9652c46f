"""`audience demo`: the whole product against the simulator; it replaces only what it wrote."""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from audience.cli import SAMPLE
from pipeline.import_history import import_history
from tests.support.cli import Result
from warehouse.origin import create_demo_warehouse, finish_demo_warehouse

Cli = Callable[..., Result]


def _bytes(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


@pytest.mark.usefixtures("prefect_api")
def test_demo_runs_the_nightly_flow_against_the_simulator(cli: Cli, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    result = cli("demo")
    assert result.code == 0, result.err
    for step in ("1/4 platform simulator listening on http://127.0.0.1:", "2/4 importing", "3/4"):
        assert step in result.err  # progress, as it runs
    assert f"collected 14 accounts for {today}: 14 ok; 14 snapshots written" in result.out
    # the three purchases planted in the history; the one made today, collected tonight, is
    # under watch: too recent to know whether the new audience stays
    assert result.out.count("[SUSPECTED PURCHASE]") == 3
    assert f"[UNDER WATCH] twitch:streamer_one spike on {today}" in result.out
    for expected in (
        "x:growthguru spike",
        "mastodon:carol@hachyderm.io spike",
        "github:octo-org/widget drip",
        f"twitch:streamer_one spike on {today}",
        "[platform event] mastodon:",
        "[data artifact] instagram:brand.studio",
        "posting burst",
        "[organic]",
    ):
        assert expected in result.out
    demo = tmp_path / "demo"
    with duckdb.connect(str(demo / "audience.duckdb"), read_only=True) as con:
        sources = dict(
            con.execute(
                "SELECT split_part(source, ':', 1), count(*) FROM snapshots GROUP BY 1"
            ).fetchall()
        )
        assert sources["api"] == 14
        assert sources["import"] > 14 * 180
        assert con.execute("SELECT max(day) FROM snapshots").fetchall()[0][0] == today
        assert con.execute(
            "SELECT platform, handle, verdict FROM anomalies WHERE day = ?", [today]
        ).fetchall() == [("twitch", "streamer_one", "pending")]
    # tonight's alert is about today's jump only, under watch; the report is written
    emails = list((demo / "outbox").glob("*.eml"))
    assert len(emails) == 1
    email = emails[0].read_text()
    assert "streamer_one" in email
    assert "Under watch: too recent to judge." in email
    assert "growthguru" not in email
    assert (demo / "report.html").read_text().count("streamer_one") >= 1
    _every_hint_works(cli, result.out)
    assert cli("demo").code == 0  # starts afresh over its own earlier output
    assert len(list((demo / "outbox").glob("*.eml"))) == 1


def _every_hint_works(cli: Cli, out: str) -> None:
    """Each command the demo suggests, run as printed, gives a useful answer."""
    hints = re.findall(r"^  (audience .+)$", out.split("\ntry:\n", 1)[1], re.MULTILINE)
    assert len(hints) >= 5
    for hint in hints:
        args = shlex.split(hint)[1:]
        result = cli(*args)
        assert result.code == 0, (hint, result.err)
        assert "not tracked" not in result.out, hint
        assert len(result.out.splitlines()) >= 3, (hint, result.out)  # rows, or a page
        if "audit" in args:
            assert "tracked nightly" in result.out
            # growthguru's purchase is judged; streamer_one's, bought today, is under watch
            watched = "twitch:streamer_one" in args
            verdict = "unusual growth to review" if watched else "bought audience likely"
            assert f"Verdict: {verdict}" in result.out, hint


def test_the_demo_refuses_a_warehouse_it_did_not_create(cli: Cli, tmp_path: Path) -> None:
    prod = tmp_path / "prod.duckdb"
    import_history([SAMPLE], prod, datetime.now(UTC).date())  # real data: 14 accounts
    garbage = tmp_path / "notes.duckdb"
    garbage.write_text("not a database\n")
    before = _bytes(prod, garbage)
    for target in (prod, garbage):
        result = cli("--warehouse", target, "demo")
        assert result.code == 2, result.err
        assert result.err.count("\n") == 1
        assert f"demo refused, nothing was touched: {str(target)!r} is " in result.err
        assert "give --warehouse a path where no file exists yet" in result.err
        assert "Traceback" not in result.err
    assert _bytes(prod, garbage) == before
    assert not (tmp_path / "demo").exists()


def test_the_demo_refuses_files_it_did_not_write(cli: Cli, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    (demo / "outbox").mkdir(parents=True)
    report, email = demo / "report.html", demo / "outbox" / "mine.eml"
    report.write_text("<p>my own report</p>")
    email.write_text("Subject: mine\n\nkeep me\n")
    before = _bytes(report, email)
    result = cli("demo")
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1
    assert "is not a file the demo wrote" in result.err
    assert "audience demo --folder NEW_FOLDER" in result.err
    report.unlink()  # the email alone is refused too
    assert cli("demo").code == 2
    assert _bytes(email) == before[1:]
    assert sorted(p.name for p in demo.rglob("*")) == ["mine.eml", "outbox"]


def test_the_demo_refuses_its_warehouse_once_others_wrote_to_it(cli: Cli, tmp_path: Path) -> None:
    warehouse = tmp_path / "demo" / "audience.duckdb"
    create_demo_warehouse(warehouse)
    finish_demo_warehouse(warehouse)  # what the demo does, with nothing in between
    import_history([SAMPLE], warehouse, datetime.now(UTC).date())  # then someone's import
    before = _bytes(warehouse)
    result = cli("demo")
    assert result.code == 2
    assert "holds data the demo did not write (2,983 snapshots and 14 accounts" in result.err
    assert "the demo left 0 and 0" in result.err
    assert _bytes(warehouse) == before


def test_a_demo_stopped_on_the_way_leaves_a_folder_the_next_demo_takes(
    cli: Cli, tmp_path: Path
) -> None:
    """Killed (SIGTERM) after writing its history and before its end: its record lists what it
    had written, so the next demo replaces it; anything else there is still refused."""
    import json

    demo = tmp_path / "demo"
    demo.mkdir()
    history = demo / "history.csv"
    history.write_text("platform,handle,date,followers\n")
    digest = hashlib.sha256(history.read_bytes()).hexdigest()
    record = {"written_by": "audience demo", "warehouse": str(demo / "audience.duckdb")}
    marker = demo / ".audience-demo.json"
    for files in ({}, {"history.csv": digest}):  # stopped before, and after, its first file
        marker.write_text(json.dumps(record | {"files": files}))
        if not files:
            history.rename(tmp_path / "aside.csv")
        from audience.demo import DemoFiles, refusal

        assert refusal(DemoFiles(demo, demo / "audience.duckdb")) is None
        if not files:
            (tmp_path / "aside.csv").rename(history)
    marker.write_text(json.dumps({"files": {"history.csv": digest}}))  # not the demo's record
    assert "is not the demo's record" in str(refusal(DemoFiles(demo, demo / "audience.duckdb")))
