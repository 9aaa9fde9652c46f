"""`audience audit PLATFORM:HANDLE`: does this account's audience look organic?

One page for a person vetting an account: current size, history span, growth, flagged days
with their evidence, an organic-adjusted audience estimate (the followers minus what the
suspected purchases added and kept) and a plain verdict with how sure it can be. An account
the warehouse has never seen is fetched live; the page then says what history is missing,
what it could judge now (pipeline.audit_now) and what only tracking gives.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

from audience.audit_sources import (
    analysed_alone,
    judge_now,
    live_figures,
    load,
    rebuilt_history,
    rebuilt_sample,
    sample_refusal,
    take_sample,
)
from core.detection import DetectionSettings
from core.errors import plural
from core.platforms import audience_word
from core.settings import Settings
from reports.audit_page import VERDICT_CODES, Audit, Estimate, render_text
from transforms.verdicts import judge_account, verdict_words
from warehouse.audit_reads import FlaggedDay

__all__ = ["NO_ANSWER", "VERDICT_CODES", "Audit", "render_text", "run_audit"]

NO_ANSWER = frozenset({"not_enough_history", "no_figure"})  # `audit` exits 4: it cannot judge


def _took_part(audit: Audit, t: DetectionSettings) -> list[str]:
    """The platform events the account moved with (by the rule the event used), worded as the
    event's own anomalies word them."""
    from transforms.explanation import platform_event_text
    from transforms.signals import moved_unusually

    out = []
    for event in audit.platform_events:
        limit = json.loads(event.thresholds or "{}").get("platform_event_z", t.platform_event_z)
        up = event.kind != "drop"
        if moved_unusually(event.robust_z, event.daily_gain, float(limit), up):
            out.append(
                f"on {event.day} it {'gained' if up else 'lost'} {abs(event.daily_gain or 0):,.0f} "
                f"as {platform_event_text(asdict(event))}: a platform-wide event, not a purchase"
            )
    return out


def estimate(followers: float, flagged: list[FlaggedDay]) -> Estimate:
    """Followers minus what the suspected purchases added and kept.

    Kept is the excess times the latest retention measured (30 days, else 7), capped at 1; a
    jump too recent for either counts as kept in full, and the range shows it might all go.
    """
    added = kept = unmeasured = 0.0
    for row in flagged:
        if not row.suspected_purchase:
            continue
        excess = max(float(row.excess or 0.0), 0.0)
        retention = row.retention_30 if row.retention_30 is not None else row.retention_7
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


def _evidence_reason(row: FlaggedDay) -> str:
    """One flagged day's verdict and the evidence it rests on, as the anomaly's text gives it."""
    text = str(row.explanation)
    reason = text[text.index("Verdict: ") :] if "Verdict: " in text else verdict_words(row.verdict)
    return f"{row.kind} on {row.day}: {reason}"


def _detection_limits(audit: Audit, t: DetectionSettings) -> list[str]:
    """What a purchase would have to look like to be seen, at the account's current size."""
    followers = audit.followers or 0.0
    sigma = audit.baseline.baseline_sigma if audit.baseline else None
    if sigma is None:
        return []
    # the share floor is met by the usual share, or by the smaller one far out of the noise
    day_share = min(
        t.spike_min_relative * followers,
        max(t.spike_strong_min_relative * followers, t.spike_strong_z * sigma),
    )
    day = max(t.spike_z * sigma, day_share, float(t.spike_min_absolute))
    week_sigma = sigma * math.sqrt(t.drip_window_days)
    week_share = min(
        t.drip_min_relative * followers,
        max(t.drip_strong_min_relative * followers, t.drip_strong_z * week_sigma),
    )
    week = max(t.drip_z * week_sigma, week_share, float(t.drip_min_absolute))
    word = audience_word(audit.platform, audit.handle)
    return [
        f"at today's size a purchase shows when it adds more than about {day:,.0f} {word} above "
        f"normal in a day, or {week:,.0f} over {t.drip_window_days} days; smaller or slower ones "
        "would pass as organic"
    ]


def judge(audit: Audit, settings: Settings) -> None:
    """The verdict, how sure it is, and why."""
    t = settings.detection
    if audit.followers is None:
        audit.verdict, audit.confidence = "cannot say: no figure for this account", "none"
        return
    if audit.flagged:
        audit.estimate = estimate(audit.followers, audit.flagged)
    audit.limits += _history_limits(audit)
    audit.limits += _detection_limits(audit, t)
    events = _took_part(audit, t)
    needed = t.min_history_days + 1
    account = judge_account(
        [(str(r.day), r.kind, r.verdict, r.confidence) for r in audit.flagged],
        audit.days_observed,
        min_days=needed,
    )
    audit.account_verdict = account.code
    if account.code == "bought_audience_likely" and audit.estimate:
        _bought(audit, audit.estimate, account.confidence, events)
    elif account.code == "unusual_growth_to_review":
        _to_review(audit, events)
    elif audit.days_observed < needed:
        _too_young(audit, t)
        if audit.judged_now:
            _judged_now(audit, t)
    else:
        _organic(audit, events)


