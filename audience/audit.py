"""`audience audit PLATFORM:HANDLE`: does this account's audience look organic?

One page for a person vetting an account: current size, history span, growth, flagged days
with their evidence, an organic-adjusted audience estimate (the followers minus what the
suspected purchases added and kept) and a plain verdict with how sure it can be. An account
the warehouse has never seen is fetched live; the page then says what history is missing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from audience.config import DetectionSettings, Settings
from audience.errors import plural
from transforms.verdicts import ACCOUNT_VERDICTS, judge_account, verdict_words

ANOMALY_COLUMNS = (
    "day, kind, attribution, suspected_purchase, severity, explanation, excess, gain, "
    "retention_7, retention_30, window_start, verdict, confidence, evidence"
)
METRIC_COLUMNS = (
    "size_tier, growth_abs_7, growth_abs_28, growth_rel_28, growth_abs_90, growth_rel_90, "
    "avg_daily_gain_28, growth_percentile, next_milestone, milestone_date, "
    "follower_following_ratio, followers_per_post_90, growth_consistency, flagged_growth_share_90"
)


# `verdict_code` in `audit --format json`: what the prose verdict says, for scripts
VERDICT_CODES = (*ACCOUNT_VERDICTS, "no_figure")
NO_ANSWER = frozenset({"not_enough_history", "no_figure"})  # `audit` exits 4: it cannot judge


@dataclass
class Estimate:
    """The audience without what the suspected purchases added and kept."""

    followers: float
    added: float  # growth above normal on suspected-purchase days
    kept: float  # of which still there (by the latest retention measured)
    organic: float  # followers - kept
    low: float  # if every bought follower were still there
    high: float  # if the unmeasured ones had all gone


@dataclass
class Audit:
    platform: str
    handle: str
    as_of: date
    display_name: str | None = None
    tracked: bool = False
    followers: float | None = None
    following: float | None = None
    posts: float | None = None
    size_day: date | None = None
    size_source: str = "warehouse"  # or "live" (fetched now, not stored)
    first_day: date | None = None
    last_day: date | None = None
    days_observed: int = 0
    collected_days: int = 0  # of which collected from the platform's API (the rest imported)
    analysed_through: date | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    flagged: list[dict[str, Any]] = field(default_factory=list)
    # its platform's events on days it has no flag of its own, with its z and gain those days
    platform_events: list[dict[str, Any]] = field(default_factory=list)
    estimate: Estimate | None = None
    verdict: str = ""
    confidence: str = ""  # high, medium, low, none
    account_verdict: str = ""  # a key of transforms.verdicts.ACCOUNT_VERDICTS
    reasons: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    series: list[tuple[date, float]] = field(default_factory=list)  # followers by day, for charts

    @property
    def account(self) -> str:
        return f"{self.platform}:{self.handle}"

    @property
    def span_days(self) -> int:
        if self.first_day is None or self.last_day is None:
            return 0
        return (self.last_day - self.first_day).days + 1

    @property
    def verdict_code(self) -> str:
        """The verdict for scripts: one of VERDICT_CODES."""
        if self.followers is None:
            return "no_figure"
        return self.account_verdict or "not_enough_history"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["series"]
        data["account"] = self.account
        data["span_days"] = self.span_days
        data["verdict_code"] = self.verdict_code
        return data


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = con.sql(sql, params=params).pl().to_dicts()
    return rows[0] if rows else None


def load(con: duckdb.DuckDBPyConnection, audit: Audit) -> None:
    """Fill the audit from the warehouse (history, analysis, anomalies)."""
    key = [audit.platform, audit.handle]
    account = _one(
        con, "SELECT tracked, display_name FROM accounts WHERE platform = ? AND handle = ?", key
    )
    if account:
        audit.tracked = bool(account["tracked"])
        audit.display_name = account["display_name"]
    history = _one(
        con,
        "SELECT min(day) AS first_day, max(day) AS last_day, count(*) AS days, "
        "arg_max(followers, day) AS followers, arg_max(following, day) AS following, "
        "arg_max(posts, day) AS posts, count(*) FILTER (WHERE source LIKE 'api:%') AS collected "
        "FROM snapshots WHERE platform = ? AND handle = ? AND day <= ?",
        [*key, audit.as_of],
    )
    if history and history["days"]:
        audit.first_day, audit.last_day = history["first_day"], history["last_day"]
        audit.days_observed = int(history["days"])
        audit.followers, audit.following, audit.posts = (
            history["followers"],
            history["following"],
            history["posts"],
        )
        audit.size_day = audit.last_day
        audit.collected_days = int(history["collected"])
    state = _one(con, "SELECT analysed_through FROM analysis_state", [])
    audit.analysed_through = state["analysed_through"] if state else None
    audit.metrics = (
        _one(
            con,
            f"SELECT {METRIC_COLUMNS} FROM account_metrics WHERE platform = ? AND handle = ?",
            key,
        )
        or {}
    )
    latest = _one(
        con,
        "SELECT baseline_median, baseline_sigma FROM daily_metrics WHERE platform = ? AND handle = ? "
        "AND day <= ? AND baseline_sigma IS NOT NULL ORDER BY day DESC LIMIT 1",
        [*key, audit.as_of],
    )
    if latest:
        audit.metrics |= {f"latest_{k}": v for k, v in latest.items()}
    audit.series = [
        (d, float(f))
        for d, f in con.execute(
            "SELECT day, followers FROM snapshots WHERE platform = ? AND handle = ? AND day <= ? "
            "ORDER BY day",
            [*key, audit.as_of],
        ).fetchall()
    ]
    audit.flagged = (
        con.sql(
            f"SELECT {ANOMALY_COLUMNS} FROM anomalies WHERE platform = ? AND handle = ? AND day <= ? "
            "ORDER BY day, kind",
            params=[*key, audit.as_of],
        )
        .pl()
        .to_dicts()
    )
    audit.platform_events = (
        con.sql(
            """
            SELECT e.day, e.kind, e.platform, e.thresholds, m.robust_z, m.daily_gain
            FROM (
                SELECT platform, day, kind, any_value(thresholds) AS thresholds FROM anomalies
                WHERE platform = $platform AND attribution = 'platform_event' AND day <= $as_of
                GROUP BY ALL
            ) e
            JOIN daily_metrics m
              ON m.platform = e.platform AND m.handle = $handle AND m.day = e.day AND m.observed
            WHERE NOT EXISTS (
                SELECT 1 FROM anomalies o
                WHERE o.platform = e.platform AND o.handle = $handle AND o.day = e.day
            )
            ORDER BY e.day, e.kind
            """,
            params={"platform": audit.platform, "handle": audit.handle, "as_of": audit.as_of},
        )
        .pl()
        .to_dicts()
    )


def _took_part(audit: Audit, t: DetectionSettings) -> list[str]:
    """The platform events the account moved with (by the rule the event used), worded as the
    event's own anomalies word them."""
    from transforms.anomalies import platform_event_text
    from transforms.signals import moved_unusually

    out = []
    for event in audit.platform_events:
        limit = json.loads(event["thresholds"] or "{}").get("platform_event_z", t.platform_event_z)
        up = event["kind"] != "drop"
        if moved_unusually(event["robust_z"], event["daily_gain"], float(limit), up):
            out.append(
                f"on {event['day']} it {'gained' if up else 'lost'} {abs(event['daily_gain']):,.0f} "
                f"as {platform_event_text(event)}: a platform-wide event, not a purchase"
            )
    return out


