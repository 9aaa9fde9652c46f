"""Rendering the report: an overview, each account's growth with its flagged days, platform events.

Everything comes from the warehouse; everything an account supplies is cleaned and escaped.
Charts are inline SVG, so the file opens anywhere with no network.
"""

from __future__ import annotations

import html
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from alerts.message import clean
from transforms.anomalies import platform_event_text
from transforms.verdicts import ACCOUNT_VERDICTS

if TYPE_CHECKING:
    from audience.audit import Audit

CHART_DAYS = 365
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#111827;max-width:1100px}
table{border-collapse:collapse;font-size:14px}td,th{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:left}
th{background:#f9fafb}.num{text-align:right}.bad{color:#dc2626;font-weight:600}.muted{color:#6b7280}
section{border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:16px 0}
li{margin:6px 0}.tag{font-size:12px;border-radius:4px;padding:1px 6px;background:#f3f4f6}
"""


def _e(value: Any) -> str:
    return html.escape(clean(str(value), 2000)) if value is not None else ""


def _num(value: Any, pattern: str = "{:,.0f}") -> str:
    return "" if value is None else pattern.format(value)


def _svg(series: list[tuple[date, float]], flagged: set[date]) -> str:
    if len(series) < 2:
        return "<p class='muted'>not enough history to draw</p>"
    width, height, pad = 640, 120, 8
    values = [v for _, v in series]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = series[0][0], series[-1][0]
    days = max((last - first).days, 1)

    def xy(d: date, v: float) -> tuple[float, float]:
        return (
            pad + (d - first).days / days * (width - 2 * pad),
            height - pad - (v - low) / span * (height - 2 * pad),
        )

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(d, v) for d, v in series))
    marks = "".join(
        f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='#dc2626'><title>{d}</title></circle>"
        for d, v in series
        if d in flagged
        for x, y in [xy(d, v)]
    )
    return (
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='audience from {first} to {last}'>"
        f"<rect width='{width}' height='{height}' fill='#fff'/>"
        f"<polyline points='{points}' fill='none' stroke='#2563eb' stroke-width='2'/>{marks}"
        f"<text x='{pad}' y='14' font-size='11' fill='#6b7280'>{_num(high)}</text>"
        f"<text x='{pad}' y='{height - 2}' font-size='11' fill='#6b7280'>{_num(low)} · {first} to {last}</text></svg>"
    )


def render(con: duckdb.DuckDBPyConnection, as_of: date) -> str:
    """The whole report as one HTML document."""
    accounts = con.sql(
        """
        SELECT m.*, a.display_name, a.status FROM account_metrics m
        LEFT JOIN accounts a USING (platform, handle)
        ORDER BY CASE m.account_verdict WHEN 'bought_audience_likely' THEN 0
                 WHEN 'unusual_growth_to_review' THEN 1 WHEN 'not_enough_history' THEN 3 ELSE 2 END,
                 m.platform, m.handle
        """
    ).pl()
    anomalies = con.sql("SELECT * FROM anomalies WHERE day <= ? ORDER BY day", params=[as_of]).pl()
    since = as_of - timedelta(days=CHART_DAYS)
    series = con.sql(
        "SELECT platform, handle, day, followers FROM daily_metrics WHERE day > ? AND day <= ? ORDER BY day",
        params=[since, as_of],
    ).pl()
    suspected = anomalies.filter(pl.col("suspected_purchase"))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Audience report {as_of}</title><style>{STYLE}</style></head><body>",
        f"<h1>Audience report, {as_of}</h1>",
        f"<p>{accounts.height} accounts; {anomalies.height} anomalies on record, {suspected.height} suspected "
        "purchases. Each flagged day below says what moved, against what baseline, and why.</p>",
        "<h2>Overview</h2><p class='muted'>Accounts that need attention first: bought audience "
        "likely, then unusual growth to review.</p><table><tr><th>account</th><th>name</th>"
        "<th>verdict</th><th class='num'>audience</th>"
        "<th class='num'>28 days</th><th class='num'>percentile</th>"
        "<th class='num'>suspected (90 days / all)</th><th>next milestone</th></tr>",
    ]
    for r in accounts.iter_rows(named=True):
        bought = r["suspected_purchases_90"] or 0
        ever = r.get("suspected_purchases_all") or 0
        verdict = ACCOUNT_VERDICTS.get(r.get("account_verdict") or "", "not analysed")
        confidence = r.get("account_confidence") or "none"
        parts.append(
            f"<tr><td><a href='#{_e(r['platform'])}-{_e(r['handle'])}'>{_e(r['platform'])}:{_e(r['handle'])}</a></td>"
            f"<td>{_e(r['display_name'])}</td>"
            f"<td class='{'bad' if r.get('account_verdict') == 'bought_audience_likely' else ''}'>"
            f"{_e(verdict)}{'' if confidence == 'none' else f' ({_e(confidence)} confidence)'}</td>"
            f"<td class='num'>{_num(r['followers'])}</td>"
            f"<td class='num'>{_num(r['growth_rel_28'], '{:+.1%}')}</td>"
            f"<td class='num'>{_num(r['growth_percentile'], '{:.0f}')}</td>"
            f"<td class='num{' bad' if ever else ''}'>{bought} / {ever}</td>"
            f"<td>{_num(r['next_milestone'])} {('by ' + str(r['milestone_date'])) if r['milestone_date'] else ''}</td></tr>"
        )
    parts.append("</table>")
    events = anomalies.filter(pl.col("attribution") == "platform_event")
    parts.append("<h2>Platform events</h2>")
    if events.is_empty():
        parts.append("<p class='muted'>none</p>")
    else:
        grouped = (
            events.group_by("platform", "day", "kind")
            .agg(pl.col("handle"), pl.col("thresholds").first())
            .sort("day", "platform", "kind")
        )
        parts.append(
            "<ul>"
            + "".join(
                f"<li>{_e(r['platform'])} {r['day']}: {_e(platform_event_text(r))} "
                f"(past their own thresholds: {', '.join(_e(h) for h in sorted(r['handle'])[:8])})</li>"
                for r in grouped.iter_rows(named=True)
            )
            + "</ul>"
        )
    parts.append("<h2>Accounts</h2>")
    for r in accounts.iter_rows(named=True):
        key = (r["platform"], r["handle"])
        own = anomalies.filter((pl.col("platform") == key[0]) & (pl.col("handle") == key[1]))
        points = series.filter((pl.col("platform") == key[0]) & (pl.col("handle") == key[1]))
        chart = _svg(
            [(d, f) for d, f in points.select("day", "followers").iter_rows()],
            set(own.get_column("day")),
        )
        items = "".join(
            f"<li><span class='tag'>{_e(a['kind'])}</span> {a['day']} "
            f"<b class='{'bad' if a['suspected_purchase'] else 'muted'}'>"
            f"{'suspected purchase' if a['suspected_purchase'] else _e(a['attribution']).replace('_', ' ')}</b>"
            f"<br>{_e(a['explanation'])}</li>"
            for a in own.iter_rows(named=True)
        )
        parts.append(
            f"<section id='{_e(r['platform'])}-{_e(r['handle'])}'><h3>{_e(r['platform'])}:{_e(r['handle'])} "
            f"<span class='muted'>{_e(r['display_name'])}</span></h3>{chart}"
            + (f"<ul>{items}</ul>" if items else "<p class='muted'>no flagged days</p>")
            + "</section>"
        )
    parts.append(
        "<p class='muted'>Made by the audience growth tracker from its DuckDB warehouse.</p></body></html>"
    )
    return "".join(parts)


def _write(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def write_report(con: duckdb.DuckDBPyConnection, as_of: date, path: Path) -> Path:
    """Write the report."""
    return _write(path, render(con, as_of))


def render_audit(audit: Audit) -> str:
    """The audit of one account as one HTML page: its sections, and its chart with flagged days."""
    from audience.audit import sections, title

    flagged = {row["day"] for row in audit.flagged}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title(audit))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title(audit))}</h1>",
        _svg(audit.series, flagged),
    ]
    for heading, lines in sections(audit):
        items = "".join(f"<li>{_e(line.strip().removeprefix('- '))}</li>" for line in lines)
        parts.append(f"<section><h2>{_e(heading)}</h2><ul>{items}</ul></section>")
    parts.append(
        "<p class='muted'>Made by the audience growth tracker (`audience audit`).</p></body></html>"
    )
    return "".join(parts)


def write_audit(audit: Audit, path: Path) -> Path:
    return _write(path, render_audit(audit))