def _history_limits(audit: Audit) -> list[str]:
    """What the stored history leaves out: days not yet analysed, days before and between."""
    limits = []
    if (
        audit.analysed_through is not None
        and audit.last_day
        and audit.analysed_through < audit.last_day
    ):
        limits.append(
            f"the analysis runs through {audit.analysed_through} but figures go to {audit.last_day}: "
            "run `audience run --skip-collect` for the latest days"
        )
    if audit.first_day is not None and audit.span_days > 0:
        coverage = audit.days_observed / audit.span_days
        limits.append(
            f"nothing is known before {audit.first_day}; {audit.days_observed} of {audit.span_days} "
            f"days since have a figure ({coverage:.0%}); a change across a gap is spread over it"
        )
    return limits


def _bought(audit: Audit, estimate: Estimate, confidence: str, events: list[str]) -> None:
    """Bought audience likely: how much was added and kept, and the jumps that show it."""
    purchases = [r for r in audit.flagged if r.suspected_purchase]
    share = estimate.kept / audit.followers if audit.followers else 0.0
    audit.verdict = (
        f"bought audience likely: {plural(len(purchases), 'jump')} with evidence of a purchase "
        f"added about {estimate.added:,.0f} {audience_word(audit.platform, audit.handle)} above "
        "normal; about "
        f"{estimate.kept:,.0f} of the {audit.followers or 0.0:,.0f} ({share:.0%}) look bought "
        "and still there"
    )
    audit.confidence = confidence
    audit.reasons += [_evidence_reason(r) for r in purchases]
    if not any(r.retention_7 is not None for r in purchases):
        audit.reasons.append(
            "the jump is too recent to know how much of it stays: the estimate's range covers that"
        )
    audit.reasons += events


def _to_review(audit: Audit, events: list[str]) -> None:
    """Unusual growth to review: jumps neither explained nor shown to be bought."""
    review = [r for r in audit.flagged if r.verdict in ("unexplained", "pending")]
    audit.verdict = (
        f"unusual growth to review: {plural(len(review), 'jump')} the data can neither explain "
        "nor show to be bought"
    )
    audit.confidence = "low"
    audit.reasons += [_evidence_reason(r) for r in review]
    audit.reasons += events


def _first_verdict(audit: Audit, t: DetectionSettings) -> str:
    """When a first count-based verdict is possible, and what it takes."""
    needed = t.min_history_days + 1
    first_verdict = (audit.last_day or audit.as_of) + timedelta(days=needed - audit.days_observed)
    return (
        f"tracked nightly from now, the first verdict is possible on {first_verdict}"
        if audit.tracked
        else f"track it (`audience accounts add {audit.account}`) and the first verdict is "
        f"possible on {max(first_verdict, audit.as_of + timedelta(days=needed - 1))}"
    )


def _too_young(audit: Audit, t: DetectionSettings) -> None:
    """Not enough history: how many days there are, and when a first verdict is possible."""
    needed = t.min_history_days + 1
    audit.verdict = (
        f"not enough history yet: {plural(audit.days_observed, 'day')} of figures; a verdict needs at "
        f"least {needed} (a baseline of {t.min_history_days} days to compare against)"
    )
    audit.confidence = "none"
    audit.reasons.append(_first_verdict(audit, t))


def _judged_now(audit: Audit, t: DetectionSettings) -> None:
    """An account without history, judged now on its newest followers and posts
    (pipeline.audit_now): the verdict stays "not enough history" unless its newest followers
    are decisively more inauthentic than earlier ones (as a stored sample is decisive: one-sided
    p below 0.01 and 20 points more), which makes it "unusual growth to review", never "bought
    audience likely": with no count history, when they came and whether they stay is unknown.
    Then what only tracking gives."""
    s = audit.sample_now
    if s is not None and s.reading == "sample":
        audit.account_verdict = "unusual_growth_to_review"
        audit.verdict = (
            "unusual growth to review: its newest followers look far more inauthentic than "
            "earlier ones; with no history of its counts, when they came and whether they stay "
            "is unknown, so it is not called bought"
        )
        audit.confidence = "low"
        audit.reasons.insert(0, f"{s.text}: a difference this large is decisive in a stored sample")
    elif s is not None and s.reading == "sample_like_baseline":
        audit.reasons.insert(
            0,
            f"its newest followers look like earlier ones ({s.text}): nothing in who arrived "
            "lately points to a purchase",
        )
    elif s is not None:
        audit.reasons.insert(
            0, f"its newest followers differ from earlier ones, but not decisively: {s.text}"
        )
    listed = audit.platform in ("bluesky", "mastodon")
    audit.needs_tracking += [
        "a daily history of its counts: the jumps, when they came, their shape (a spike, a "
        "drip) and how much of them stays (retention); a count-based verdict needs it",
        *(
            [
                "the followers of a jump's own days against ordinary days' (a follower sample "
                "placed in time by the daily counts)"
            ]
            if listed
            else []
        ),
        *(
            ["its engagement before and after a jump (the nightly engagement rows)"]
            if audit.engagement_now is not None
            else []
        ),
        _first_verdict(audit, t),
    ]


