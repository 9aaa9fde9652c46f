"""The audit of one account as a record (`Audit`), and the page that shows it: its sections, as
plain text (`render_text`) and as HTML with its chart (`render_audit`).

`audience/audit.py` fills and judges the record; this module only words it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from core.platforms import audience_word
from reports.charts import LEGEND, chart
from reports.pages import PAGES, percentile_text, write_page
from transforms.engagement import comparison_words
from transforms.verdicts import ACCOUNT_VERDICTS, verdict_words
from transforms.wording import clean
from warehouse.audit_reads import (
    AccountMetrics,
    Baseline,
    FlaggedDay,
    PlatformEvent,
    RecentDay,
)

# `verdict_code` in `audit --format json`: what the prose verdict says, for scripts
VERDICT_CODES = (*ACCOUNT_VERDICTS, "no_figure")

Section = tuple[str, list[str]]


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
class EngagementNow:
    """An account without history: its newest posts read now (not stored) and its rate against
    the tracked accounts of its platform and size tier (transforms.engagement)."""

    posts_sampled: int
    median_interactions: float | None
    engagement_rate: float | None  # median interactions per post / followers
    size_tier: str | None
    tier_median: float | None  # of the other tracked accounts of its platform and tier
    tier_accounts: int
    comparison: str | None  # transforms.engagement.COMPARISONS
    text: str


@dataclass
class SampleNow:
    """An account without history: its newest followers against earlier ones further down its
    newest-first list, read now and judged by transforms.profiles (not stored: no count
    history places them in time)."""

    newest: int  # followers judged, positions 0 .. newest - 1 of the list
    newest_flagged: int  # of them, looking inauthentic
    newest_share: float
    newest_low: float  # Wilson interval
    newest_high: float
    earlier: int  # followers judged further down the list
    earlier_from: int  # the list position they start at (0 = the newest follower)
    earlier_flagged: int
    earlier_share: float
    p_value: float  # one-sided two-proportion z-test: the newest share is higher
    fisher_p_value: float
    reading: str | None  # "sample" (decisive), "sample_like_baseline", None (neither)
    requests: int
    text: str  # "of 100 newest followers, 81 (72-87%) look inauthentic, against 4% of ..."


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
    collected_days: int = 0  # of which collected from the platform's API
    rebuilt_days: int = (
        0  # and rebuilt from GitHub's stargazers (backfill:github; the rest imported)
    )
    analysed_through: date | None = None
    metrics: AccountMetrics | None = None
    flagged: list[FlaggedDay] = field(default_factory=list)
    # its platform's events on days it has no flag of its own, with its z and gain those days
    platform_events: list[PlatformEvent] = field(default_factory=list)
    estimate: Estimate | None = None
    verdict: str = ""
    confidence: str = ""  # high, medium, low, none
    account_verdict: str = ""  # a key of transforms.verdicts.ACCOUNT_VERDICTS
    reasons: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    series: list[tuple[date, float]] = field(default_factory=list)  # followers by day, for charts
    baseline: Baseline | None = None  # the latest robust baseline (shown within `metrics`)
    # for the HTML page: its analysed days (the chart) and its last 30 days (the table)
    chart_days: list[dict[str, object]] = field(default_factory=list)
    recent: list[RecentDay] = field(default_factory=list)
    peer_group: int = 0  # accounts of its platform and size tier (its percentile's group)
    # its follower samples' summaries (sample_summaries rows: shares, never a follower's
    # profile), newest day first; `sampled`: what `audit --sample` did now
    samples: list[dict[str, object]] = field(default_factory=list)
    sampled: list[str] = field(default_factory=list)
    # an account without history (audience/audit_now.py): what it judged now, what failed,
    # and what only tracking gives
    engagement_now: EngagementNow | None = None
    sample_now: SampleNow | None = None
    judged_now: list[str] = field(default_factory=list)
    failed_now: list[str] = field(default_factory=list)  # reads that answered an error
    needs_tracking: list[str] = field(default_factory=list)

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

    def as_dict(self) -> dict[str, object]:
        """The record for `--format json`: metrics and the latest baseline as one mapping."""
        data = asdict(self)
        del data["series"], data["baseline"], data["chart_days"], data["recent"]
        data["metrics"] = (asdict(self.metrics) if self.metrics else {}) | (
            {f"latest_{k}": v for k, v in asdict(self.baseline).items()} if self.baseline else {}
        )
        data["account"] = self.account
        data["span_days"] = self.span_days
        data["verdict_code"] = self.verdict_code
        return data


def _n(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _signed(value: float | None, rel: float | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:+,.0f}"
    return text + (f" ({rel:+.1%})" if rel is not None else "")


def _size(audit: Audit) -> Section:
    if audit.followers is None:
        return ("Size", ["  no figure"])
    extra = [
        f"{_n(audit.following)} following" if audit.following is not None else "",
        f"{_n(audit.posts)} posts" if audit.posts is not None else "",
    ]
    where = "fetched live, not stored" if audit.size_source == "live" else "from the warehouse"
    return (
        "Size",
        [
            f"  {_n(audit.followers)} {audience_word(audit.platform, audit.handle)} on "
            f"{audit.size_day} ({where})"
            + (f"; {', '.join(e for e in extra if e)}" if any(extra) else "")
        ],
    )


def _history(audit: Audit) -> Section:
    if audit.first_day is None or (audit.span_days <= 1 and audit.size_source == "live"):
        return ("History", ["  none in this warehouse"])
    return (
        "History",
        [
            f"  {audit.days_observed:,} days with a figure ({audit.collected_days:,} collected from "
            f"{audit.platform}, "
            + (
                f"{audit.rebuilt_days:,} rebuilt from its stargazers, "
                if audit.rebuilt_days
                else ""
            )
            + f"{audit.days_observed - audit.collected_days - audit.rebuilt_days:,} imported), "
            f"between {audit.first_day} and {audit.last_day} ({audit.span_days:,} calendar days); "
            + ("tracked nightly" if audit.tracked else "not tracked")
        ],
    )


def _growth(audit: Audit, m: AccountMetrics) -> Section:
    lines = [
        f"  7 days {_signed(m.growth_abs_7)}, 28 days "
        f"{_signed(m.growth_abs_28, m.growth_rel_28)}, 90 days "
        f"{_signed(m.growth_abs_90, m.growth_rel_90)}; "
        f"average {m.avg_daily_gain_28 or 0:+,.1f} a day over 28 days",
    ]
    if m.size_tier is not None:
        lines.append(
            "  28-day growth compared with the tracked accounts of its platform and size: "
            + percentile_text(m.growth_percentile, audit.platform, m.size_tier, audit.peer_group)
        )
    if m.next_milestone is not None and m.milestone_date is not None:
        lines.append(f"  {m.next_milestone:,} expected around {m.milestone_date}")
    quality = [
        (m.follower_following_ratio, "{:,.1f} followers per account followed"),
        (m.followers_per_post_90, "{:,.1f} followers gained per post (90 days)"),
        (m.growth_consistency, "net growth in {:.0%} of the last 13 weeks"),
        (m.flagged_growth_share_90, "{:.0%} of the 90 days' growth on suspected-purchase days"),
    ]
    shown = [pattern.format(value) for value, pattern in quality if value is not None]
    if shown:
        lines.append("  " + "; ".join(shown))
    return ("Growth", lines)


def _organic(audit: Audit, e: Estimate) -> Section:
    """The estimate in the account's own word (stars for a repository); its range only when
    it has one (a range of zero width is the figure itself)."""
    between = f" (between {_n(e.low)} and {_n(e.high)})" if _n(e.low) != _n(e.high) else ""
    return (
        "Organic-adjusted audience",
        [
            f"  about {_n(e.organic)}{between}: {_n(e.followers)} "
            f"{audience_word(audit.platform, audit.handle)} minus {_n(e.kept)} of the "
            f"{_n(e.added)} that suspected purchases added above normal and that were still "
            "there when last measured",
        ],
    )


def _flagged(audit: Audit) -> Section:
    lines = [] if audit.flagged else ["  none"]
    for row in audit.flagged:
        label = (
            "SUSPECTED PURCHASE" if row.suspected_purchase else row.attribution.replace("_", " ")
        )
        lines += [f"  {row.day} {row.kind} [{label}]", f"    {row.explanation}"]
    return (f"Flagged days ({len(audit.flagged)})", lines)


def _pct(value: object) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else "?"


def _who_arrived(audit: Audit) -> Section:
    """Each sample's share that looks inauthentic, with its interval, against its baseline."""
    lines = []
    for s in audit.samples:
        head = f"  {s['day']} ({s['kind']}, {s['what']})"
        if s["status"] != "done":
            lines.append(f"{head}: {s['status']}: {s['note'] or 'no reason given'}")
            continue
        line = (
            f"{head}: {s['flagged']} of {s['size']} look inauthentic, {_pct(s['share'])} "
            f"({_pct(s['share_low'])}-{_pct(s['share_high'])})"
        )
        if s["kind"] == "jump" and s["baseline_share"] is not None:
            p = s["p_value"]
            line += (
                f", against {_pct(s['baseline_share'])} of ordinary days' "
                f"({s['baseline_size']})"
                + (f"; one-sided p = {float(p):.2g}" if isinstance(p, int | float) else "")
            )
        lines.append(line)
    lines += [f"  - {line}" for line in audit.sampled]
    return ("Who arrived (follower samples)", lines)