def estimate(followers: float, flagged: list[dict[str, Any]]) -> Estimate:
    """Followers minus what the suspected purchases added and kept.

    Kept is the excess times the latest retention measured (30 days, else 7), capped at 1; a
    jump too recent for either counts as kept in full, and the range shows it might all go.
    """
    added = kept = unmeasured = 0.0
    for row in flagged:
        if not row["suspected_purchase"]:
            continue
        excess = max(float(row["excess"] or 0.0), 0.0)
        retention = row["retention_30"] if row["retention_30"] is not None else row["retention_7"]
        added += excess
        if retention is None:
            kept += excess
            unmeasured += excess
        else:
            kept += excess * min(max(float(retention), 0.0), 1.0)
    kept = min(kept, followers)
    return Estimate(
        followers=followers,
        added=added,
        kept=kept,
        organic=followers - kept,
        low=max(followers - min(added, followers), 0.0),
        high=followers - max(kept - unmeasured, 0.0),
    )


def _evidence_reason(row: dict[str, Any]) -> str:
    """One flagged day's verdict and the evidence it rests on, as the anomaly's text gives it."""
    text = str(row["explanation"])
    reason = (
        text[text.index("Verdict: ") :] if "Verdict: " in text else verdict_words(row["verdict"])
    )
    return f"{row['kind']} on {row['day']}: {reason}"


