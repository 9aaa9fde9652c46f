from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import duckdb
import pytest

from audience.cli import cli as root
from simulator.server import SimulatorServer
from tests.support.cli import SAMPLE_AS_OF, Result
from tests.support.simulator import sim_environ
from tests.support.warehouse import file_digest, table_digest
from warehouse.db import open_warehouse

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
    assert "imported 2 rows for 1 account into warehouse/audience.duckdb: 2 new" in imported.out
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


def test_a_warehouse_path_under_a_file_is_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "note").write_text("mine\n")
    target = tmp_path / "note" / "audience.duckdb"
    result = cli("--warehouse", str(target), "accounts", "add", "github:octocat")
    assert (result.code, result.err) == (
        2,
        f"error: cannot make the warehouse's folder {tmp_path / 'note'}: a file stands where "
        "a folder is needed\n",
    )
    assert (tmp_path / "note").read_text() == "mine\n"


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
        # a line break or a tab is refused, not trimmed; the value is quoted as written
        (["accounts", "add", "github:octocat\n"], "malformed github handle 'octocat\\n'"),
        (["accounts", "add", "github:\toctocat"], "malformed github handle '\\toctocat'"),
        (["accounts", "add", "GitHub\x1b:Octocat"], "unknown platform 'GitHub\\x1b'"),
        (["anomalies", "--platform", "X\x1b"], "unknown platform 'X\\x1b'"),
        (["anomalies"], "error: no warehouse at warehouse/audience.duckdb"),
        (["anomalies", "--platform", "myspace"], "error: unknown platform 'myspace'"),
        (
            ["run", "--as-of", "2024-13-01"],
            "Invalid value for '--as-of': no such day in the calendar: '2024-13-01'",
        ),
        # forms date.fromisoformat takes but the import (and the help) do not
        (["report", "--as-of", "20241201"], "'20241201' is not a date in YYYY-MM-DD form"),
        (["audit", "x:a", "--as-of", "2024-W49-4"], "'2024-W49-4' is not a date in YYYY-MM-DD"),
        (["anomalies", "--since", "2024-1-01"], "'2024-1-01' is not a date in YYYY-MM-DD form"),
        (["run", "--as-of", "9" * 5000], "'9999999999999999999999999999999999999999'... (5,000"),
    ],
)
def test_errors_are_one_clear_line(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_settings_problems_are_a_line_each(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "audience.toml").write_text(
        '[[accounts]]\nplatform = "github"\nhandle = "a b"\n'
        '[[accounts]]\nplatform = "x"\nhandle = "\\u001b[2J"\n'
    )
    result = cli("accounts", "list")
    assert result.code == 2
    assert result.err.splitlines() == [
        "error: audience.toml: accounts.0.handle: malformed github handle 'a b': expected "
        "something like octocat or owner/repo",
        "error: audience.toml: accounts.1.handle: malformed x handle '\\x1b[2J': expected "
        "something like xdevelopers",
    ]


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


def test_query_csv_keeps_values_exactly_when_piped_and_shows_them_on_a_terminal(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored display name may hold anything: piped CSV is the data (a terminal escape was
    silently dropped), a terminal gets it visible, never acted on (it was written raw)."""
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    sql = "SELECT 'a' || chr(27) || '[2J' || chr(8238) || 'b' AS \"n\u202e\""
    assert cli("query", sql, "--format", "csv").out == "n\u202e\na\x1b[2J\u202eb\n"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert cli("query", sql, "--format", "csv").out == "n\\u202e\na\\x1b[2J\\u202eb\n"


@pytest.mark.parametrize(
    ("tag", "named"),
    [
        ("\x1b[31m", "tag '\\x1b[31m' holds a control or format character"),
        ("team\u202eevil", "tag 'team\\u202eevil' holds a control or format character"),
        ("a\u200bb", "tag 'a\\u200bb' holds a control or format character"),
        ("line\nbreak", "tag 'line\\nbreak' holds a control or format character"),
        ("", "tag '' is empty"),
        ("   ", "tag '   ' is empty"),
        ("x" * 5000, f"tag '{'x' * 64}...' is 5,000 characters long"),
        ("y" * 65, f"tag '{'y' * 64}...' is 65 characters long"),
    ],
)
def test_accounts_add_refuses_a_tag_it_could_not_show(
    cli: Cli, tmp_path: Path, tag: str, named: str
) -> None:
    assert cli("accounts", "add", "github:octocat", "--tag", "dev").code == 0
    before = table_digest(tmp_path / "warehouse" / "audience.duckdb")
    result = cli("accounts", "add", "github:torvalds", "--tag", "ok", "--tag", tag)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err  # one line
    assert result.err.startswith(f"error: {named}: a tag is 1 to 64 characters"), result.err
    assert result.err.rstrip().endswith("(nothing was stored)")
    _no_raw_controls(result.err)
    assert table_digest(tmp_path / "warehouse" / "audience.duckdb") == before


def test_accounts_add_keeps_a_tag_of_64_printable_characters(cli: Cli) -> None:
    tags = ("z" * 64, "équipe 2", "🚀 launch")
    args = [arg for tag in tags for arg in ("--tag", tag)]
    assert cli("accounts", "add", "github:octocat", *args).code == 0
    listed = json.loads(cli("accounts", "list", "--format", "json").out)
    assert listed[0]["tags"] == ",".join(tags)


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
    (warehouse,) = Path.cwd().glob("**/*.duckdb")
    before = warehouse.read_bytes()
    missing = cli("accounts", "remove", "mastodon:gargron@mastodon.social", "x:nobody")
    assert (missing.code, missing.err.strip()) == (
        2,
        "error: x:nobody is not in the warehouse warehouse/audience.duckdb (nothing was changed)",
    )
    # one the settings file lists is removed there: the refusal names the file
    Path("audience.toml").write_text('[[accounts]]\nplatform = "x"\nhandle = "listed"\n')
    listed_there = cli("accounts", "remove", "x:listed")
    assert (listed_there.code, listed_there.err.strip()) == (
        2,
        "error: x:listed is listed in the settings file audience.toml; remove it there "
        "(nothing was changed)",
    )
    # refused whole: the file's bytes as they were, the known account of the list still tracked
    assert warehouse.read_bytes() == before
    assert "mastodon,gargron@mastodon.social,cli," in cli("accounts", "list", "--format", "csv").out


def test_run_analyses_imported_history(cli: Cli, tmp_path: Path, prefect_api: None) -> None:
    from audience.cli import SAMPLE

    assert cli("import", str(SAMPLE)).code == 0
    result = cli("run", "--skip-collect")
    assert result.code == 0, result.err
    assert "analysed 14 accounts through 2024-12-31 (full)" in result.out
    # nothing new since: the analysis is kept as it is, and says so
    again = cli("run", "--skip-collect")
    assert again.code == 0, again.err
    assert re.search(
        r"^analysis: unchanged since \d{4}-\d\d-\d\d \d\d:\d\d UTC: nothing new to analyse "
        r"\(analysed through 2024-12-31\)$",
        again.out,
        re.MULTILINE,
    ), again.out
    assert "analysed 14 accounts" not in again.out
    suspected = cli("anomalies", "--suspected", "--format", "json")
    assert suspected.out.count('"suspected_purchase": true') == 3


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


# --- query: read-only for real (issue 12, point 2) ---------------------------------------------

HOSTILE_QUERIES = [
    "COPY (SELECT 'x') TO 'precious.txt'",
    "COPY snapshots TO 'dump.csv'",
    "EXPORT DATABASE 'dump'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SELECT * FROM read_text('/etc/shadow')",
    "SELECT * FROM glob('/root/*')",
    "SELECT count(*) FROM read_csv('precious.txt')",
    "SELECT (SELECT count(*) FROM read_blob('/etc/passwd')) AS n",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "PRAGMA enable_profiling",
    "SET profiling_output = 'profile.txt'",
    "ATTACH 'other.duckdb' AS other",
    "ATTACH ':memory:' AS scratch",
    "DETACH audience",
    "USE memory",
    "CREATE TEMP TABLE t AS SELECT 1",
    "DELETE FROM snapshots",
    "CHECKPOINT",
    "CALL pragma_version()",
    "SELECT 1; COPY (SELECT 'x') TO 'precious.txt'",
    "SELECT 1; SELECT 2",
    "UPDATE EXTENSIONS",
]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("sql", HOSTILE_QUERIES)
def test_query_refuses_anything_but_reading_the_warehouse(
    cli: Cli, tmp_path: Path, sql: str
) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    assert cli("import", "h.csv").code == 0
    (tmp_path / "precious.txt").write_text("precious\n")
    before = _tree(tmp_path)
    result = cli("query", sql)
    assert result.code == 2, result.out
    assert result.out == ""
    assert len(result.err.splitlines()) == 1, result.err
    assert result.err.startswith(("error: query refused: ", "error: query failed: ")), result.err
    assert "Traceback" not in result.err
    assert _tree(tmp_path) == before  # the existing file unchanged, no new file, same warehouse


@pytest.mark.parametrize("sql", ["", ";", " \n\t ", ";;", "/* only a comment */"])
def test_query_without_a_statement_is_refused_in_one_line(
    cli: Cli, tmp_path: Path, sql: str
) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    result = cli("query", sql)
    assert (result.code, result.err) == (
        2,
        'error: query refused: no SQL statement given (e.g. audience query "SELECT * FROM accounts")\n',
    )


def test_query_lockdown_holds_even_without_the_statement_check(tmp_path: Path) -> None:
    """The DuckDB settings alone refuse what the statement check also refuses, and stay locked."""
    from audience.cli import QUERY_LOCKDOWN

    path = tmp_path / "w.duckdb"
    with open_warehouse(path):
        pass
    (tmp_path / "precious.txt").write_text("precious\n")
    before = _tree(tmp_path)
    con = duckdb.connect(str(path), read_only=True)
    for setting in QUERY_LOCKDOWN:
        con.execute(setting)
    for sql in [*HOSTILE_QUERIES[:19], "RESET ALL", "SET temp_directory = '.'"]:
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration', 'autoinstall_known_extensions', "
            "'autoload_known_extensions', 'temp_directory')"
        ).fetchall()
    )
    con.close()
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "temp_directory": "",
    }
    assert _tree(tmp_path) == before


def test_query_still_reads_everything_in_the_warehouse(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    for sql, n in (
        ("WITH s AS (SELECT * FROM snapshots) SELECT count(*) AS n FROM s", 2),
        ("FROM snapshots SELECT count(*) AS n", 2),
        ("SELECT count(*) AS n FROM (SHOW TABLES) WHERE name = 'snapshots'", 1),
        ("SELECT count(*) AS n FROM (DESCRIBE snapshots) WHERE column_name = 'followers'", 1),
        ("SELECT count(*) AS n FROM snapshots;", 2),  # one trailing ';' is one statement
    ):
        result = cli("query", sql, "--format", "csv")
        assert (result.code, result.out) == (0, f"n\n{n}\n"), (sql, result.err)
    assert cli("query", "SUMMARIZE snapshots").code == 0
    assert cli("query", "DESCRIBE snapshots").code == 0


# --- what query and anomalies print (issue 12, points 11 and 16) -------------------------------


def test_query_prints_whole_numbers_as_integers(cli: Cli, tmp_path: Path) -> None:
    """daily_metrics keeps followers as DOUBLE (gap days are interpolated): 9033, not 9033.0."""
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    sql = "SELECT * FROM (VALUES (9033.0::DOUBLE, 0.5::DOUBLE), (NULL, 1.0)) v(followers, share)"
    table = cli("query", sql)
    assert "9033 " in table.out
    assert "9033.0" not in table.out
    assert "0.5" in table.out  # a column with a fraction keeps its decimals
    assert cli("query", sql, "--format", "csv").out == "followers,share\n9033,0.5\n,1.0\n"
    rows = json.loads(cli("query", sql, "--format", "json").out)
    assert rows == [{"followers": 9033, "share": 0.5}, {"followers": None, "share": 1.0}]
    # sum() of BIGINT is a DECIMAL/HUGEINT: a JSON number, not a string; odd types do not fail
    summed = json.loads(
        cli(
            "query",
            "SELECT sum(followers) AS s, true AS b, DATE '2024-01-02' AS d, INTERVAL 1 DAY AS i "
            "FROM snapshots",
            "--format",
            "json",
        ).out
    )
    assert summed == [{"s": 201, "b": True, "d": "2024-01-02", "i": "1 day, 0:00:00"}]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample, imported and analysed (no GX: the margins are the same rules)."""
    from audience.cli import SAMPLE
    from core.settings import load_settings
    from pipeline.analyse import run_analysis
    from pipeline.import_history import import_history

    path = tmp_path_factory.mktemp("cli") / "audience.duckdb"
    import_history([SAMPLE], path, SAMPLE_AS_OF)
    run_analysis(path, load_settings(None, environ={}), SAMPLE_AS_OF)
    return path


def test_anomalies_json_and_csv_carry_machine_values(cli: Cli, analysed: Path) -> None:
    result = cli("--warehouse", str(analysed), "anomalies", "--format", "json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert rows
    for row in rows:
        assert isinstance(row["thresholds"], dict), row["thresholds"]
        assert isinstance(row["suspected_purchase"], bool)
        assert isinstance(row["score"], int | float)
        assert date.fromisoformat(row["day"])
        assert datetime.fromisoformat(row["detected_at"])
    csv_out = cli("--warehouse", str(analysed), "anomalies", "--format", "csv").out
    flags = {line.split(",")[5] for line in csv_out.splitlines()[1:]}
    assert flags == {"true", "false"}
    one = cli("--warehouse", str(analysed), "anomalies", "--platform", "github", "--suspected")
    assert one.err.strip().splitlines()[-1] == "1 anomaly"  # not "1 anomalies"
    # the platform is named as in an account (GitHub:owner/repo): any case, spaces around
    same = cli("--warehouse", str(analysed), "anomalies", "--platform", " GitHub ", "--suspected")
    assert (same.out, same.err) == (one.out, one.err)


def test_anomalies_show_each_verdict_and_confidence(cli: Cli, analysed: Path) -> None:
    import csv
    import io

    with duckdb.connect(str(analysed), read_only=True) as con:
        stored = {
            (str(day), platform, handle, kind): (verdict, confidence)
            for day, platform, handle, kind, verdict, confidence in con.execute(
                "SELECT day, platform, handle, kind, verdict, confidence FROM anomalies"
            ).fetchall()
        }
    assert stored
    rows = json.loads(cli("--warehouse", str(analysed), "anomalies", "--format", "json").out)
    shown = {
        (r["day"], r["platform"], r["handle"], r["kind"]): (r["verdict"], r["confidence"])
        for r in rows
    }
    assert shown == stored
    csv_out = cli("--warehouse", str(analysed), "anomalies", "--format", "csv").out
    records = list(csv.DictReader(io.StringIO(csv_out)))
    assert {
        (r["day"], r["platform"], r["handle"], r["kind"]): (r["verdict"], r["confidence"] or None)
        for r in records
    } == stored
    table = cli("--warehouse", str(analysed), "anomalies").out
    header = table.splitlines()[1]
    assert "verdict" in header, header
    assert "confidence" in header, header


def test_audit_json_has_a_verdict_code_and_no_answer_exits_4(cli: Cli, analysed: Path) -> None:
    def audit(account: str) -> tuple[int, str]:
        result = cli(
            "--warehouse", str(analysed), "audit", account, "--as-of", str(SAMPLE_AS_OF),
            "--format", "json",
        )  # fmt: skip
        return result.code, json.loads(result.out)["verdict_code"]

    assert audit("x:growthguru") == (0, "bought_audience_likely")
    assert audit("mastodon:bob@fosstodon.org") == (0, "no_sign_of_bought_audience")
    short = cli(
        "--warehouse", str(analysed), "audit", "x:growthguru", "--as-of", "2024-06-05",
    )  # fmt: skip
    assert short.code == 4, short.out  # 2 days of history: no answer yet
    assert "not enough history yet" in short.out


# --- exit statuses (issue 12, point 11) --------------------------------------------------------


@pytest.mark.usefixtures("prefect_api")
def test_run_exits_3_when_an_account_is_not_found(
    cli: Cli, tmp_path: Path, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sim_environ(sim).items():
        monkeypatch.setenv(name, value)
    (tmp_path / "audience.toml").write_text(
        '[[accounts]]\nplatform = "github"\nhandle = "octo-org/widget"\n'
        '[[accounts]]\nplatform = "bluesky"\nhandle = "newsroom.bsky.social"\n'
        '[[accounts]]\nplatform = "x"\nhandle = "nobody_at_all"\n'
        f'[report]\npath = "{tmp_path / "report.html"}"\n'
    )
    result = cli("run", "--as-of", str(SAMPLE_AS_OF))
    assert "2 ok, 1 not_found" in result.out
    assert result.code == 3, result.err
    assert "1 account not collected tonight" in result.err
    # a run for an earlier day never cuts the analysis of the days after it
    (warehouse,) = tmp_path.glob("**/*.duckdb")

    def analysed() -> list[tuple[object, ...]]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(
                "SELECT (SELECT count(*) FROM daily_metrics), (SELECT max(day) FROM daily_metrics),"
                " (SELECT analysed_through FROM analysis_state)"
            ).fetchall()

    before, file = analysed(), file_digest(warehouse)
    assert before[0][0] > 0
    again = cli("run", "--skip-collect", "--as-of", "1900-01-01")
    assert again.code == 2, again.err
    assert again.err.count("\n") == 1
    assert f"'1900-01-01' is before the newest figures stored ({SAMPLE_AS_OF})" in again.err
    # collecting a past day that has figures would store today's counts over them
    earlier = SAMPLE_AS_OF - timedelta(days=1)
    for day in (earlier, SAMPLE_AS_OF):
        refused = cli("run", "--as-of", str(day))
        assert refused.code == 2, refused.err
        assert f"'{day}' is a past day the warehouse already has figures for" in refused.err
    assert file_digest(warehouse) == file  # read as a reader: not a byte changed
    assert analysed() == before


def test_an_unexpected_error_is_one_line_with_exit_1(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.platforms

    def broken(spec: str) -> tuple[str, str]:
        raise RuntimeError("boom\x1b[2J\nsecond line")

    monkeypatch.setattr(core.platforms, "parse_account", broken)  # a bug, injected
    monkeypatch.delenv("AUDIENCE_DEBUG", raising=False)
    result = cli("accounts", "add", "github:octocat")
    assert (result.code, result.err) == (
        1,
        "internal error: RuntimeError: boom\\x1b[2J (a bug; set AUDIENCE_DEBUG=1 to see the "
        "traceback)\n",
    )
    monkeypatch.setenv("AUDIENCE_DEBUG", "1")
    debug = cli("accounts", "add", "github:octocat")
    assert debug.code == 1
    assert debug.err.startswith("Traceback (most recent call last):")
    assert debug.err.splitlines()[-1].startswith("internal error: RuntimeError: boom")


def test_readme_documents_the_exit_table() -> None:
    from core.errors import ExitStatus

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for status in ExitStatus:
        assert re.search(rf"^\| `?{status.value}`? \|", readme, re.MULTILINE), status


# --- escaped echoes (issue 12, point 5) --------------------------------------------------------

HOSTILE_TEXT = ("\x1b]52;c;aGVsbG8=\x07", "esc\x1b[2Juser", "\u202eevil")


def _no_raw_controls(text: str) -> None:
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in text, repr(text)


def test_shown_escapes_what_a_terminal_would_act_on() -> None:
    from core.errors import shown

    assert shown("esc\x1b[2Juser") == "esc\\x1b[2Juser"
    assert shown("\x1b]52;c;aGk=\x07") == "\\x1b]52;c;aGk=\\x07"
    assert shown("a\u202eb\u2066c\u200fd\u061ce") == "a\\u202eb\\u2066c\\u200fd\\u061ce"
    assert shown("\x7f\x9b\x00\t\n") == "\\x7f\\x9b\\x00\\t\\n"  # DEL, C1 CSI, NUL, tab, newline
    assert shown("caf\u00e9 \U0001f600 \\x1b") == "caf\u00e9 \U0001f600 \\x1b"  # kept as it is
    assert shown(shown("esc\x1b[2J")) == shown("esc\x1b[2J")  # never escaped twice


def test_import_errors_show_control_characters_escaped(cli: Cli, tmp_path: Path) -> None:
    osc, clear, rtl = HOSTILE_TEXT
    (tmp_path / "bad.csv").write_text(
        "platform,handle,date,followers\n"
        f"github,{clear},2024-01-01,1\n"
        f"{osc},octocat,2024-01-01,1\n"
        f"github,octocat,2024-01-0{rtl},1\n"
    )
    result = cli("import", "bad.csv")
    assert result.code == 2
    _no_raw_controls(result.err)
    assert "esc\\x1b[2Juser" in result.err  # handles and platforms shown as written
    assert "\\x1b]52;c;aGVsbG8=\\x07" in result.err
    assert "\\u202e" in result.err
    assert (
        result.err.splitlines()[-1] == "import refused: 3 problems; the warehouse was not changed"
    )


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_command_errors_show_control_characters_escaped(
    cli: Cli, tmp_path: Path, text: str
) -> None:
    (tmp_path / "h.csv").write_text(GOOD)
    cli("import", "h.csv")
    for args in (
        ["accounts", "add", f"github:{text}"],
        ["accounts", "add", f"{text}:octocat"],
        ["audit", f"x:{text}"],
        ["anomalies", "--platform", text],
        ["query", f'SELECT * FROM "{text}"'],
        ["import", f"{text}.csv"],
    ):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        _no_raw_controls(result.err)
        assert ("\\x1b" if "\x1b" in text else "\\u202e") in result.err, (args, result.err)
