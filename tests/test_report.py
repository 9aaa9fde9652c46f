"""The HTML report: self-contained, escaped, with each account's chart and flagged days."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import stat
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from audience.cli import SAMPLE
from core.settings import load_settings
from core.verdict_marks import VERDICT_MARKS
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from reports.render import digest_path, write_report, write_report_if_changed
from tests.support.cli import Result
from transforms.verdicts import verdict_words


@pytest.fixture
def analysed(tmp_path: Path) -> Path:
    warehouse = tmp_path / "w.duckdb"
    import_history([SAMPLE], warehouse, dt.date(2026, 11, 22))
    run_analysis(warehouse, load_settings(None, environ={}), dt.date(2024, 12, 31))
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "UPDATE accounts SET display_name = '<img src=x onerror=alert(1)>' WHERE handle = 'growthguru'"
        )
    return warehouse


def test_report_is_self_contained_and_escaped(analysed: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(analysed), read_only=True) as con:
        path = write_report(con, dt.date(2024, 12, 31), tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert not re.search(
        r"""(src|href)\s*=\s*['"]?(https?:)?//""", page
    )  # nothing fetched from elsewhere
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<svg") == 14  # one chart per account
    # every flagged day is marked on its chart, in its verdict's colour, with its verdict
    marks = re.findall(
        r"<circle class='mark' data-verdict='(\w+)' [^>]*fill='(#\w+)'[^>]*><title>([^<]+)</title>",
        page,
    )
    assert len(marks) >= 9
    assert all(colour == VERDICT_MARKS[verdict].colour for verdict, colour, _ in marks)
    assert all(verdict_words(verdict) in title for verdict, _, title in marks)
    assert {"suspected_purchase", "organic", "platform_event"} <= {v for v, _, _ in marks}
    assert page.count("fill='#dc2626'") == sum(v == "suspected_purchase" for v, _, _ in marks)
    assert "suspected purchase" in page
    assert (
        "mastodon 2024-10-29: 4 of 4 tracked mastodon accounts fell unusually on 2024-10-29" in page
    )  # the platform event
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_report_command(cli: object, analysed: Path, tmp_path: Path) -> None:
    run = cli  # the fixture runs `audience ARGS` in-process
    result: Result = run(
        "--warehouse", str(analysed), "report", "--output", str(tmp_path / "r.html")
    )  # type: ignore[operator]
    assert result.code == 0, result.err
    assert result.out.strip() == f"report written to {tmp_path / 'r.html'}"
    empty: Result = run("--warehouse", str(tmp_path / "none.duckdb"), "report")  # type: ignore[operator]
    assert empty.code == 2
    assert "no warehouse at" in empty.err


def test_report_is_reused_while_nothing_it_shows_changes(analysed: Path, tmp_path: Path) -> None:
    day, path = dt.date(2024, 12, 31), tmp_path / "out" / "report.html"
    with duckdb.connect(str(analysed), read_only=True) as con:
        assert write_report_if_changed(con, day, path) == (path, False)
        written = path.stat().st_mtime_ns
        assert write_report_if_changed(con, day, path) == (path, True)
        assert path.stat().st_mtime_ns == written  # not rewritten
        assert digest_path(path).exists()  # what it was made from, beside it
        # another day is another report
        assert write_report_if_changed(con, dt.date(2024, 12, 30), path)[1] is False
        assert write_report_if_changed(con, day, path)[1] is False
    with duckdb.connect(str(analysed)) as con:  # something it shows changes
        con.execute("UPDATE accounts SET display_name = 'Growth Guru' WHERE handle = 'growthguru'")
    with duckdb.connect(str(analysed), read_only=True) as con:
        assert write_report_if_changed(con, day, path)[1] is False
        assert "Growth Guru" in path.read_text(encoding="utf-8")
        assert write_report_if_changed(con, day, path)[1] is True
        path.write_text("edited by hand", encoding="utf-8")  # the page is not what was written
        assert write_report_if_changed(con, day, path)[1] is False
        assert path.read_text(encoding="utf-8").startswith("<!doctype html>")
        path.unlink()
        assert write_report_if_changed(con, day, path)[1] is False
        assert path.exists()


