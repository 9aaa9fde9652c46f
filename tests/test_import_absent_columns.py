"""Import: an optional column the file does not have means "not given" (the stored figure
stays, nothing is replaced, nothing conflicts); a blank cell in a column it has means
"unknown". A contradiction of a collected figure names where that figure came from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from tests.support.cli import Result
from tests.support.warehouse import file_digest, table_digest
from warehouse.db import open_warehouse
from warehouse.snapshots import upsert_snapshots

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
FULL = "platform,handle,date,followers,following,posts\n"
SHORT = "platform,handle,date,followers\n"


def _stored(wh: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(
            "SELECT day::VARCHAR, followers, following, posts, source FROM snapshots ORDER BY day"
        ).fetchall()


def _replacements(wh: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(
            "SELECT day::VARCHAR, figure, old_value, new_value FROM import_replacements"
        ).fetchall()


def _history(cli: Cli, write_csv: WriteCsv, wh: Path) -> None:
    history = write_csv(
        "history.csv",
        FULL + "github,octocat,2024-01-01,1000,313,315\ngithub,octocat,2024-01-02,1010,314,316\n",
    )
    assert cli("--warehouse", wh, "import", history).code == 0


def test_a_file_without_the_optional_columns_keeps_the_stored_figures(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _history(cli, write_csv, wh)

    same = cli(
        "--warehouse",
        wh,
        "import",
        write_csv("fix4.csv", SHORT + "github,octocat,2024-01-01,1000\n"),
    )
    assert same.code == 0, same.err
    assert "0 new, 0 changed, 1 unchanged" in same.out
    assert _stored(wh)[0] == ("2024-01-01", 1000, 313, 315, "import:history.csv")

    before = table_digest(wh)
    fix = write_csv("fix5.csv", SHORT + "github,octocat,2024-01-02,1020\n")
    refused = cli("--warehouse", wh, "import", fix)
    assert refused.code == 2
    assert refused.err.splitlines()[0] == (
        f"{fix}:2: followers: would replace stored figures of github:octocat on 2024-01-02 "
        "(followers 1010 -> 1020, stored by import:history.csv): add --replace to replace them"
    )
    assert table_digest(wh) == before

    done = cli("--warehouse", wh, "import", "--replace", fix)
    assert done.code == 0, done.err
    assert _stored(wh)[1] == ("2024-01-02", 1020, 314, 316, "import:fix5.csv")
    assert _replacements(wh) == [("2024-01-02", "followers", 1010, 1020)]


def test_a_file_without_posts_replaces_only_what_it_gives(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _history(cli, write_csv, wh)
    fix = write_csv(
        "fix.csv", "platform,handle,date,followers,following\ngithub,octocat,2024-01-01,1001,300\n"
    )
    done = cli("--warehouse", wh, "import", "--replace", fix)
    assert done.code == 0, done.err
    assert _stored(wh)[0] == ("2024-01-01", 1001, 300, 315, "import:fix.csv")
    assert sorted(_replacements(wh)) == [
        ("2024-01-01", "followers", 1000, 1001),
        ("2024-01-01", "following", 313, 300),
    ]


def test_a_blank_cell_in_a_column_the_file_has_is_still_unknown(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _history(cli, write_csv, wh)
    fix = write_csv("blank.csv", FULL + "github,octocat,2024-01-01,1000,,315\n")
    refused = cli("--warehouse", wh, "import", fix)
    assert refused.code == 2
    assert "(following 313 -> blank, stored by import:history.csv)" in refused.err


def test_a_new_day_from_a_short_file_and_a_twin_row_that_gives_the_figure(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    short = write_csv("short.csv", SHORT + "github,octocat,2024-01-03,1020\n")
    full = write_csv("full.csv", FULL + "github,octocat,2024-01-03,1020,7,\n")
    done = cli("--warehouse", wh, "import", short, full)
    assert done.code == 0, done.err
    assert _stored(wh) == [("2024-01-03", 1020, 7, None, "import:short.csv")]


def _collected(wh: Path) -> None:
    with open_warehouse(wh) as con:
        upsert_snapshots(
            con,
            pl.DataFrame(
                {
                    "platform": ["twitch"],
                    "handle": ["streamer_one"],
                    "day": [date(2024, 1, 5)],
                    "followers": [8301],
                    "following": [12],
                    "posts": [40],
                    "source": ["api:twitch"],
                }
            ),
        )


def test_a_contradiction_names_the_source_of_the_collected_figure(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _collected(wh)
    before, file = table_digest(wh), file_digest(wh)
    fix = write_csv("fix2.csv", SHORT + "twitch,streamer_one,2024-01-05,5800\n")
    refused = cli("--warehouse", wh, "import", "--replace", fix)
    assert refused.code == 2
    assert refused.err.splitlines()[0] == (
        f"{fix}:2: followers: followers 5800 contradicts 8301 collected by the tracker "
        "(api:twitch) for twitch:streamer_one on 2024-01-05"
    )
    assert "import:fix2.csv" not in refused.err
    assert table_digest(wh) == before
    assert file_digest(wh) == file  # "not changed": not a byte of the file


def test_figures_a_file_does_not_give_never_contradict_collected_ones(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    _collected(wh)
    same = cli(
        "--warehouse",
        wh,
        "import",
        write_csv("same.csv", SHORT + "twitch,streamer_one,2024-01-05,8301\n"),
    )
    assert same.code == 0, same.err
    assert "1 unchanged" in same.out
    assert _stored(wh) == [("2024-01-05", 8301, 12, 40, "api:twitch")]
    blank = write_csv("blank.csv", FULL + "twitch,streamer_one,2024-01-05,8301,,40\n")
    refused = cli("--warehouse", wh, "import", blank)
    assert refused.code == 2
    assert "following: following blank contradicts 12 collected by the tracker (api:twitch)" in (
        refused.err
    )