def _organic(audit: Audit, events: list[str]) -> None:
    """No sign of bought audience: how sure (by the days with a figure) and what the unusual
    days were instead."""
    # how sure: the days with a figure, not the calendar span (one stray old figure adds no
    # evidence, and gaps longer than max_gap_days are not even interpolated)
    explained = [r for r in audit.flagged if not r.suspected_purchase]
    audit.verdict = f"no sign of bought audience in {audit.days_observed} days of history"
    long_enough = audit.days_observed >= 180 and audit.days_observed >= 0.9 * audit.span_days
    audit.confidence = "high" if long_enough else "medium" if audit.days_observed >= 60 else "low"
    if explained:
        kinds = sorted({f"{r.kind} ({verdict_words(r.verdict)})" for r in explained})
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


def _sample_hint(audit: Audit, settings: Settings) -> None:
    """An account with a growth anomaly of its own and no follower sample (a repository
    backfilled, then audited; a jump no night sampled): the page's limits say how to take one
    (`audit --sample`) or why none can be taken (GitHub without a token: the requests a sample
    needs and the rate; the platform disabled). Nothing when a sample is stored or this audit
    said what it sampled."""
    from core.samples import SAMPLED_PLATFORMS
    from pipeline.star_sample import github_refusal

    repository = audit.platform == "github" and "/" in audit.handle
    if audit.samples or audit.sampled or audit.platform not in SAMPLED_PLATFORMS:
        return
    if audit.platform == "github" and not repository:
        return  # the order of a user's followers is undocumented: no sample, no hint
    jumps = [r for r in audit.flagged if r.kind in ("spike", "drip") and r.attribution == "account"]
    if not jumps:
        return
    # the jump `audit --sample` samples (warehouse.samples.growth_anomaly's order)
    day = max(jumps, key=lambda r: (r.excess if r.excess is not None else r.gain or 0, r.day)).day
    what = "stargazer" if repository else "follower"
    head = f"no {what} sample of its largest jump ({day}), so its verdict rests on counts alone"
    if repository and (refusal := github_refusal(settings)) is not None:
        audit.limits.append(f"{head}: none can be taken now: {refusal}")
    elif not settings.platform(audit.platform).enabled:
        audit.limits.append(
            f"{head}: none can be taken: {audit.platform} is disabled in the settings"
        )
    else:
        audit.limits.append(
            f"{head}: `audience audit {audit.account} --sample` takes one now (up to "
            f"{settings.samples.size} {what}s who arrived on the jump's days and as many of "
            "ordinary days', within [samples] max_requests)"
        )


def _stored(warehouse: Path, settings: Settings, platform: str, handle: str, as_of: date) -> Audit:
    """What the warehouse knows of the account as of `as_of`."""
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
    return audit


def run_audit(
    warehouse: Path,
    settings: Settings,
    platform: str,
    handle: str,
    as_of: date,
    *,
    live: bool,
    fetch: bool = True,
    sample: bool = False,
) -> Audit:
    """Everything the warehouse knows of the account; the platform's figure when it knows none.

    A GitHub repository it has no figure of is backfilled, analysed alone and its largest jump's
    stargazers sampled (with a token). `sample` (`audit --sample`): the largest growth anomaly
    sampled now first, or refused in one line (AudienceError) before anything is stored.
    `fetch` False (an audit of a past day: the platform only knows today's size): never asked.
    """
    if sample:
        sample_refusal(settings, platform, handle)
    audit = _stored(warehouse, settings, platform, handle, as_of)
    repository = platform == "github" and "/" in handle
    if not audit.days_observed and fetch and repository:
        rebuilt_history(audit, warehouse, settings)
    elif repository and audit.days_observed and audit.metrics is None and not audit.tracked:
        # backfilled by an earlier audit (or `backfill`) and never analysed by a run
        if not sample:
            analysed_alone(audit, warehouse, settings)
        elif rebuilt_sample(audit, warehouse, settings):
            analysed_alone(audit, warehouse, settings)  # judged again, with the sample
        audit.limits.insert(
            0,
            f"{audit.account} is not tracked: its stored history (rebuilt from its stargazers) "
            "was analysed now on its own",
        )
    elif sample:
        sampled = take_sample(warehouse, settings, platform, handle, as_of)
        audit = _stored(warehouse, settings, platform, handle, as_of)
        audit.sampled = sampled
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
        if not repository:
            judge_now(audit, warehouse, settings)
    judge(audit, settings)
    if not sample:
        _sample_hint(audit, settings)
    return audit
