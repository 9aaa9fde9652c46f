"""`--as-of D`: every figure comes from the data up to D only, as if the tool had run on D.

The reference is a second warehouse that only ever held the data up to D, analysed as of D:
`audit` (text and JSON) and `report` at D on the whole warehouse must equal its answers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from audience.cli import SAMPLE, main
from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from tests.support.cli import Result
from tests.support.warehouse import file_digest

Cli = Callable[..., Result]
AS_OF = dt.date(2024, 12, 31)  # the sample's last day
# three days after x:growthguru's purchase (09-09), before the drip on github (10-21) and the
# mastodon purge (10-29); and the day of instagram's glitch, before its reversal the next day
DAYS = (dt.date(2024, 9, 12), dt.date(2024, 11, 18))
ACCOUNTS = ("x:growthguru", "github:octo-org/widget", "instagram:brand.studio")


def _analysed(path: Path, csv: Path, as_of: dt.date) -> Path:
    import_history([csv], path, AS_OF)
    run_analysis(path, load_settings(None, environ={}), as_of)
    return path


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[object, Path]:
    """The whole sample analysed to its last day; for each D, the sample up to D analysed as of D."""
    folder = tmp_path_factory.mktemp("as_of")
    found: dict[object, Path] = {"full": _analysed(folder / "full.duckdb", SAMPLE, AS_OF)}
    rows = pl.read_csv(SAMPLE, infer_schema=False)
    for day in DAYS:
        part = folder / f"until-{day}.csv"
        rows.filter(pl.col("date") <= day.isoformat()).write_csv(part)
        found[day] = _analysed(folder / f"until-{day}.duckdb", part, day)
    return found


@pytest.mark.parametrize("day", DAYS)
def test_audit_as_of_a_past_day_equals_a_warehouse_that_stopped_there(
    cli: Cli, warehouses: dict[object, Path], day: dt.date
) -> None:
    full, until = warehouses["full"], warehouses[day]
    before = file_digest(full)
    for account in ACCOUNTS:
        for fmt in ("text", "json"):
            args = ("audit", account, "--as-of", day.isoformat(), "--format", fmt)
            got, expected = cli("--warehouse", full, *args), cli("--warehouse", until, *args)
            assert got.code == expected.code == 0, got.err + expected.err
            assert got.out == expected.out, (account, fmt)
    assert file_digest(full) == before  # computed in memory: nothing written
    assert not list(full.parent.glob("*.tmp"))


def test_the_figures_of_a_past_day_ignore_what_came_later(
    cli: Cli, warehouses: dict[object, Path]
) -> None:
    full = warehouses["full"]
    day = DAYS[0]
    audit = json.loads(
        cli("--warehouse", full, "audit", "x:growthguru", "--as-of", day, "--format", "json").out
    )
    today = json.loads(cli("--warehouse", full, "audit", "x:growthguru", "--format", "json").out)
    assert audit["analysed_through"] == day.isoformat()
    # the purchase of 09-09 is seen, but its retention is not known yet three days on: it is
    # under watch, and the account's growth is to review (not yet judged bought)
    (purchase,) = [f for f in audit["flagged"] if f["day"] == "2024-09-09"]
    assert purchase["retention_7"] is None
    assert purchase["verdict"] == "pending"
    assert audit["verdict_code"] == "unusual_growth_to_review"
    assert audit["metrics"]["growth_abs_28"] != today["metrics"]["growth_abs_28"]
    assert all(f["day"] <= day.isoformat() for f in audit["flagged"])
    before = cli("--warehouse", full, "audit", "x:growthguru", "--as-of", "2024-09-08").out
    assert "Verdict: no sign of bought audience" in before


@pytest.mark.parametrize("day", DAYS)
def test_report_as_of_a_past_day_equals_a_warehouse_that_stopped_there(
    cli: Cli, warehouses: dict[object, Path], day: dt.date, tmp_path: Path
) -> None:
    pages = []
    for name in ("full", day):
        page = tmp_path / f"{name}.html"
        result = cli("--warehouse", warehouses[name], "report", "--as-of", day, "--output", page)
        assert result.code == 0, result.err
        pages.append(page.read_text(encoding="utf-8"))
    assert pages[0] == pages[1]
    if day == DAYS[0]:
        assert "2024-10-21" not in pages[0]  # the drip, after D
        assert "mastodon 2024-10-29" not in pages[0]  # the purge, after D


def test_a_past_report_without_output_goes_beside_the_nightly_page(
    cli: Cli, warehouses: dict[object, Path], tmp_path: Path
) -> None:
    """`report --as-of` an earlier day never replaces the night's page (the configured path):
    it is written beside it, the day in its name; the last analysed day's goes to the path."""
    nightly = tmp_path / "out" / "audience-report.html"
    settings = tmp_path / "audience.toml"
    settings.write_text(f'[report]\npath = "{nightly}"\n', encoding="utf-8")
    args = ("--config", settings, "--warehouse", warehouses["full"], "report")
    assert cli(*args).code == 0
    page = nightly.read_bytes()
    past = cli(*args, "--as-of", DAYS[0])
    assert past.code == 0, past.err
    beside = tmp_path / "out" / f"audience-report.{DAYS[0]}.html"
    assert past.out == f"report written to {beside}\n"
    assert nightly.read_bytes() == page
    assert beside.read_bytes() != page
    same = cli(*args, "--as-of", AS_OF)  # the last analysed day: the nightly's page, kept
    assert same.out == f"report unchanged (nothing it shows has changed): {nightly}\n"


def test_a_future_as_of_is_refused(
    warehouses: dict[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    full = warehouses["full"]
    before = file_digest(full)

    def today() -> dt.date:
        return AS_OF  # the injected clock: the sample's last day is today

    commands = (("run", "--skip-collect"), ("report",), ("audit", "x:growthguru"))
    for command in commands:
        code = main(["--warehouse", str(full), *command, "--as-of", "2025-01-01"], today=today)
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert err.count("\n") == 1
        assert "--as-of '2025-01-01' is after today (2024-12-31)" in err
    assert main(["--warehouse", str(full), "audit", "x:growthguru"], today=today) == 0
    assert "as of 2024-12-31" in capsys.readouterr().out  # the clock's today is the default
    # the platforms know only today's size: a past day's audit never asks them
    past = ["--warehouse", str(full), "audit", "x:nobody_known", "--as-of", "2024-12-30"]
    assert main([*past, "--live"], today=today) == 2
    assert "--live asks the platform for today's size" in capsys.readouterr().err
    assert main([*past, "--format", "json"], today=today) == 4  # no answer: no figure
    unknown = json.loads(capsys.readouterr().out)
    assert unknown["verdict"] == "cannot say: no figure for this account"
    assert unknown["reasons"] == []  # x was not asked (it would answer with today's figure)
    assert file_digest(full) == before
