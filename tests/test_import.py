from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from core.errors import ImportRejected, WarehouseError
from pipeline.import_history import import_history
from tests.support.warehouse import table_digest
from warehouse.db import open_warehouse
from warehouse.snapshots import upsert_snapshots

TODAY = date(2026, 11, 22)
HEADER = "platform,handle,date,followers,following,posts\n"
GOOD = HEADER + (
    "github,octocat,2024-01-01,100,9,\n"
    "github,octocat,2024-01-02,105,9,\n"
    "mastodon,@Gargron@Mastodon.Social,2024-01-01,318699,453,61013\n"
)

WriteCsv = Callable[..., Path]


def _rows(path: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT platform, handle, day::VARCHAR, followers, following, posts, source FROM snapshots ORDER BY ALL"
        ).fetchall()


def test_import_loads_rows_with_their_source(write_csv: WriteCsv, warehouse_path: Path) -> None:
    summary = import_history([write_csv("history.csv", GOOD)], warehouse_path, TODAY)
    assert (summary.rows, summary.accounts, summary.written.inserted) == (3, 2, 3)
    assert _rows(warehouse_path) == [
        ("github", "octocat", "2024-01-01", 100, 9, None, "import:history.csv"),
        ("github", "octocat", "2024-01-02", 105, 9, None, "import:history.csv"),
        (
            "mastodon",
            "gargron@mastodon.social",
            "2024-01-01",
            318699,
            453,
            61013,
            "import:history.csv",
        ),
    ]
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        assert con.execute(
            "SELECT handle, first_seen::VARCHAR, last_seen::VARCHAR, tracked FROM accounts ORDER BY 1"
        ).fetchall() == [
            ("gargron@mastodon.social", "2024-01-01", "2024-01-01", False),
            ("octocat", "2024-01-01", "2024-01-02", False),
        ]
        assert con.execute("SELECT kind, status FROM runs").fetchall() == [("import", "ok")]
        assert con.execute("SELECT file_name, rows FROM imports").fetchall() == [("history.csv", 3)]


def test_reimport_and_identical_duplicates_are_harmless(
    write_csv: WriteCsv, warehouse_path: Path
) -> None:
    path = write_csv("history.csv", GOOD + "github,octocat,2024-01-02,105,9,\n")
    first = import_history([path], warehouse_path, TODAY)
    assert first.duplicates == 1
    before = _rows(warehouse_path)
    again = import_history([path], warehouse_path, TODAY)
    assert (again.written.inserted, again.written.updated, again.written.unchanged) == (0, 0, 3)
    assert _rows(warehouse_path) == before


def test_a_corrected_file_replaces_imported_figures_only_with_replace(
    write_csv: WriteCsv, warehouse_path: Path
) -> None:
    import_history([write_csv("history.csv", GOOD)], warehouse_path, TODAY)
    before = table_digest(warehouse_path)
    fixed_csv = write_csv("fixed.csv", HEADER + "github,octocat,2024-01-02,106,9,\n")
    with pytest.raises(ImportRejected) as info:
        import_history([fixed_csv], warehouse_path, TODAY)
    assert str(info.value.problems[0]) == (
        f"{fixed_csv}:2: followers: would replace stored figures of github:octocat on 2024-01-02 "
        "(followers 105 -> 106, stored by import:history.csv): add --replace to replace them"
    )
    assert table_digest(warehouse_path) == before
    fixed = import_history([fixed_csv], warehouse_path, TODAY, replace=True)
    assert (fixed.written.inserted, fixed.written.updated, fixed.replaced) == (0, 1, 1)
    assert ("github", "octocat", "2024-01-02", 106, 9, None, "import:fixed.csv") in _rows(
        warehouse_path
    )


