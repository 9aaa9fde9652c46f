"""Property tests of the import validator: valid rows round-trip, any malformed row is caught."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collectors.history_checks import _canonical_handles, _handle_valid
from collectors.history_files import read_history
from core.errors import HandleError, ImportRejected
from core.platforms import PLATFORMS, canonical_handle

TODAY = date(2026, 11, 22)
HEADER = "platform,handle,date,followers,following,posts,views"

handles = {
    "github": st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z"),
    "x": st.from_regex(r"\A[a-z0-9_]{1,15}\Z"),
    "mastodon": st.from_regex(r"\A[a-z0-9_]{1,12}@[a-z]{1,8}\.social\Z"),
    "reddit": st.from_regex(r"\Ar/[a-z0-9_]{2,21}\Z"),
}


@st.composite
def valid_rows(
    draw: st.DrawFn,
) -> list[tuple[str, str, date, int, int | None, int | None, int | None]]:
    platform = draw(st.sampled_from(sorted(handles)))
    handle = draw(handles[platform])
    # from the platform's first day on (earlier dates are refused: platforms.Platform.launched)
    start = draw(st.dates(min_value=PLATFORMS[platform].launched, max_value=date(2026, 1, 1)))
    count = draw(st.integers(1, 20))
    optional = st.one_of(st.none(), st.integers(0, 10**12))
    return [
        (
            platform,
            handle,
            start + timedelta(days=i),
            draw(st.integers(0, 10**12)),
            draw(optional),
            draw(optional),
            draw(optional),
        )
        for i in range(count)
    ]


def _csv(rows: list[tuple[object, ...]]) -> str:
    def cell(v: object) -> str:
        return "" if v is None else str(v)

    return HEADER + "\n" + "".join(",".join(cell(v) for v in row) + "\n" for row in rows)


def _write(text: str) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as handle:
        handle.write(text)
    return Path(handle.name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_rows(), min_size=1, max_size=5))
def test_valid_rows_round_trip(
    groups: list[list[tuple[str, str, date, int, int | None, int | None, int | None]]],
) -> None:
    seen: dict[tuple[str, str, date], tuple[object, ...]] = {}
    for rows in groups:
        for row in rows:
            seen.setdefault((row[0], row[1], row[2]), row)
    rows = list(seen.values())
    path = _write(_csv(rows))
    try:
        frame = read_history([path], TODAY).frame
    finally:
        path.unlink()
    with duckdb.connect() as con:
        con.register("frame", frame)
        got = con.sql(
            "SELECT platform, handle, day, followers, following, posts, views FROM frame ORDER BY ALL"
        ).fetchall()
    assert got == sorted(rows)


CORRUPTIONS = {
    "platform": st.sampled_from(["myspace", "", "GitHub!", "friendster"]),
    "date": st.sampled_from(
        ["2024-02-30", "", "24-01-01", "2024/01/01", "yesterday", "2024-13-01"]
    ),
    "followers": st.sampled_from(["-1", "", "1.5", "abc", "1e5", "0x10", "٣"]),
    "following": st.sampled_from(["-7", "2.0", "many"]),
    "handle": st.sampled_from(["", "a b", "../../etc", "<script>", "x" * 200]),
}
COLUMN_INDEX = {"platform": 0, "handle": 1, "date": 2, "followers": 3, "following": 4}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_rows(), st.data())
def test_any_malformed_row_is_rejected_with_its_line(
    rows: list[tuple[object, ...]], data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
    value = data.draw(CORRUPTIONS[field])
    victim = data.draw(st.integers(0, len(rows) - 1))
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    cells[victim][COLUMN_INDEX[field]] = value
    path = _write(HEADER + "\n" + "".join(",".join(c) + "\n" for c in cells))
    try:
        try:
            read_history([path], TODAY)
        except ImportRejected as exc:
            problems = exc.problems
        else:
            raise AssertionError(f"{field}={value!r} on row {victim} was accepted")
    finally:
        path.unlink()
    assert {p.line for p in problems} == {victim + 2}, problems
    assert any(
        p.field == field or (field == "platform" and p.field == "handle") for p in problems
    ), problems


@settings(max_examples=40, deadline=None)
@given(
    days=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 9)), min_size=1, max_size=30
    ),
    data=st.data(),
)
def test_rows_in_account_runs_read_the_same_as_in_any_order(
    tmp_path_factory: pytest.TempPathFactory,
    days: list[tuple[int, int, int]],
    data: st.DataObject,
) -> None:
    """A file written account by account skips the grouping by account and day
    (history_files._one_run_per_account); the same rows in any other order, repeats included,
    are grouped. Both must give the same history: same rows, figures, lines and repeats."""
    folder = tmp_path_factory.mktemp("runs")
    rows = [(f"user{a}", date(2024, 1, 1) + timedelta(days=d), 100 + f) for a, d, f in days]
    in_runs = sorted(rows, key=lambda r: (r[0], r[1]))
    shuffled = data.draw(st.permutations(rows))

    def read(
        name: str, ordered: list[tuple[str, date, int]]
    ) -> tuple[list[tuple[object, ...]], int, bool]:
        path = folder / name
        path.write_text(
            "platform,handle,date,followers\n"
            + "".join(f"github,{h},{d},{f}\n" for h, d, f in ordered),
            encoding="utf-8",
        )
        try:
            history = read_history([path], date(2026, 1, 1))
        except ImportRejected as exc:  # the same day twice with different figures
            return [], -1, bool(exc.total)
        frame = history.frame.sort("handle", "day")
        return frame.select("handle", "day", "followers").rows(), history.duplicates, False

    first = read("runs.csv", in_runs)
    second = read("shuffled.csv", list(shuffled))
    assert first == second


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([*PLATFORMS, "myspace"]),
            st.one_of(
                st.text(alphabet="@/AaZz09_.-:\x1fr u/", max_size=30),
                st.sampled_from(
                    [
                        "@Alice@Mastodon.Social",
                        "r/AskReddit",
                        "/r/de",
                        "@GoogleDevelopers",
                        "GoogleDevelopers",
                        "UC_x5XG1OV2P6uZZ5FSM9Ttw",
                        "Octo-Org/Widget",
                        "did:plc:abcdefghijklmnopqrstuvwx",
                        "u/Some_User",
                        "@Bob",
                    ]
                ),
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_vectorised_handle_rules_are_the_scalar_ones(rows: list[tuple[str, str]]) -> None:
    """collectors.history_checks' canonical handle and pattern check, one pass over a column,
    say what core.platforms.canonical_handle says of each handle on its own (the import
    trims cells first, and a blank one is a missing value, checked apart)."""
    rows = [(p, h.strip()) for p, h in rows if h.strip()]
    assume(rows)
    frame = pl.DataFrame(rows, schema=["platform", "handle"], orient="row")
    got = frame.select(_canonical_handles().alias("handle"), pl.col("platform")).with_columns(
        _handle_valid().alias("valid")
    )
    for (platform, handle), (canonical, valid) in zip(
        rows, got.select("handle", "valid").rows(), strict=True
    ):
        if platform not in PLATFORMS:
            assert (canonical, valid) == (handle, False)
            continue
        try:
            expected = canonical_handle(platform, handle)
        except HandleError:
            assert not valid, (platform, handle, canonical)
        else:
            assert (canonical, valid) == (expected, True), (platform, handle)