def _detection_limits(audit: Audit, t: DetectionSettings) -> list[str]:
    """What a purchase would have to look like to be seen, at the account's current size."""
    followers = audit.followers or 0.0
    sigma = audit.metrics.get("latest_baseline_sigma")
    if sigma is None:
        return []
    day = max(t.spike_z * sigma, t.spike_min_relative * followers, float(t.spike_min_absolute))
    week = max(
        t.drip_z * sigma * math.sqrt(t.drip_window_days),
        t.drip_min_relative * followers,
        float(t.drip_min_absolute),
    )
    return [
        f"at today's size a purchase shows when it adds more than about {day:,.0f} followers above "
        f"normal in a day, or {week:,.0f} over {t.drip_window_days} days; smaller or slower ones "
        "would pass as organic"
    ]


def judge(audit: Audit, settings: Settings) -> None:
    """The verdict, how sure it is, and why."""
    t = settings.detection
    needed = t.min_history_days + 1
    if audit.followers is None:
        audit.verdict, audit.confidence = "cannot say: no figure for this account", "none"
        return
    if audit.followers is not None and audit.flagged:
        audit.estimate = estimate(audit.followers, audit.flagged)
    if (
        audit.analysed_through is not None
        and audit.last_day
        and audit.analysed_through < audit.last_day
    ):
        audit.limits.append(
            f"the analysis runs through {audit.analysed_through} but figures go to {audit.last_day}: "
            "run `audience run --skip-collect` for the latest days"
        )
    if audit.first_day is not None and audit.span_days > 0:
        coverage = audit.days_observed / audit.span_days
        audit.limits.append(
            f"nothing is known before {audit.first_day}; {audit.days_observed} of {audit.span_days} "
            f"days since have a figure ({coverage:.0%}); a change across a gap is spread over it"
        )
    audit.limits += _detection_limits(audit, t)
    purchases = [r for r in audit.flagged if r["suspected_purchase"]]
    events = _took_part(audit, t)
    account = judge_account(
        [(str(r["day"]), r["kind"], r["verdict"], r["confidence"]) for r in audit.flagged],
        audit.days_observed,
        min_days=needed,
    )
    audit.account_verdict = account.code
    if account.code == "bought_audience_likely" and audit.estimate:
        share = audit.estimate.kept / audit.followers if audit.followers else 0.0
        audit.verdict = (
            f"bought audience likely: {plural(len(purchases), 'jump')} with evidence of a purchase "
            f"added about {audit.estimate.added:,.0f} followers above normal; about "
            f"{audit.estimate.kept:,.0f} of the {audit.followers:,.0f} ({share:.0%}) look bought "
            "and still there"
        )
        audit.confidence = account.confidence
        audit.reasons += [_evidence_reason(r) for r in purchases]
        if not any(r["retention_7"] is not None for r in purchases):
            audit.reasons.append(
                "the jump is too recent to know how much of it stays: the estimate's range covers that"
            )
        audit.reasons += events
        return
    if account.code == "unusual_growth_to_review":
        review = [r for r in audit.flagged if r["verdict"] in ("unexplained", "pending")]
        audit.verdict = (
            f"unusual growth to review: {plural(len(review), 'jump')} the data can neither explain "
            "nor show to be bought"
        )
        audit.confidence = "low"
        audit.reasons += [_evidence_reason(r) for r in review]
        audit.reasons += events
        return
    if audit.days_observed < needed:
        first_verdict = (audit.last_day or audit.as_of) + timedelta(
            days=needed - audit.days_observed
        )
        audit.verdict = (
            f"not enough history yet: {plural(audit.days_observed, 'day')} of figures; a verdict needs at "
            f"least {needed} (a baseline of {t.min_history_days} days to compare against)"
        )
        audit.confidence = "none"
        audit.reasons.append(
            f"tracked nightly from now, the first verdict is possible on {first_verdict}"
            if audit.tracked
            else f"track it (`audience accounts add {audit.account}`) and the first verdict is "
            f"possible on {max(first_verdict, audit.as_of + timedelta(days=needed - 1))}"
        )
        return
    # how sure: the days with a figure, not the calendar span (one stray old figure adds no
    # evidence, and gaps longer than max_gap_days are not even interpolated)
    explained = [r for r in audit.flagged if not r["suspected_purchase"]]
    audit.verdict = f"no sign of bought audience in {audit.days_observed} days of history"
    long_enough = audit.days_observed >= 180 and audit.days_observed >= 0.9 * audit.span_days
    audit.confidence = "high" if long_enough else "medium" if audit.days_observed >= 60 else "low"
    if explained:
        kinds = sorted({f"{r['kind']} ({verdict_words(r['verdict'])})" for r in explained})
        audit.reasons.append(
            f"{plural(len(explained), 'unusual day')}, each explained by something other than a purchase: "
            + ", ".join(kinds)
        )
    else:
        audit.reasons.append(
            "no day stood out from the account's own usual growth"
            + (" but for platform-wide events" if events else "")
        )
    audit.reasons += events
    if audit.confidence != "high":
        audit.reasons.append(
            "a longer, fuller history would make this surer (high confidence needs 180 days with "
            "a figure, 90% of the days since the first)"
        )


