from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import duckdb
import pytest

from audience.cli import cli as root
from tests.conftest import Result, table_digest

Cli = Callable[..., Result]
GOOD = (
    "platform,handle,date,followers\ngithub,octocat,2024-01-01,100\ngithub,octocat,2024-01-02,101\n"
)


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", [p for p, _ in _commands(root)], ids=" ".join)
def test_every_command_has_help(cli: Cli, path: tuple[str, ...]) -> None:
    command = dict(_commands(root))[path]
    assert len((command.help or "").strip()) > 20, f"{' '.join(path)} lacks help text"
    result = cli(*path, "--help")
    assert result.code == 0
    assert "Usage: audience" in result.out


def test_import_then_query(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    imported = cli("import", "h.csv")
    assert imported.code == 0, imported.err
    assert "imported 2 rows for 1 accounts into warehouse/audience.duckdb: 2 new" in imported.out
    assert (tmp_path / "warehouse" / "audience.duckdb").exists()
    result = cli(
        "query", "SELECT handle, max(followers) AS f FROM snapshots GROUP BY ALL", "--format", "csv"
    )
    assert result.out == "handle,f\noctocat,101\n"


@pytest.mark.parametrize("where", ["before", "after"])
def test_warehouse_option_before_or_after_the_command(cli: Cli, tmp_path: Path, where: str) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    target = tmp_path / "elsewhere.duckdb"
    args = (
        ["--warehouse", str(target), "import", "h.csv"]
        if where == "before"
        else ["import", "h.csv", "--warehouse", str(target)]
    )
    assert cli(*args).code == 0
    assert target.exists()
    assert not (tmp_path / "warehouse").exists()


def test_warehouse_from_the_environment(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    monkeypatch.setenv("AUDIENCE_WAREHOUSE", str(tmp_path / "env.duckdb"))
    assert cli("import", "h.csv").code == 0
    assert (tmp_path / "env.duckdb").exists()


def test_refused_import_prints_problems_and_exits_non_zero(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    before = table_digest(tmp_path / "warehouse" / "audience.duckdb")
    (tmp_path / "bad.csv").write_text(
        "platform,handle,date,followers\ngithub,octocat,2024-01-03,-4\n"
    )
    result = cli("import", "bad.csv")
    assert result.code == 2
    assert result.err.splitlines() == [
        "bad.csv:2: followers: negative count '-4'",
        "import refused: 1 problem; the warehouse was not changed",
    ]
    assert table_digest(tmp_path / "warehouse" / "audience.duckdb") == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["accounts", "add", "github:a b"], "error: malformed github handle 'a b'"),
        (["accounts", "add", "octocat"], "error: expected PLATFORM:HANDLE"),
        (["anomalies"], "error: no warehouse at warehouse/audience.duckdb"),
        (["anomalies", "--platform", "myspace"], "error: unknown platform 'myspace'"),
        (
            ["run", "--as-of", "2024-13-01"],
            "Invalid value for '--as-of': '2024-13-01' is not a date",
        ),
    ],
)
def test_errors_are_one_clear_line(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_query_is_read_only(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    result = cli("query", "DELETE FROM snapshots")
    assert result.code == 2
    assert result.err == (
        "error: query refused: DELETE statements are not allowed; "
        "query only reads (SELECT, WITH, FROM, VALUES, SHOW, DESCRIBE, SUMMARIZE)\n"
    )
    assert cli("query", "SELECT count(*) AS n FROM snapshots", "--format", "csv").out == "n\n2\n"


def test_accounts_add_list_remove(cli: Cli) -> None:
    assert (
        cli(
            "accounts", "add", "github:Octocat", "mastodon:@Gargron@mastodon.social", "--tag", "dev"
        ).code
        == 0
    )
    listed = cli("accounts", "list", "--format", "csv").out.splitlines()
    assert listed[0] == "platform,handle,tracked,status,first_seen,last_seen,latest_followers,tags"
    assert "github,octocat,cli,active,,,,dev" in listed
    assert cli("accounts", "remove", "github:octocat").code == 0
    assert "github,octocat,no,active,,,,dev" in cli("accounts", "list", "--format", "csv").out
    missing = cli("accounts", "remove", "x:nobody")
    assert (missing.code, missing.err.strip()) == (2, "error: x:nobody is not in the warehouse")


def test_run_analyses_imported_history(cli: Cli, tmp_path: Path, prefect_api: None) -> None:
    from audience.cli import SAMPLE

    assert cli("import", str(SAMPLE)).code == 0
    result = cli("run", "--skip-collect")
    assert result.code == 0, result.err
    assert "analysed 14 accounts through 2024-12-31 (full)" in result.out
    again = cli("run", "--skip-collect")
    assert "(incremental)" in again.out
    assert ", 0 new," in again.out
    suspected = cli("anomalies", "--suspected", "--format", "json")
    assert suspected.out.count('"suspected_purchase": true') == 3


@pytest.mark.usefixtures("prefect_api")
def test_demo_runs_the_nightly_flow_against_the_simulator(cli: Cli, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    result = cli("demo")
    assert result.code == 0, result.err
    for step in ("1/4 platform simulator listening on http://127.0.0.1:", "2/4 importing", "3/4"):
        assert step in result.err  # progress, as it runs
    assert f"collected 14 accounts for {today}: 14 ok; 14 snapshots written" in result.out
    # the three purchases planted in the history, and the one made today, collected tonight
    assert result.out.count("[SUSPECTED PURCHASE]") == 4
    for expected in (
        "x:growthguru spike",
        "mastodon:carol@hachyderm.io spike",
        "github:octo-org/widget drip",
        f"twitch:streamer_one spike on {today}",
        "[platform event] mastodon:",
        "[data artifact] instagram:brand.studio",
        "posting burst",
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
            "SELECT platform, handle FROM anomalies WHERE suspected_purchase AND day = ?", [today]
        ).fetchall() == [("twitch", "streamer_one")]
    # tonight's alert is about today's purchase only; the report is written
    emails = list((demo / "outbox").glob("*.eml"))
    assert len(emails) == 1
    email = emails[0].read_text()
    assert "streamer_one" in email
    assert "growthguru" not in email
    assert (demo / "report.html").read_text().count("streamer_one") >= 1
    for query in re.findall(r'query "([^"]+)"', result.out):  # the queries it suggests work
        assert cli("--warehouse", str(demo / "audience.duckdb"), "query", query).code == 0
    assert cli("demo").code == 0  # starts afresh
    assert len(list((demo / "outbox").glob("*.eml"))) == 1


def test_console_script_runs_without_a_traceback(tmp_path: Path) -> None:
    """The installed `audience` script, as a user runs it, in another process."""
    script = Path(sys.executable).parent / "audience"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIENCE_")}
    done = subprocess.run(
        [str(script), "import", "missing.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip().splitlines()[0]
        == "missing.csv: file: cannot open: No such file or directory"
    )
    assert "Traceback" not in done.stderr


def test_large_import_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """stderr on a real pseudo-terminal: the bar is drawn; piped (the other tests): it is not."""
    import pty

    rows = "".join(
        f"github,user{i % 5000},2024-{1 + i // 5000 % 12:02d}-{1 + i // 60000:02d},{i}\n"
        for i in range(150_000)
    )
    (tmp_path / "big.csv").write_text("platform,handle,date,followers\n" + rows)
    assert (tmp_path / "big.csv").stat().st_size > 4 << 20
    leader, follower = pty.openpty()
    script = Path(sys.executable).parent / "audience"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIENCE_")} | {
        "COLUMNS": "100"
    }
    with subprocess.Popen(
        [str(script), "import", "big.csv"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    ) as proc:
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
        out, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0
    assert "imported 150,000 rows" in out
    assert b"importing" in drawn
    assert "\u2501".encode() in drawn  # the bar itself


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_every_table(cli: Cli, tmp_path: Path, fmt: str) -> None:
    import polars as pl

    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    result = cli("export", "--format", fmt, "--output", str(tmp_path / "out"))
    assert result.code == 0, result.err
    assert "snapshots (2 rows)" in result.out
    read = pl.read_parquet if fmt == "parquet" else pl.read_csv
    snapshots = read(tmp_path / "out" / f"snapshots.{fmt}")
    assert snapshots.get_column("followers").to_list() == [100, 101]
    assert {p.stem for p in (tmp_path / "out").iterdir()} >= {
        "accounts",
        "anomalies",
        "daily_metrics",
        "runs",
    }