def sections(audit: Audit) -> list[Section]:
    """The page's sections (heading, lines), for the text and the HTML page alike."""
    out: list[Section] = [
        (
            f"Verdict: {audit.verdict}",
            [f"Confidence: {audit.confidence}", *(f"- {r}" for r in audit.reasons)],
        ),
        _size(audit),
        _history(audit),
    ]
    m = audit.metrics
    if m is not None and (m.growth_abs_28 is not None or m.growth_abs_7 is not None):
        out.append(_growth(audit, m))
    engagement = m and comparison_words(
        audit.platform,
        m.size_tier,
        m.engagement_rate,
        m.engagement_tier_median,
        m.engagement_tier_accounts,
        m.engagement_comparison,
    )
    if m and engagement:
        out.append(("Engagement", [f"  {engagement} (posts read on {m.engagement_day})"]))
    if audit.estimate:
        out.append(_organic(audit, audit.estimate))
    if audit.judged_now:
        out.append(("Judged now, without history", [f"  - {line}" for line in audit.judged_now]))
    if audit.needs_tracking:
        out.append(("What only tracking gives", [f"  - {line}" for line in audit.needs_tracking]))
    out.append(_flagged(audit))
    if audit.samples or audit.sampled:
        out.append(_who_arrived(audit))
    if audit.limits:
        out.append(("What this cannot see", [f"  - {limit}" for limit in audit.limits]))
    return out