def live_figures(audit: Audit, settings: Settings) -> bool:
    """Today's size from the platform (not stored); False, with the reason, if it gave none."""
    from audience.nightly import fetch

    (result,) = fetch([(audit.platform, audit.handle)], settings)
    if result.outcome != "ok" or result.followers is None:
        audit.reasons.append(f"{audit.platform} answered {result.outcome}: {result.reason}")
        return False
    audit.followers = float(result.followers)
    audit.following = None if result.following is None else float(result.following)
    audit.posts = None if result.posts is None else float(result.posts)
    audit.display_name = result.display_name or audit.display_name
    audit.size_day, audit.size_source = audit.as_of, "live"
    if result.rounding:
        audit.limits.append(f"{audit.platform} rounds this count ({result.rounding})")
    return True


def run_audit(
    warehouse: Path,
    settings: Settings,
    platform: str,
    handle: str,
    as_of: date,
    *,
    live: bool,
    fetch: bool = True,
) -> Audit:
    """Everything the warehouse knows of the account; the platform's figure when it knows none.

    `fetch` False (an audit of a past day: the platform only knows today's size): never asked.
    """
    from pipeline.analyse import shadow_as_of
    from warehouse.db import open_warehouse

    audit = Audit(platform, handle, as_of)
    if warehouse.exists():
        with open_warehouse(
            warehouse, read_only=True, timeout_s=settings.warehouse.lock_timeout_s
        ) as con:
            # before the last analysed day: the analysis as it stood then, from that day's data
            shadow_as_of(con, settings.detection, as_of, accounts=[(platform, handle)])
            load(con, audit)
    audit.tracked = audit.tracked or any(
        (a.platform, a.handle) == (platform, handle) for a in settings.accounts
    )
    if audit.days_observed:
        if live:
            live_figures(audit, settings)  # refreshes the size only; the history is the stored one
    elif fetch and live_figures(audit, settings):
        audit.first_day = audit.last_day = as_of
        audit.days_observed = 1
        audit.limits.insert(
            0,
            f"{audit.account} has no history in this warehouse: only today's figure, fetched from "
            f"{platform} now and not stored; {platform}'s API offers no past counts, so its "
            "history starts when it is tracked",
        )
    judge(audit, settings)
    return audit