def test_blank_in_one_row_and_a_value_in_its_twin_is_not_a_conflict(
    write_csv: WriteCsv, warehouse_path: Path
) -> None:
    a = write_csv("a.csv", "platform,handle,date,followers\ngithub,octocat,2024-01-01,100\n")
    b = write_csv("b.csv", HEADER + "github,octocat,2024-01-01,100,9,\n")
    import_history([a, b], warehouse_path, TODAY)
    assert _rows(warehouse_path) == [
        ("github", "octocat", "2024-01-01", 100, 9, None, "import:a.csv")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "platform,handle,followers\ngithub,octocat,1\n",
            "bad.csv:1: date: required column is missing",
            id="missing-column",
        ),
        pytest.param(
            "platform,handle,date,followers,likes\n",
            "bad.csv:1: likes: unknown column (allowed: platform, handle, date, followers, following, posts, views)",
            id="unknown-column",
        ),
        pytest.param(
            "platform,handle,date,followers,followers\n",
            "bad.csv:1: followers: column appears twice",
            id="duplicate-column",
        ),
        pytest.param("", "bad.csv:1: header: empty file: expected a header row", id="empty-file"),
        pytest.param(
            "github,octocat,2024-01-01,100\ngithub,octocat,2024-01-02,101\n",
            "bad.csv:1: header: no header row: the first line 'github,octocat,2024-01-01,100' "
            "names none of the columns; it must be the header (platform,handle,date,followers, "
            "then any of following,posts,views)",
            id="no-header-row",
        ),
        pytest.param(
            HEADER, "bad.csv: no data rows below the header: nothing to import", id="header-only"
        ),
        pytest.param(
            HEADER + "myspace,tom,2024-01-01,5,,\n",
            "bad.csv:2: platform: unknown platform 'myspace' (supported: bluesky, github, instagram, mastodon, reddit, twitch, x, youtube)",
            id="unknown-platform",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-02-30,5,,\n",
            "bad.csv:2: date: no such day in the calendar: '2024-02-30'",
            id="impossible-date",
        ),
        pytest.param(
            HEADER + "github,octocat,01/02/2024,5,,\n",
            "bad.csv:2: date: not a date in YYYY-MM-DD form: '01/02/2024'",
            id="us-date",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-1-2,5,,\n",
            "bad.csv:2: date: not a date in YYYY-MM-DD form: '2024-1-2'",
            id="unpadded-date",
        ),
        pytest.param(
            HEADER + "github,octocat,2027-01-01,5,,\n",
            "bad.csv:2: date: date is in the future (today is 2026-11-22): 2027-01-01",
            id="future-date",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,-5,,\n",
            "bad.csv:2: followers: negative count '-5'",
            id="negative",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,-0,,\n",
            "bad.csv:2: followers: a count is written without a sign: '-0'",
            id="minus-zero",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,+5,,\n",
            "bad.csv:2: followers: a count is written without a sign: '+5'",
            id="plus-sign",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,-007,,\n",
            "bad.csv:2: followers: negative count '-007'",
            id="negative-padded",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,5.5,,\n",
            "bad.csv:2: followers: not a whole number: '5.5'",
            id="fraction",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,1e3,,\n",
            "bad.csv:2: followers: not a whole number: '1e3'",
            id="exponent",
        ),
        pytest.param(
            HEADER + 'github,octocat,2024-01-01,"1,000",,\n',
            "bad.csv:2: followers: not a whole number: '1,000'",
            id="thousands-separator",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,,,\n",
            "bad.csv:2: followers: required value is missing",
            id="missing-followers",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,5,-1,\n",
            "bad.csv:2: following: negative count '-1'",
            id="negative-optional",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,99999999999999999999,,\n",
            "bad.csv:2: followers: implausibly large count (more than 15 digits)",
            id="overflow",
        ),
        pytest.param(
            HEADER + "github,a b,2024-01-01,5,,\n",
            "bad.csv:2: handle: malformed github handle 'a b'",
            id="bad-handle",
        ),
        pytest.param(
            HEADER + "x,x'); DROP TABLE snapshots;--,2024-01-01,5,,\n",
            "bad.csv:2: handle: malformed x handle",
            id="sql-handle",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,5\n",
            "bad.csv:2: row: expected 6 fields, found 4",
            id="short-row",
        ),
        pytest.param(
            HEADER + "github,octocat,2024-01-01,5,,\ngithub,octocat,2024-01-01,6,,\n",
            "bad.csv:3: date: conflicts with ",
            id="conflicting-duplicate",
        ),
        pytest.param(
            HEADER + 'github,"octo\ncat",2024-01-01,5,,\n',
            "bad.csv:2: row: a quoted field spans lines (not allowed)",
            id="multiline-field",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    write_csv: WriteCsv, warehouse_path: Path, text: str, expected: str
) -> None:
    import_history([write_csv("history.csv", GOOD)], warehouse_path, TODAY)
    before = table_digest(warehouse_path)
    bad = write_csv("bad.csv", text)
    with pytest.raises(ImportRejected) as info:
        import_history([bad], warehouse_path, TODAY)
    shown = info.value.describe()
    assert shown.startswith(str(bad.parent / expected)), shown
    assert shown.endswith("the warehouse was not changed")
    assert table_digest(warehouse_path) == before