def title(audit: Audit) -> str:
    """The heading; the display name is the account's own text, cleaned of control characters."""
    name = f' ("{clean(audit.display_name, 120)}")' if audit.display_name else ""
    return f"Audit of {audit.account}{name} as of {audit.as_of}"


def render_text(audit: Audit) -> str:
    """The one-page answer, as plain text."""
    lines = [title(audit)]
    for heading, body in sections(audit):
        lines += ["", heading, *(line if line.startswith("  ") else f"  {line}" for line in body)]
    return "\n".join(lines)


# what each account verdict means, for a reader who is not a specialist
_PLAIN = {
    "bought_audience_likely": "Part of this audience was probably bought.",
    "unusual_growth_to_review": (
        "Some of this growth is unusual and the data can neither explain it nor show it was "
        "bought: a person should look at the days below."
    ),
    "no_sign_of_bought_audience": "This audience looks like it grew on its own.",
    "not_enough_history": "Too early to say: there are not enough days of figures yet.",
}
_SURE = {
    "high": "High confidence: the evidence is clear.",
    "medium": "Medium confidence: the evidence points this way but is not conclusive.",
    "low": "Low confidence: treat this as a lead to check, not a finding.",
    "none": "No confidence either way yet.",
}


def _figures(audit: Audit) -> list[tuple[str, list[str]]]:
    """The page's figure sections (all but the verdict and the flagged days, shown apart)."""
    shown = []
    for heading, lines in sections(audit)[1:]:
        if heading.startswith("Flagged days"):
            continue
        shown.append((heading, [line.strip().removeprefix("- ") for line in lines]))
    return shown


def _plain_reasons(reasons: list[str]) -> list[str]:
    """The page's "why": each piece of evidence its own bullet, without the detector's
    "Verdict: ... (high confidence):" that the box above already says ("2,987 of the 5,005
    gained (60%) were lost in the 30 days after, beyond its usual net gain (spike on
    2026-08-10)")."""
    plain: list[str] = []
    for reason in reasons:
        head, marker, rest = reason.partition(": Verdict: ")
        if not marker:
            plain.append(reason)
            continue
        phrases = rest.split("): ", 1)[-1].rstrip(".")
        for phrase in phrases.split("; "):
            if phrase:
                plain.append(f"{phrase[0].upper()}{phrase[1:]} ({head})")
    return plain


def render_audit(audit: Audit) -> str:
    """The audit of one account as one HTML page: the verdict in plain words, the chart, the
    evidence of each flagged day, the figures, and the last 30 days as a table."""
    code = audit.verdict_code
    words = ACCOUNT_VERDICTS.get(code, "cannot say")
    detail = audit.verdict.split(": ", 1)[1] if ": " in audit.verdict else audit.verdict
    why = _plain_reasons(audit.reasons)
    return PAGES.get_template("audit.html").render(
        title=title(audit),
        account=audit.account,
        code=code,
        verdict_words=words,
        plain=_PLAIN.get(code, "We cannot say: there is no figure for this account."),
        detail=detail,
        sure=_SURE.get(audit.confidence or "none", audit.confidence),
        confidence=audit.confidence or "none",
        why=why[:3],
        more=max(len(why) - 3, 0),
        chart_of_account=chart(
            audit.chart_days
            or [{"day": d, "followers": f, "observed": True} for d, f in audit.series],
            audit.flagged,
            f"Audience of {audit.account} by day, with its flagged days",
        ),
        legend_items=LEGEND,
        flagged=[(row, verdict_words(row.verdict)) for row in audit.flagged],
        figures=_figures(audit),
        recent=audit.recent,
        audience=audience_word(audit.platform, audit.handle),
    )


def write_audit(audit: Audit, path: Path) -> Path:
    return write_page(path, render_audit(audit))