def _n(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _signed(value: float | None, rel: float | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:+,.0f}"
    return text + (f" ({rel:+.1%})" if rel is not None else "")


def sections(audit: Audit) -> list[tuple[str, list[str]]]:
    """The page's sections (heading, lines), for the text and the HTML page alike."""
    out: list[tuple[str, list[str]]] = [
        (
            f"Verdict: {audit.verdict}",
            [f"Confidence: {audit.confidence}", *(f"- {r}" for r in audit.reasons)],
        )
    ]
    lines: list[str] = []
    out.append(("Size", lines))
    if audit.followers is None:
        lines.append("  no figure")
    else:
        extra = [
            f"{_n(audit.following)} following" if audit.following is not None else "",
            f"{_n(audit.posts)} posts" if audit.posts is not None else "",
        ]
        where = "fetched live, not stored" if audit.size_source == "live" else "from the warehouse"
        lines.append(
            f"  {_n(audit.followers)} followers on {audit.size_day} ({where})"
            + (f"; {', '.join(e for e in extra if e)}" if any(extra) else "")
        )
    lines = []
    out.append(("History", lines))
    if audit.first_day is None or (audit.span_days <= 1 and audit.size_source == "live"):
        lines.append("  none in this warehouse")
    else:
        lines.append(
            f"  {audit.days_observed:,} days with a figure ({audit.collected_days:,} collected from "
            f"{audit.platform}, {audit.days_observed - audit.collected_days:,} imported), "
            f"between {audit.first_day} and {audit.last_day} ({audit.span_days:,} calendar days); "
            + ("tracked nightly" if audit.tracked else "not tracked")
        )
    m = audit.metrics
    if m.get("growth_abs_28") is not None or m.get("growth_abs_7") is not None:
        lines = []
        out.append(("Growth", lines))
        lines += [
            f"  7 days {_signed(m.get('growth_abs_7'))}, 28 days "
            f"{_signed(m.get('growth_abs_28'), m.get('growth_rel_28'))}, 90 days "
            f"{_signed(m.get('growth_abs_90'), m.get('growth_rel_90'))}; "
            f"average {m.get('avg_daily_gain_28') or 0:+,.1f} a day over 28 days",
        ]
        if m.get("growth_percentile") is not None:
            lines.append(
                f"  28-day growth at the {m['growth_percentile']:.0f}th percentile of the tracked "
                f"{audit.platform} accounts of its size ({m.get('size_tier')})"
            )
        if m.get("next_milestone") is not None and m.get("milestone_date") is not None:
            lines.append(f"  {m['next_milestone']:,} expected around {m['milestone_date']}")
        quality = [
            f"{m['follower_following_ratio']:,.1f} followers per account followed"
            if m.get("follower_following_ratio") is not None
            else "",
            f"{m['followers_per_post_90']:,.1f} followers gained per post (90 days)"
            if m.get("followers_per_post_90") is not None
            else "",
            f"net growth in {m['growth_consistency']:.0%} of the last 13 weeks"
            if m.get("growth_consistency") is not None
            else "",
            f"{m['flagged_growth_share_90']:.0%} of the 90 days' growth on suspected-purchase days"
            if m.get("flagged_growth_share_90") is not None
            else "",
        ]
        if any(quality):
            lines.append("  " + "; ".join(q for q in quality if q))
    if audit.estimate:
        e = audit.estimate
        out.append(
            (
                "Organic-adjusted audience",
                [
                    f"  about {_n(e.organic)} (between {_n(e.low)} and {_n(e.high)}): {_n(e.followers)} "
                    f"followers minus {_n(e.kept)} of the {_n(e.added)} that suspected purchases added "
                    "above normal and that were still there when last measured",
                ],
            )
        )
    lines = []
    out.append((f"Flagged days ({len(audit.flagged)})", lines))
    if not audit.flagged:
        lines.append("  none")
    for row in audit.flagged:
        label = (
            "SUSPECTED PURCHASE"
            if row["suspected_purchase"]
            else row["attribution"].replace("_", " ")
        )
        lines += [f"  {row['day']} {row['kind']} [{label}]", f"    {row['explanation']}"]
    if audit.limits:
        out.append(("What this cannot see", [f"  - {limit}" for limit in audit.limits]))
    return out


def title(audit: Audit) -> str:
    """The heading; the display name is the account's own text, cleaned of control characters."""
    from alerts.message import clean

    name = f' ("{clean(audit.display_name, 120)}")' if audit.display_name else ""
    return f"Audit of {audit.account}{name} as of {audit.as_of}"


def render_text(audit: Audit) -> str:
    """The one-page answer, as plain text."""
    lines = [title(audit)]
    for heading, body in sections(audit):
        lines += ["", heading, *(line if line.startswith("  ") else f"  {line}" for line in body)]
    return "\n".join(lines)