def test_conflict_names_both_places_and_figures(write_csv: WriteCsv, warehouse_path: Path) -> None:
    a = write_csv("a.csv", HEADER + "github,octocat,2024-01-01,5,,\n")
    b = write_csv("b.csv", HEADER + "github,Octocat,2024-01-01,6,,\n")
    with pytest.raises(ImportRejected) as info:
        import_history([a, b], warehouse_path, TODAY)
    assert str(info.value.problems[0]) == (
        f"{b}:2: date: conflicts with {a}:2 for the same account and day (followers 5 vs 6)"
    )
    assert not warehouse_path.exists()


def test_a_good_file_is_not_loaded_beside_a_bad_one(
    write_csv: WriteCsv, warehouse_path: Path
) -> None:
    good = write_csv("good.csv", GOOD)
    bad = write_csv("bad.csv", HEADER + "github,octocat,2024-01-09,-1,,\n")
    with pytest.raises(ImportRejected):
        import_history([good, bad], warehouse_path, TODAY)
    assert not warehouse_path.exists()


def test_many_problems_show_the_first_twenty_then_a_count(
    write_csv: WriteCsv, warehouse_path: Path
) -> None:
    rows = "".join(f"github,octocat,2024-01-{d:02d},-{d},,\n" for d in range(1, 31))
    with pytest.raises(ImportRejected) as info:
        import_history([write_csv("bad.csv", HEADER + rows)], warehouse_path, TODAY)
    lines = info.value.describe().splitlines()
    assert len(lines) == 22
    assert lines[0].endswith("bad.csv:2: followers: negative count '-1'")
    assert lines[19].endswith("bad.csv:21: followers: negative count '-20'")
    assert lines[20] == "... and 10 more problems"
    assert info.value.total == 30


def test_missing_file_is_reported(tmp_path: Path, warehouse_path: Path) -> None:
    with pytest.raises(
        ImportRejected, match=r"nope.csv: file: cannot open: No such file or directory"
    ):
        import_history([tmp_path / "nope.csv"], warehouse_path, TODAY)


def test_bom_crlf_and_padding_are_accepted(write_csv: WriteCsv, warehouse_path: Path) -> None:
    text = "\ufeffPlatform, Handle ,date,followers\r\n GitHub , octocat ,2024-01-01, 7 \r\n"
    import_history([write_csv("win.csv", text)], warehouse_path, TODAY)
    assert _rows(warehouse_path) == [
        ("github", "octocat", "2024-01-01", 7, None, None, "import:win.csv")
    ]


