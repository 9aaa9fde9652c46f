"""What the report and the audit page share: the templates, the wording of a percentile, the
writing.

The pages are jinja2 templates (`reports/templates/`) with autoescape on, and everything an
account supplies also goes through the `clean` filter (no control or direction-override
characters, bounded). Charts are inline SVG drawn by the template `chart.html` from the
geometry of `reports/charts.py`, so a page opens anywhere with no network.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import PackageLoader

from core.errors import plural
from transforms.wording import html_templates
from warehouse.report_reads import MIN_PEER_GROUP


def _num(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "" if value is None else pattern.format(value)


PAGES = html_templates(PackageLoader("reports", "templates"), limit=2000)
PAGES.filters["num"] = _num


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percentile_text(
    percentile: float | None, platform: str, tier: str | None, group: int | None
) -> str:
    """The 28-day growth percentile with its comparison group (platform, size tier, how many),
    or why there is none: a group under MIN_PEER_GROUP accounts says little."""
    if tier is None or not group:
        return "no comparison group"
    where = f"{platform} {tier}, {plural(group, 'account')}"
    if group < MIN_PEER_GROUP or percentile is None:
        return f"too few to compare ({where}; needs {MIN_PEER_GROUP})"
    return f"{ordinal(round(percentile))} percentile ({where})"


def write_page(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path
