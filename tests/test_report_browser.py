"""The report and the audit page in a real headless Chromium: no errors, no network, escaped.

Screenshots are kept in test-artifacts/ at the repository's root for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import re
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
from transforms.verdicts import VERDICTS, verdict_words

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


def _charts_are_readable(page: Page) -> None:
    """Every chart has dated axes, a title and a description; every mark carries its verdict
    (an attribute and its own title, in words); the legend is there; nothing scrolls sideways."""
    charts = page.evaluate(
        """[...document.querySelectorAll('svg.chart')].map(s => ({
            dates: [...s.querySelectorAll('.x-axis text')].map(t => t.textContent),
            values: s.querySelectorAll('.y-axis text').length,
            bars: s.querySelectorAll('.bars rect').length,
            title: s.querySelector('title').textContent,
            desc: s.querySelector('desc').textContent,
            labelled: s.getAttribute('aria-labelledby'),
        }))"""
    )
    assert charts
    for c in charts:
        assert c["dates"]
        assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{1,4}", d) for d in c["dates"])
        assert c["values"] >= 4  # followers and daily gain, at least two each
        assert c["bars"] > 0
        assert c["title"].startswith("Audience of ")
        assert "Followers from" in c["desc"]
        assert len(c["labelled"].split()) == 2
    marks = page.evaluate(
        """[...document.querySelectorAll('svg circle')].map(c => ({
            verdict: c.dataset.verdict, title: c.querySelector('title').textContent}))"""
    )
    for m in marks:
        assert m["verdict"] in VERDICTS
        assert verdict_words(m["verdict"]) in m["title"]
    legend = page.evaluate(
        "[...document.querySelectorAll('ul.legend li[data-verdict]')].map(li => [li.dataset.verdict, li.textContent])"
    )
    assert [v for v, _ in legend] == list(VERDICTS)
    assert all(verdict_words(v) in t for v, t in legend)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


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
    _charts_are_readable(page)
    # the accounts that need attention come first, ranked; then the events; then the table
    headings = page.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert [h.split(" (")[0] for h in headings] == [
        "How to read the charts",
        "Needs attention",
        "Platform events",
        "Every account",
        "Other accounts",
    ]
    first = page.evaluate("document.querySelector('section h3').textContent")
    assert first.startswith(("x:growthguru", "mastodon:carol@hachyderm.io", "github:"))
    assert page.evaluate(
        "[...document.querySelectorAll('table tr td:nth-child(6)')].some("
        "td => td.textContent.trim() === '1 / 0')"
    )  # a purchase older than 90 days still counts, all-time
    assert page.evaluate("document.body.innerText.includes('too few to compare')")
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
    # the verdict comes first, coloured, in plain words: what, how sure, why (three at most)
    assert page.evaluate("document.querySelector('h1 + section').className") == (
        "verdict bought_audience_likely"
    )
    assert (
        page.evaluate("getComputedStyle(document.querySelector('section.verdict')).borderLeftColor")
        == "rgb(220, 38, 38)"
    )
    for words in ("What we think:", "How sure:", "Why:"):
        assert words in text
    assert 1 <= page.evaluate("document.querySelectorAll('section.verdict li').length") <= 3
    assert "`" not in text
    order = [
        text.index(h)
        for h in (
            "Verdict:",
            "Audience by day",
            "Evidence, day by day",
            "Figures",
            "The last 30 days",
        )
    ]
    assert order == sorted(order)
    # the last 30 days as Social Blade lists them: newest first, one row a day
    assert page.evaluate("document.querySelectorAll('table tr').length") == 31
    assert page.evaluate("document.querySelector('table tr td').textContent") == str(AS_OF)
    _charts_are_readable(page)
    assert "Organic-adjusted audience" in text
    assert page.evaluate("document.querySelectorAll('svg circle').length") == 2  # flagged days
    assert page.evaluate("document.querySelectorAll('img, script').length") == 0
    _png_size(page.screenshot(ARTIFACTS / "audit.png"))


@pytest.mark.slow
def test_report_of_10000_accounts_opens_in_chromium(page: Page, tmp_path: Path) -> None:
    """At 10,000 accounts: one self-contained file, the ranked top accounts charted and every
    account in the table, readable as the small one is (the timing is benchmarks/report_speed)."""
    from benchmarks.report_speed import build
    from reports.render import TOP_CHARTS

    last = dt.date(2025, 12, 31)
    warehouse = build(tmp_path, 10_000, 60, last)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        report = write_report(con, last, tmp_path / "report.html")
    seen = page.load(report.as_uri())
    assert seen.console == []
    assert seen.exceptions == []
    assert seen.requests == [report.as_uri()]
    assert page.evaluate("document.querySelectorAll('svg.chart').length") == TOP_CHARTS
    assert page.evaluate("document.querySelectorAll('table tr').length") == 10_001
    attention = page.evaluate(
        "[...document.querySelectorAll('section h3 + p .pill')].map(p => p.textContent)"
    )
    ranks = [
        0 if t.startswith("bought") else 1 if t.startswith("unusual") else 2 for t in attention
    ]
    assert ranks == sorted(ranks)
    assert ranks[0] < 2  # some account needs attention, and it comes first
    _charts_are_readable(page)
    page.screenshot(ARTIFACTS / "report-10000.png", full_page=False)


def test_every_axis_label_stays_inside_the_chart(page: Page, tmp_path: Path) -> None:
    """A chart ending just after a month starts ("Dec 2026" at the right edge): every label of
    both axes is drawn whole inside the SVG's width, as Chromium lays it out."""
    from reports.charts import chart
    from reports.pages import PAGES

    first = dt.date(2026, 5, 1)
    days = [
        {
            "day": first + dt.timedelta(days=i),
            "followers": 1_200_000 + 1_000 * i,
            "observed": True,
            "daily_gain": 1_000 if i else None,
            "spread_days": 1,
            "baseline_median": None,
            "baseline_sigma": None,
        }
        for i in range((dt.date(2026, 12, 2) - first).days + 1)
    ]
    drawn = chart(days, [], "Audience of github:octo-org/widget")
    assert drawn is not None
    assert drawn.x_ticks[-1].label == "Dec 2026"
    html = PAGES.from_string(
        "<!doctype html><title>chart</title>{% from 'chart.html' import chart %}{{ chart(c) }}"
    ).render(c=drawn)
    path = tmp_path / "chart.html"
    path.write_text(html)
    seen = page.load(path.as_uri())
    assert seen.console_errors == []
    boxes = page.evaluate(
        """(() => { const s = document.querySelector('svg.chart');
            const w = s.viewBox.baseVal.width;
            return [...s.querySelectorAll('.axis text')].map(t => {
                const b = t.getBBox(); return [t.textContent, b.x, b.x + b.width, w]; }); })()"""
    )
    assert any(label == "Dec 2026" for label, *_ in boxes)
    for label, left, right, width in boxes:
        assert left >= 0, (label, left)
        assert right <= width, (label, right, width)