def test_line_numbers_stay_exact_across_blocks(
    write_csv: WriteCsv, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collectors.history_files.BLOCK_BYTES", 64)  # many small blocks
    rows = [f"github,user{i},2024-01-01,{i},,\n" for i in range(50)]
    rows[37] = "github,user37,2024-01-01,oops,,\n"
    with pytest.raises(ImportRejected) as info:
        import_history([write_csv("h.csv", HEADER + "".join(rows))], warehouse_path, TODAY)
    assert [p.line for p in info.value.problems] == [39]


def test_import_never_overwrites_what_the_tracker_collected(
    write_csv: WriteCsv, warehouse_path: Path
) -> None:
    import polars as pl

    with open_warehouse(warehouse_path) as con:
        upsert_snapshots(
            con,
            pl.DataFrame(
                {
                    "platform": ["github"],
                    "handle": ["octocat"],
                    "day": [date(2024, 1, 1)],
                    "followers": [100],
                    "source": ["api:github"],
                }
            ),
        )
    before = table_digest(warehouse_path)
    with pytest.raises(ImportRejected, match="contradicts 100 collected by the tracker"):
        import_history(
            [write_csv("h.csv", HEADER + "github,octocat,2024-01-01,90,,\n")], warehouse_path, TODAY
        )
    assert table_digest(warehouse_path) == before
    same = import_history(
        [write_csv("same.csv", HEADER + "github,octocat,2024-01-01,100,,\n")], warehouse_path, TODAY
    )
    assert same.written.unchanged == 1


def _snapshots_definition(path: Path) -> tuple[object, ...]:
    with duckdb.connect(str(path), read_only=True) as con:
        return (
            con.execute(
                "SELECT sql FROM duckdb_tables() WHERE table_name = 'snapshots'"
            ).fetchall(),
            con.execute(
                "SELECT constraint_type, constraint_text FROM duckdb_constraints() "
                "WHERE table_name = 'snapshots' ORDER BY ALL"
            ).fetchall(),
            con.execute(
                "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                "WHERE table_name = 'snapshots' ORDER BY ordinal_position"
            ).fetchall(),
            con.execute("SELECT table_name FROM duckdb_tables() ORDER BY ALL").fetchall(),
        )


def test_a_first_import_keeps_the_snapshots_contract_and_its_key(
    write_csv: WriteCsv, tmp_path: Path, warehouse_path: Path
) -> None:
    """A first import loads `snapshots` without its key and builds the key at the end (much
    faster for millions of rows): the table must come out exactly as a fresh warehouse has it,
    its key enforced, and later imports must go through the ordinary path."""
    fresh = tmp_path / "fresh" / "audience.duckdb"
    with open_warehouse(fresh):
        pass
    import_history([write_csv("history.csv", GOOD)], warehouse_path, TODAY)
    assert _snapshots_definition(warehouse_path) == _snapshots_definition(fresh)
    with duckdb.connect(str(warehouse_path)) as con:
        with pytest.raises(duckdb.ConstraintException, match=r"[Dd]uplicate key"):
            con.execute(
                "INSERT INTO snapshots (platform, handle, day, followers, observed_at, source) "
                "VALUES ('github', 'octocat', '2024-01-01', 1, now(), 'x')"
            )
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            con.execute(
                "INSERT INTO snapshots (platform, handle, day, followers, observed_at, source) "
                "VALUES (NULL, 'octocat', '2024-01-05', 1, now(), 'x')"
            )
    more = import_history(
        [write_csv("more.csv", HEADER + "github,octocat,2024-01-03,107,9,\n")],
        warehouse_path,
        TODAY,
    )
    assert more.written.inserted == 1
    assert len(_rows(warehouse_path)) == 4


def test_a_first_import_that_fails_late_leaves_the_empty_table_as_it_was(
    write_csv: WriteCsv, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_warehouse(warehouse_path):
        pass
    before = _snapshots_definition(warehouse_path)
    digest = table_digest(warehouse_path)

    def fail(*_: object) -> None:
        raise duckdb.IOException("disk full (injected)")

    monkeypatch.setattr("pipeline.import_history.record_import_file", fail)
    with pytest.raises(WarehouseError, match="rolled back"):
        import_history([write_csv("history.csv", GOOD)], warehouse_path, TODAY)
    assert _snapshots_definition(warehouse_path) == before
    assert table_digest(warehouse_path) == digest


def test_an_interruption_inside_a_registered_frame_stays_an_interruption() -> None:
    """After Ctrl-C DuckDB's transaction is aborted, and unregistering a frame fails too; that
    failure must not replace the interruption (it was reported as a failed import, exit 2)."""
    import polars as pl

    from warehouse.query import registered

    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
        con.execute("INSERT INTO t VALUES (1)")
        con.execute("BEGIN")

        def interrupted_in_an_aborted_transaction() -> None:
            with registered(con, "_x", pl.DataFrame({"a": [1]})):
                with pytest.raises(duckdb.ConstraintException):
                    con.execute("INSERT INTO t SELECT a FROM _x")  # the transaction is aborted
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            interrupted_in_an_aborted_transaction()
        con.execute("ROLLBACK")
        with registered(con, "_x", pl.DataFrame({"a": [2]})):
            assert con.execute("SELECT a FROM _x").fetchall() == [(2,)]
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM _x")  # dropped after the block


@pytest.mark.parametrize("went_through", [True, False], ids=["after-commit", "before-commit"])
def test_ctrl_c_during_the_commit_says_whether_the_import_is_in(
    write_csv: WriteCsv,
    warehouse_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    went_through: bool,
) -> None:
    """Ctrl-C while DuckDB commits can come once the commit went through: the import is then
    in the warehouse (and its rejects file stays), and the message must not say otherwise."""
    from core.errors import Interrupted
    from warehouse.db import commit

    def interrupted_commit(con: duckdb.DuckDBPyConnection) -> None:
        if went_through:
            commit(con)
        raise KeyboardInterrupt

    monkeypatch.setattr("pipeline.import_history.commit", interrupted_commit)
    source = write_csv("history.csv", GOOD + "github,bad handle!,2024-01-01,5,,\n")
    if went_through:
        with pytest.raises(Interrupted, match=r"only once the import was committed.*3 rows"):
            import_history([source], warehouse_path, TODAY, skip_invalid=True)
        assert len(_rows(warehouse_path)) == 3
        assert (tmp_path / "history.rejects.csv").exists()
    else:
        with open_warehouse(warehouse_path):
            pass
        digest = table_digest(warehouse_path)
        with pytest.raises(KeyboardInterrupt):
            import_history([source], warehouse_path, TODAY, skip_invalid=True)
        assert table_digest(warehouse_path) == digest
        assert not (tmp_path / "history.rejects.csv").exists()
