"""Real third-party files (issue 12, point 14): legacy names, --skip-invalid with a rejects
file, and files that are not UTF-8 or not comma-separated, through the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import Result
from tests.support.warehouse import table_digest

Cli = Callable[..., Result]
WriteCsv = Callable[..., Path]
HEADER = "platform,handle,date,followers\n"


def _handles(warehouse: Path) -> list[tuple[str, str, int]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            (str(p), str(h), int(f))
            for p, h, f in con.execute(
                "SELECT platform, handle, followers FROM snapshots ORDER BY ALL"
            ).fetchall()
        ]


def test_a_real_list_of_top_subreddits_with_legacy_names_imports(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    rows = [
        "reddit,r/reddit.com,2024-01-01,1200000",  # the legacy site-wide subreddit
        "reddit,r/AskReddit,2024-01-01,40000000",
        "reddit,r/de,2024-01-01,700000",  # a two-letter language subreddit
        "x,AlanWakeTheSeries,2024-01-01,50000",  # a historical 17-character X handle
        "youtube,GoogleDevelopers,2024-01-01,2400000",  # a legacy YouTube username
    ]
    wh = tmp_path / "wh.duckdb"
    result = cli("--warehouse", wh, "import", write_csv("top.csv", HEADER + "\n".join(rows) + "\n"))
    assert result.code == 0, result.err
    assert [h for _, h, _ in _handles(wh)] == [
        "r/askreddit",
        "r/de",
        "r/reddit.com",
        "alanwaketheseries",
        "GoogleDevelopers",
    ]


BAD_ROWS = (
    HEADER
    + "github,octocat,2024-01-01,100\n"  # 2
    + "github,octocat,2024-01-02,-5\n"  # 3: negative
    + "reddit,r/../../etc,2024-01-01,5\n"  # 4: a path
    + "github,octocat,2024-01-03,5,6,7\n"  # 5: a long record
    + "github,hubot,2024-01-01,7\n"  # 6
    + "github,octocat,2024-01-01,101\n"  # 7: conflicts with line 2
)


def test_skip_invalid_loads_the_valid_rows_and_writes_the_rest_to_a_rejects_file(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    source = write_csv("third-party.csv", BAD_ROWS)
    refused = cli("--warehouse", wh, "import", source)  # the default stays all or nothing
    assert refused.code == 2
    assert not wh.exists()

    result = cli("--warehouse", wh, "import", "--skip-invalid", source)
    assert result.code == 0, result.err
    rejects = tmp_path / "third-party.rejects.csv"
    assert "2 rows for 2 accounts" in result.out
    assert f"4 rows refused, written to {rejects}" in result.out
    assert result.err.splitlines()[:4] == [
        f"refused {source}:3: followers: negative count '-5'",
        f"refused {source}:4: handle: malformed reddit handle 'r/../../etc'",
        f"refused {source}:5: row: expected 4 fields, found 6",
        f"refused {source}:7: date: conflicts with {source}:2 for the same account and day "
        "(followers 100 vs 101)",
    ]
    assert _handles(wh) == [("github", "hubot", 7), ("github", "octocat", 100)]
    assert rejects.read_text().splitlines() == [
        "platform,handle,date,followers,source_line,reason",
        "github,octocat,2024-01-02,-5,3,followers: negative count '-5'",
        "reddit,r/../../etc,2024-01-01,5,4,handle: malformed reddit handle 'r/../../etc'",
        'github,octocat,2024-01-03,5,6,7,5,"row: expected 4 fields, found 6"',
        "github,octocat,2024-01-01,101,7,"
        f"date: conflicts with {source}:2 for the same account and day (followers 100 vs 101)",
    ]


FULL = "platform,handle,date,followers,following,posts\n"


def test_a_record_short_of_fields_is_refused_and_never_erases_a_stored_figure(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """Polars reads a short record's missing cells as unknown: a later row short of its posts
    went in with posts unknown, and with --replace erased the stored figure."""
    wh = tmp_path / "wh.duckdb"
    first = write_csv("first.csv", FULL + "twitch,base_acct,2024-01-01,10,1,3\n")
    assert cli("--warehouse", wh, "import", first).code == 0
    before = table_digest(wh)
    short = write_csv(
        "short.csv",
        FULL + "twitch,other_acct,2024-01-01,1,1,1\n" + "twitch,base_acct,2024-01-01,12\n",
    )
    for extra in ([], ["--replace"]):
        result = cli("--warehouse", wh, "import", *extra, short)
        assert result.code == 2, result.err
        assert f"{short}:3: row: expected 6 fields, found 4" in result.err
        assert table_digest(wh) == before


def test_blank_lines_are_skipped_and_every_problem_of_a_block_read_exactly_is_listed(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    clean = write_csv("clean.csv", HEADER + '"x","q1","2024-01-01","5"\nx,q1,2024-01-02,6\n\n')
    result = cli("--warehouse", wh, "import", clean)
    assert result.code == 0, result.err
    assert _handles(wh) == [("x", "q1", 5), ("x", "q1", 6)]
    bad = write_csv(
        "bad.csv",
        HEADER
        + '"x","q2","2024-01-01","5"\n'  # 2
        + 'x,"q3\nmore",2024-01-01,5\n'  # 3-4: a record over two lines
        + "\n"  # 5: blank
        + "x,bad handle,2024-01-01,5\n"  # 6
        + "x,q4,2024-01-01,-1\n"  # 7
        + "x,q5,2024-01-01,"
        + "9" * 200_000
        + ",1\n",  # 8: a long field, a record too long
    )
    refused = cli("--warehouse", wh, "import", bad)
    assert refused.code == 2, refused.err
    assert [line.split(": ", 1)[0] for line in refused.err.splitlines()[:4]] == [
        f"{bad}:3",
        f"{bad}:6",
        f"{bad}:7",
        f"{bad}:8",
    ]
    assert "a quoted field spans lines" in refused.err
    assert "expected 4 fields, found 5" in refused.err
    assert _handles(wh) == [("x", "q1", 5), ("x", "q1", 6)]


def test_skip_invalid_of_a_file_whose_every_record_is_malformed_writes_them_all_out(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    source = write_csv("ragged.csv", HEADER + "x,a,2024-01-01\nx,b,2024-01-01,1,2\nx,c\n")
    result = cli("--warehouse", wh, "import", "--skip-invalid", source)
    assert result.code == 2, result.err
    assert "every row had a problem (3 rows refused" in result.err
    assert "no data rows" not in result.err
    assert len((tmp_path / "ragged.rejects.csv").read_text().splitlines()) == 4
    assert not wh.exists()


def test_a_refused_record_over_several_lines_goes_whole_to_the_rejects_file(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    """A record whose quoted field spans lines is refused; the rejects file must hold all of
    its lines, or the record is lost and the rejects file itself is no longer a CSV (its
    reason would be read as part of the open quoted field)."""
    spanning = 'x,"q3\r\nmore, and ""quoted""\nstill",2024-01-01,5\n'  # lines 3-5
    source = write_csv(
        "span.csv",
        HEADER + "x,q1,2024-01-01,5\n" + spanning + "x,q4,2024-01-01,-1\nx,q5,2024-01-01,6\n",
    )
    result = cli("--warehouse", tmp_path / "wh.duckdb", "import", "--skip-invalid", source)
    assert result.code == 0, result.err
    written = (tmp_path / "span.rejects.csv").read_bytes()
    assert spanning.rstrip("\n").encode() in written  # its lines and line breaks as they were
    records = list(csv.reader(io.StringIO(written.decode(), newline="")))
    assert [r[-2] for r in records[1:]] == ["3", "6"]
    assert records[1][:4] == ["x", 'q3\r\nmore, and "quoted"\nstill', "2024-01-01", "5"]
    assert records[2][:4] == ["x", "q4", "2024-01-01", "-1"]
    assert _handles(tmp_path / "wh.duckdb") == [("x", "q1", 5), ("x", "q5", 6)]


def test_the_rejects_file_escapes_the_reason_and_keeps_the_line_as_read(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    hostile = "x,new\x1b[31macct\x07,2024-01-01,5\ny\u202e,octocat,2024-01-01,5\n"
    source = write_csv("hostile.csv", HEADER + "github,octocat,2024-01-01,100\n" + hostile)
    result = cli("--warehouse", tmp_path / "wh.duckdb", "import", "--skip-invalid", source)
    assert result.code == 0, result.err
    written = (tmp_path / "hostile.rejects.csv").read_text()
    records = list(csv.reader(io.StringIO(written)))
    reasons = [r[-1] for r in records[1:]]
    assert reasons == [
        "handle: malformed x handle 'new\\x1b[31macct\\x07'",
        "platform: unknown platform 'y\\u202e' (supported: bluesky, github, instagram, "
        "mastodon, reddit, twitch, x, youtube)",
    ]
    assert all(r.isprintable() for r in reasons)
    # the same escaping as the error lines on stderr
    assert f"refused {source}:3: {reasons[0]}" in result.err.splitlines()
    # the lines themselves as they were read, to be fixed and imported again
    assert [",".join(r[:-2]) for r in records[1:]] == hostile.splitlines()
    assert [r[-2] for r in records[1:]] == ["3", "4"]


def test_skip_invalid_writes_the_rejects_where_asked_and_leaves_out_stored_conflicts(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    cli(
        "--warehouse",
        wh,
        "import",
        write_csv("first.csv", HEADER + "github,octocat,2024-01-01,100\n"),
    )
    source = write_csv(
        "second.csv", HEADER + "github,octocat,2024-01-01,90\ngithub,octocat,2024-01-02,101\n"
    )
    target = tmp_path / "out" / "refused.csv"
    target.parent.mkdir()
    result = cli("--warehouse", wh, "import", "--skip-invalid", "--rejects", target, source)
    assert result.code == 0, result.err
    assert f"1 row refused, written to {target}" in result.out
    assert (
        target.read_text()
        .splitlines()[1]
        .startswith('github,octocat,2024-01-01,90,2,"followers: would replace stored figures')
    )
    assert _handles(wh) == [("github", "octocat", 100), ("github", "octocat", 101)]
    assert not (tmp_path / "second.rejects.csv").exists()


def test_rejects_may_not_overwrite_an_input(cli: Cli, write_csv: WriteCsv, tmp_path: Path) -> None:
    source = write_csv("h.csv", BAD_ROWS)
    result = cli(
        "--warehouse",
        tmp_path / "wh.duckdb",
        "import",
        "--skip-invalid",
        "--rejects",
        source,
        source,
    )
    assert result.code == 2
    assert "is an input file" in result.err
    assert source.read_text() == BAD_ROWS


@pytest.mark.parametrize(
    ("encoding", "prefix", "looks_like"),
    [
        pytest.param("utf-16", b"", "UTF-16", id="utf-16-with-bom"),
        pytest.param("utf-16-le", b"", "UTF-16", id="utf-16-without-bom"),
        pytest.param("utf-16-be", b"", "UTF-16", id="utf-16-be-without-bom"),
    ],
)
def test_utf16_files_are_named_as_such(
    cli: Cli, tmp_path: Path, encoding: str, prefix: bytes, looks_like: str
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(prefix + (HEADER + "github,octocat,2024-01-01,5\n").encode(encoding))
    result = cli("--warehouse", tmp_path / "wh.duckdb", "import", path)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"{path}: not UTF-8 text (looks like {looks_like}): save it as UTF-8",
        "import refused: 1 problem; the warehouse was not changed",
    ]


def test_archives_and_binary_files_are_named_for_what_they_are(cli: Cli, tmp_path: Path) -> None:
    import gzip
    import zipfile

    text = (HEADER + "github,octocat,2024-01-01,5\n").encode()
    gz, zipped, binary = tmp_path / "h.csv.gz", tmp_path / "h.zip", tmp_path / "h.bin"
    gz.write_bytes(gzip.compress(text))
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("h.csv", text)
    binary.write_bytes(b"\x07\x00\x9c\x12\x00\x00\xff\x00abc\n")
    for path, said in [
        (gz, "not a CSV file but a gzip archive: give the CSV file itself"),
        (
            zipped,
            "not a CSV file but a zip archive (or an Excel workbook): give the CSV file itself",
        ),
        (binary, "not a CSV file (binary data: NUL bytes on its first line)"),
    ]:
        result = cli("--warehouse", tmp_path / "wh.duckdb", "import", path)
        assert result.code == 2
        assert result.err.splitlines()[0] == f"{path}: {said}"
        assert not (tmp_path / "wh.duckdb").exists()


def test_latin1_files_are_named_as_such_even_far_down(
    cli: Cli, tmp_path: Path, write_csv: WriteCsv
) -> None:
    wh = tmp_path / "wh.duckdb"
    cli("--warehouse", wh, "import", write_csv("ok.csv", HEADER + "github,octocat,2024-01-01,5\n"))
    before = table_digest(wh)
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "github,octocat,2024-01-02,6\ninstagram,café,2024-01-01,5\n").encode("latin-1")
    )
    result = cli("--warehouse", wh, "import", path)
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        f"{path}: not UTF-8 text (looks like Latin-1 or Windows-1252: byte 0xe9 on line 3): "
        "save it as UTF-8"
    )
    assert table_digest(wh) == before
    # --skip-invalid cannot skip a file it cannot read
    assert cli("--warehouse", wh, "import", "--skip-invalid", path).code == 2


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "'\\t'"), ("|", "'|'")])
def test_other_separators_are_recognised(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path, sep: str, shown: str
) -> None:
    text = sep.join(["platform", "handle", "date", "followers"]) + "\n"
    path = write_csv("euro.csv", text + sep.join(["github", "octocat", "2024-01-01", "5"]) + "\n")
    result = cli("--warehouse", tmp_path / "wh.duckdb", "import", path)
    assert result.code == 2
    assert result.err.splitlines()[0] == f"{path}: columns are separated by {shown}, not ','"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("skip", [[], ["--skip-invalid"]], ids=["default", "skip-invalid"])
def test_a_file_with_only_a_header_is_refused_and_changes_nothing(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path, skip: list[str]
) -> None:
    wh = tmp_path / "wh.duckdb"
    good = write_csv("ok.csv", HEADER + "github,octocat,2024-01-01,5\n")
    assert cli("--warehouse", wh, "import", good).code == 0
    before = _sha256(wh)
    empty = write_csv("empty.csv", HEADER)
    result = cli("--warehouse", wh, "import", *skip, empty)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        f"{empty}: no data rows below the header: nothing to import",
        "import refused: 1 problem; the warehouse was not changed",
    ]
    assert _sha256(wh) == before  # not even opened: no run recorded
    # beside a file with rows, it refuses the call all the same; a new warehouse is not made
    assert cli("--warehouse", tmp_path / "new.duckdb", "import", *skip, good, empty).code == 2
    assert not (tmp_path / "new.duckdb").exists()


def test_skip_invalid_refusing_every_row_imports_nothing(
    cli: Cli, write_csv: WriteCsv, tmp_path: Path
) -> None:
    wh = tmp_path / "wh.duckdb"
    assert (
        cli(
            "--warehouse",
            wh,
            "import",
            write_csv("ok.csv", HEADER + "github,octocat,2024-01-01,5\n"),
        ).code
        == 0
    )
    before = _sha256(wh)
    source = write_csv("all-bad.csv", HEADER + "github,octocat,2024-01-02,-5\nx,a b,2024-01-01,5\n")
    rejects = tmp_path / "all-bad.rejects.csv"
    result = cli("--warehouse", wh, "import", "--skip-invalid", source)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        f"{source}:2: followers: negative count '-5'",
        f"{source}:3: handle: malformed x handle 'a b'",
        f"import refused: every row had a problem (2 rows refused, written to {rejects}), so "
        "nothing was imported; the warehouse was not changed",
    ]
    assert "next:" not in result.err
    assert _sha256(wh) == before
    assert len(rejects.read_text().splitlines()) == 3

    # rows refused only once they meet the warehouse (they would replace stored figures)
    digest = table_digest(wh)
    clash = write_csv("clash.csv", HEADER + "github,octocat,2024-01-01,6\n")
    result = cli("--warehouse", wh, "import", "--skip-invalid", clash)
    assert result.code == 2
    assert "next:" not in result.err
    assert result.err.splitlines()[-1].startswith("import refused: every row had a problem (1 row")
    assert table_digest(wh) == digest  # no run row either
    assert (tmp_path / "clash.rejects.csv").exists()
