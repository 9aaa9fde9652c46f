"""The report and the audit page in a real headless Chromium: no errors, no network, escaped.

Screenshots are kept in test-artifacts/ at the repository's root for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from audience.audit import run_audit
from audience.cli import SAMPLE
from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from reports.render import write_audit, write_report
from tests.support.browser import Page, chromium

AS_OF = dt.date(2024, 12, 31)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
HOSTILE = "<img src=x onerror=alert(1)><script>console.error('xss')</script>\u202e"


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with chromium() as browser_page:
        yield browser_page


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "w.duckdb"
    import_history([SAMPLE], path, AS_OF)
    run_analysis(path, load_settings(None, environ={}), AS_OF)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE accounts SET display_name = ? WHERE handle = 'growthguru'", [HOSTILE])
    return path


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_harness_sees_errors_and_network(page: Page, tmp_path: Path) -> None:
    """A control: a page with an error and a remote image is caught (so a pass means something)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><title>bad</title><img src='https://cdn.example.com/x.png'>"
        "<script>console.error('boom'); undefinedFunction();</script>"
    )
    seen = page.load(bad.as_uri())
    assert "boom" in seen.console_errors
    assert seen.exceptions
    assert "https://cdn.example.com/x.png" in seen.requests
    assert seen.failed_requests  # no network: the request failed
    assert any(m.startswith("error: boom") for m in seen.console)


def test_report_renders_in_chromium_without_errors_or_network(
    page: Page, warehouse: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        report = write_report(con, AS_OF, tmp_path / "report.html")
    seen = page.load(report.as_uri())
    assert seen.console_errors == []
    assert seen.console == []  # no message of any level
    assert seen.exceptions == []
    assert seen.failed_requests == []
    assert seen.requests == [report.as_uri()]  # self-contained: nothing else was fetched
    assert page.evaluate("document.title") == f"Audience report {AS_OF}"
    # every account's chart is drawn, with a size, and the flagged days are marked
    sizes = page.evaluate(
        "[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)"
    )
    assert len(sizes) == 14
    assert min(sizes) > 100
    assert page.evaluate("document.querySelectorAll('svg circle').length") >= 9
    assert page.evaluate("document.querySelectorAll('table tr').length") == 15
    # the hostile display name is text on the page, not markup
    assert page.evaluate("document.querySelectorAll('img, script').length") == 0
    assert page.evaluate(f"document.body.textContent.includes({HOSTILE[:30]!r})")
    shot = page.screenshot(ARTIFACTS / "report.png")
    width, height = _png_size(shot)
    assert width > 1_200  # the window, less a scroll bar
    assert height > 2_000  # the whole page, not the first screen


def test_audit_page_renders_in_chromium(page: Page, warehouse: Path, tmp_path: Path) -> None:
    settings = load_settings(None, environ={})
    audit = run_audit(warehouse, settings, "x", "growthguru", AS_OF, live=False)
    path = write_audit(audit, tmp_path / "audit.html")
    seen = page.load(path.as_uri())
    assert seen.console_errors == []
    assert seen.console == []
    assert seen.exceptions == []
    assert seen.failed_requests == []
    assert seen.requests == [path.as_uri()]
    text = page.evaluate("document.body.innerText")
    assert "Verdict: bought audience likely" in text
    assert "Organic-adjusted audience" in text
    assert page.evaluate("document.querySelectorAll('svg circle').length") == 2  # flagged days
    assert page.evaluate("document.querySelectorAll('img, script').length") == 0
    _png_size(page.screenshot(ARTIFACTS / "audit.png"))