def test_report_command_says_when_the_report_is_unchanged(
    cli: object, analysed: Path, tmp_path: Path
) -> None:
    run = cli
    args = ("--warehouse", str(analysed), "report", "--output", str(tmp_path / "r.html"))
    first: Result = run(*args)  # type: ignore[operator]
    assert first.out.strip() == f"report written to {tmp_path / 'r.html'}"
    again: Result = run(*args)  # type: ignore[operator]
    assert again.code == 0, again.err
    assert again.out.strip() == (
        f"report unchanged (nothing it shows has changed): {tmp_path / 'r.html'}"
    )


def test_a_page_gets_the_mode_of_a_plain_file_and_keeps_one_given_it(
    analysed: Path, tmp_path: Path
) -> None:
    path, plain = tmp_path / "report.html", tmp_path / "plain.txt"
    plain.write_text("x", encoding="utf-8")  # what the umask gives any file written here
    with duckdb.connect(str(analysed), read_only=True) as con:
        write_report(con, dt.date(2024, 12, 31), path)
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
        path.chmod(0o640)  # an operator's choice survives the next night's page
        write_report(con, dt.date(2024, 12, 30), path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        path.chmod(0o600)  # and the digest beside it is as private as the page
        assert not write_report_if_changed(con, dt.date(2024, 12, 29), path)[1]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(digest_path(path).stat().st_mode) == 0o600


def test_the_reports_digest_ignores_the_order_rows_are_read_in(analysed: Path) -> None:
    """The anomalies are read in day order only: same-day rows in another order are the same
    report (the charted days are read in account and day order)."""
    from reports.render import _Inputs

    with duckdb.connect(str(analysed), read_only=True) as con:
        inputs = _Inputs.read(con, dt.date(2024, 12, 31))

    def reordered(frame: pl.DataFrame) -> pl.DataFrame:  # still by day, ties otherwise
        return frame.sample(fraction=1.0, shuffle=True, seed=1).sort("day", maintain_order=True)

    shuffled = _Inputs(inputs.as_of, inputs.lines, reordered(inputs.anomalies), inputs.days)
    assert not shuffled.anomalies.equals(inputs.anomalies)
    assert shuffled.digest() == inputs.digest()
    assert shuffled.render() == inputs.render()
    fewer = _Inputs(inputs.as_of, inputs.lines, inputs.anomalies.head(-1), inputs.days)
    assert fewer.digest() != inputs.digest()
    # a charted account's day changes: another report
    key = next(iter(inputs.days))
    edited = inputs.days[key].with_columns(pl.col("followers") + 1)
    moved = _Inputs(inputs.as_of, inputs.lines, inputs.anomalies, {**inputs.days, key: edited})
    assert moved.digest() != inputs.digest()


def test_pages_never_replace_a_file_this_tool_did_not_write(
    cli: Callable[..., Result], analysed: Path, tmp_path: Path
) -> None:
    """`audit --html` or `report --output` given a settings file or a note by mistake refuse
    (exit 2) and leave it as it was; a page of ours is replaced as before."""
    settings = tmp_path / "audience.toml"
    settings.write_text('[report]\npath = "r.html"\n', encoding="utf-8")
    note = tmp_path / "notes.txt"
    note.write_text("my notes\n", encoding="utf-8")
    warehouse = ("--warehouse", str(analysed))
    for args, target in (
        (("audit", "x:growthguru", "--as-of", "2024-12-31", "--html", str(settings)), settings),
        (("report", "--as-of", "2024-12-31", "--output", str(note)), note),
    ):
        before = target.read_bytes()
        result = cli(*warehouse, *args)
        assert result.code == 2, result.err
        assert "is not a page this tool wrote" in result.err
        assert len(result.err.strip().splitlines()) == 1
        assert target.read_bytes() == before
    # a path no file can be written at: refused (exit 2) in one line, not an internal error
    for unwritable in (note / "page.html", Path("/proc/page.html")):
        for args in (
            ("audit", "x:growthguru", "--as-of", "2024-12-31", "--html", str(unwritable)),
            ("report", "--as-of", "2024-12-31", "--output", str(unwritable)),
        ):
            result = cli(*warehouse, *args)
            assert result.code == 2, result.err
            assert result.err.startswith(f"error: cannot write {unwritable}: "), result.err
            assert len(result.err.strip().splitlines()) == 1
    assert note.read_bytes() == b"my notes\n"
    page = tmp_path / "page.html"
    for _ in range(2):  # written, then replaced: it is ours
        assert (
            cli(
                *warehouse, "audit", "x:growthguru", "--as-of", "2024-12-31", "--html", str(page)
            ).code
            == 0
        )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_the_audit_pages_why_is_one_bullet_per_piece_of_evidence(
    cli: Callable[..., Result], analysed: Path, tmp_path: Path
) -> None:
    page = tmp_path / "guru.html"
    args = ("audit", "x:growthguru", "--as-of", "2024-12-31", "--html", str(page))
    assert cli("--warehouse", str(analysed), *args).code == 0
    html = page.read_text(encoding="utf-8")
    why = html[html.index("<b>Why:</b>") : html.index("</ul>", html.index("<b>Why:</b>"))]
    bullets = re.findall(r"<li>(.*?)</li>", why, flags=re.S)
    assert 2 <= len(bullets) <= 3
    assert all("Verdict:" not in b for b in bullets)  # the box above says it already
    assert any("were lost in the" in b and "(spike on 2024-09-09)" in b for b in bullets)


def _value_of(label: str) -> float:
    """What an axis label says: "1.25M" is 1,250,000, "+1.5k" 1,500."""
    units = {"B": 1e9, "M": 1e6, "k": 1e3}
    scale = units.get(label[-1], 1.0)
    return float(label.rstrip("BMk").replace(",", "")) * scale


def _days(start: dt.date, followers: list[float]) -> list[dict[str, object]]:
    return [
        {
            "day": start + dt.timedelta(days=i),
            "followers": f,
            "observed": True,
            "daily_gain": f - followers[i - 1] if i else None,
            "spread_days": 1,
            "baseline_median": None,
            "baseline_sigma": None,
        }
        for i, f in enumerate(followers)
    ]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1_200_000, 1_400_000, ["1.2M", "1.25M", "1.3M", "1.35M", "1.4M"]),
        (1_000, 2_000, ["1k", "1.25k", "1.5k", "1.75k", "2k"]),
        (0, 60_000, ["0", "20k", "40k", "60k"]),
    ],
)
def test_every_axis_label_says_its_tick_exactly(low: int, high: int, expected: list[str]) -> None:
    from reports.charts import chart

    steps = 60
    followers = [low + (high - low) * i / (steps - 1) for i in range(steps)]
    drawn = chart(_days(dt.date(2026, 10, 1), followers), [], "Audience of x:someone")
    assert drawn is not None
    assert [t.label for t in drawn.y_ticks] == expected
    for ticks in (drawn.y_ticks, drawn.gain_ticks):
        labels = [t.label for t in ticks]
        assert len(set(labels)) == len(labels), labels  # evenly spaced ticks, distinct labels
        # each label is its tick's value: the ticks are evenly spaced, so must the labels be
        values = [_value_of(label) for label in labels]
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(values)}
        assert len(gaps) <= 1, labels


def test_each_account_line_counts_its_audience_in_the_platforms_word(
    analysed: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(analysed), read_only=True) as con:
        page = write_report(con, dt.date(2024, 12, 31), tmp_path / "report.html").read_text()
    words = {
        key: word
        for key, word in re.findall(
            r"<h3>([^ <]+) .*?class='pill[^>]*>[^<]*</span>\s*[\d,]+ (\w+); flagged growth",
            page,
            flags=re.S,
        )
    }
    assert len(words) == 14, words  # every account's card
    assert words["github:octo-org/widget"] == "stars"  # a repository's audience
    assert words["github:janedoe"] == "followers"  # a user's
    assert words["youtube:@cookingwithsam"] == "subscribers"
    assert words["reddit:r/dataengineering"] == "subscribers"
    assert words["mastodon:carol@hachyderm.io"] == "followers"
    assert words["x:growthguru"] == "followers"
