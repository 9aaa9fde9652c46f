"""Verdicts as a ladder: what an anomaly's evidence says, how sure, and why (pure, no I/O).

Unusual is not bought. A growth anomaly becomes `suspected_purchase` only on evidence that a
purchase leaves and organic growth does not (docs/detection.md, "Verdicts"):

- attrition: after the jump the account loses, beyond its own usual net gain and beyond the
  noise of its own days, a share of what it gained (bought audiences decay as platforms purge
  them; organic reach keeps what it brought);
- a step: the gain arrives in one to three days and the next days are back at the baseline at
  once, where organic reach fades over days (a viral moment's tail);
- a flat drip: the excess is even from day to day, with an abrupt start and end, where a
  launch or the news ramps up and eases off.

Organic evidence: a trigger (posting above the account's own rate, in the days up to the
jump: one upload counts for a weekly poster), gains that stay above the baseline after the
jump, an accelerating ramp. Without evidence either way, the anomaly is `unexplained`: shown
to a person, never called a purchase. On platforms without an activity figure (GitHub stars,
Reddit subscribers) there is no trigger to see, so only attrition or a step can make a
purchase, and sustained gains alone stay `unexplained` (a fake-star campaign and a front-page
hit have the same curve). A jump younger than `pending_days` is `pending` unless the evidence
is already decisive; every night re-judges the anomalies of the last 30 days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

VERDICTS = (
    "suspected_purchase",
    "unexplained",
    "organic",
    "platform_event",
    "data_artifact",
    "data_gap",
    "pending",
)
# the excess profile an anomaly carries: the days from PROFILE_FROM to PROFILE_TO around it
PROFILE_FROM = -3
PROFILE_TO = 30


@dataclass(frozen=True)
class VerdictRules:
    """The ladder's thresholds (settings `[verdicts]`, documented in docs/detection.md)."""

    pending_days: int = 7  # a jump younger than this waits, unless the evidence is decisive
    noise_sigmas: float = 3.0  # a loss or a tail counts when beyond this many sigma * sqrt(days)
    attrition_share: float = 0.08  # ... and at least this share of the jump
    strong_attrition_share: float = 0.2  # decisive even with a trigger, or before pending_days
    step_tail_share: float = 0.05  # a step: the 3 days after the delivery carry less than this
    delivery_share: float = 0.25  # days carrying this share of the peak belong to the delivery
    sustained_retention: float = 1.3  # net retention after 7 days at or above: gains kept coming
    trigger_ratio: float = 1.25  # posts in the days up to the jump vs the account's usual...
    trigger_min_extra: float = 0.5  # ...and at least this many more (one upload, weekly poster)
    flat_max_cv: float = 0.5  # a drip's daily excess varies less than this (flat)
    ramp_ratio: float = 1.8  # last third of a drip over its first third: accelerating
    gap_share: float = 0.5  # the anomaly's excess lies in interpolated days: data_gap


@dataclass(frozen=True)
class Evidence:
    """What one anomaly brings to its verdict (figures; None or NaN where unknown)."""

    kind: str  # spike, drop, drip, following_churn
    attribution: str  # account, platform_event, data_artifact
    age_days: int  # days from the anomaly's last day of growth to the analysed day
    sigma: float  # the account's robust daily spread
    # excess over the baseline from PROFILE_FROM to PROFILE_TO days around the flagged day
    # (the first day of a drip's window for a drip), NaN where unknown or interpolated
    profile: Sequence[float]
    interpolated: Sequence[bool]  # the same days: the figure was interpolated across a gap
    length: int = 1  # days of the drip's run (1 for a spike)
    posts_recent: float | None = None  # posts in the days the growth came in
    posts_usual: float | None = None  # as usual over as many days


@dataclass(frozen=True)
class Judgement:
    verdict: str
    confidence: str  # high, medium, low
    reasons: tuple[str, ...]  # the evidence, one phrase each, as shown to a person
    evidence: tuple[str, ...]  # machine codes of the evidence: attrition, step, flat, trigger...
    delivered: float  # what the growth brought beyond the baseline
    lost: float | None  # of it, lost after (beyond the baseline and the noise), when measured


def _at(values: Sequence[float], offset: int) -> float:
    i = offset - PROFILE_FROM
    return float(values[i]) if 0 <= i < len(values) else math.nan


def _known(value: float) -> bool:
    return not math.isnan(value)


class _Reading:
    """The shape of one anomaly's excess: delivery, tail, attrition."""

    def __init__(self, e: Evidence, rules: VerdictRules) -> None:
        self.e, self.rules = e, rules
        sigma = max(e.sigma if _known(e.sigma) else 1.0, 1.0)
        self.sigma = sigma
        if e.kind == "drip":
            days = [_at(e.profile, k) for k in range(e.length)]
            self.first, self.last = 0, e.length - 1
        else:
            peak = _at(e.profile, 0)
            self.first = self.last = 0
            for k in (1, 2, 3):
                value = _at(e.profile, k)
                if _known(value) and value >= rules.delivery_share * peak:
                    self.last = k
                else:
                    break
            days = [_at(e.profile, k) for k in range(self.last + 1)]
        self.days = days
        self.delivered = sum(v for v in days if _known(v))
        self.after = [_at(e.profile, self.last + k) for k in range(1, PROFILE_TO - self.last + 1)]
        self.measured_after = 0
        for value in self.after:
            if not _known(value):
                break
            self.measured_after += 1

    def noise(self, days: int) -> float:
        return self.rules.noise_sigmas * self.sigma * math.sqrt(max(days, 1))

    def attrition(self) -> tuple[float | None, bool, bool]:
        """Loss after the delivery beyond the baseline: (lost, attrition seen, strong)."""
        n = min(self.measured_after, 30)
        if n < 3 or self.delivered <= 0:
            return None, False, False
        lost = -sum(self.after[:n])
        beyond = lost > self.noise(n)
        seen = beyond and lost >= self.rules.attrition_share * self.delivered
        strong = seen and lost >= self.rules.strong_attrition_share * self.delivered
        return max(lost, 0.0), seen, strong

    def tail(self) -> float | None:
        """Excess of the 3 days after the delivery, when known."""
        if self.measured_after < 3:
            return None
        return sum(self.after[:3])

    def step(self) -> bool:
        """The gain came in 1-3 days and the next 3 were at once back at the baseline."""
        tail = self.tail()
        if tail is None or self.e.kind != "spike":
            return False
        limit = max(self.rules.step_tail_share * self.delivered, self.noise(3))
        # the absence of a tail is only visible when a tail would stand out of the noise
        visible = self.rules.step_tail_share * 4 * self.delivered > self.noise(3)
        return visible and tail < limit and tail > -self.delivered

    def sustained(self) -> bool:
        """Net retention after 7 days well above the jump: gains kept coming (organic reach)."""
        if self.measured_after < 7 or self.delivered <= 0:
            return False
        kept = self.delivered + sum(self.after[:7])
        return kept >= self.rules.sustained_retention * self.delivered and sum(
            self.after[:7]
        ) > self.noise(7)

    def drip_shape(self) -> tuple[bool, bool]:
        """(flat with abrupt edges, accelerating ramp) for a drip."""
        days = [v for v in self.days if _known(v)]
        if self.e.kind != "drip" or len(days) < 3:
            return False, False
        mean = sum(days) / len(days)
        if mean <= 0:
            return False, False
        spread = math.sqrt(sum((v - mean) ** 2 for v in days) / len(days))
        third = max(len(days) // 3, 1)
        early, late = sum(days[:third]) / third, sum(days[-third:]) / third
        ramp = early > 0 and late >= self.rules.ramp_ratio * early
        edge_limit = max(0.25 * mean, self.rules.noise_sigmas * self.sigma)
        before = [_at(self.e.profile, k) for k in (-3, -2, -1)]
        after = self.after[:3]
        edges = all(_known(v) and v < edge_limit for v in (*before, *after)) and len(after) == 3
        clear = mean >= self.rules.noise_sigmas * self.sigma  # each day stands out of the noise
        flat = clear and edges and spread <= self.rules.flat_max_cv * mean and not ramp
        return flat, ramp and not edges

    def gap_share(self) -> float:
        """Share of the delivery that lies in interpolated days."""
        offsets = range(self.first, self.last + 1)
        inside = [k - PROFILE_FROM for k in offsets]
        flags = [
            bool(self.e.interpolated[i]) if 0 <= i < len(self.e.interpolated) else False
            for i in inside
        ]
        return sum(flags) / max(len(flags), 1)


def _trigger(e: Evidence, rules: VerdictRules) -> bool:
    """Posting above the account's own rate in the days the growth came in."""
    if e.posts_recent is None or e.posts_usual is None:
        return False
    if math.isnan(e.posts_recent) or math.isnan(e.posts_usual):
        return False
    usual = max(e.posts_usual, 0.0)
    return (
        e.posts_recent >= 1
        and e.posts_recent >= rules.trigger_ratio * usual
        and e.posts_recent - usual >= rules.trigger_min_extra
    )


def _has_activity(e: Evidence) -> bool:
    return e.posts_recent is not None and not math.isnan(e.posts_recent)


def judge(e: Evidence, rules: VerdictRules | None = None) -> Judgement:
    """The verdict of one anomaly from its evidence."""
    rules = rules or VerdictRules()
    r = _Reading(e, rules)
    if e.attribution == "platform_event":
        return Judgement(
            "platform_event",
            "high",
            ("many tracked accounts of the platform moved the same day",),
            ("co_movement",),
            r.delivered,
            None,
        )
    if e.attribution == "data_artifact":
        return Judgement(
            "data_artifact",
            "high",
            ("the move was undone within days",),
            ("reverted",),
            r.delivered,
            None,
        )
    if e.kind in ("spike", "drip") and r.gap_share() >= rules.gap_share:
        return Judgement(
            "data_gap",
            "high",
            (
                "the growth lies in days interpolated across a collection gap: when it came is unknown",
            ),
            ("gap",),
            r.delivered,
            None,
        )
    if e.kind not in ("spike", "drip"):
        what = "a loss" if e.kind == "drop" else "follow/unfollow churn"
        return Judgement(
            "unexplained",
            "low",
            (f"{what} the data does not explain; not a purchase signal by itself",),
            (),
            r.delivered,
            None,
        )
    lost, attrition, strong = r.attrition()
    step = r.step()
    flat, ramp = r.drip_shape()
    trigger = _trigger(e, rules)
    sustained = r.sustained()
    purchase = [
        *(["attrition"] if attrition else []),
        *(["step"] if step else []),
        *(["flat_drip"] if flat else []),
    ]
    organic = [
        *(["trigger"] if trigger else []),
        *(["sustained"] if sustained and _has_activity(e) else []),
        *(["ramp"] if ramp else []),
    ]
    reasons = [_reason(c, r, e, lost) for c in (*purchase, *organic)]
    if sustained and not _has_activity(e):
        reasons.append(_reason("sustained", r, e, lost))
    if not _has_activity(e):
        reasons.append("the platform publishes no activity figure to explain it")
    codes = (*purchase, *organic, *(["sustained"] if sustained and not _has_activity(e) else []))
    young = e.age_days < rules.pending_days

    def verdict(name: str, confidence: str) -> Judgement:
        return Judgement(name, confidence, tuple(reasons), codes, r.delivered, lost)

    # a trigger outweighs a step or a flat drip (an upload's audience arrives in a few days
    # and stops), but not a strong attrition (organic reach does not leave again)
    if strong or (purchase and not organic):
        if young and not strong:
            return verdict("pending", "low")
        confidence = "high" if strong and len(purchase) >= 2 and not organic else "medium"
        return verdict("suspected_purchase", confidence)
    if organic and not attrition:
        if young and not trigger:
            return verdict("pending", "low")
        return verdict("organic", "high" if len(organic) >= 2 else "medium")
    if young:
        return verdict("pending", "low")
    if not purchase and not organic:
        reasons.append("no evidence of a purchase, and nothing in the data explains it")
    return verdict("unexplained", "low")


def _reason(code: str, r: _Reading, e: Evidence, lost: float | None) -> str:
    """The phrase a person reads for one piece of evidence."""
    if code == "attrition":
        lost = lost or 0.0
        return (
            f"{lost:,.0f} of the {r.delivered:,.0f} gained ({lost / r.delivered:.0%}) were lost in "
            f"the {min(r.measured_after, 30)} days after, beyond its usual net gain"
        )
    if code == "step":
        came = "in one day" if r.last == 0 else f"within {r.last + 1} days"
        return f"the gain came {came} and the next days were at once back at the baseline"
    if code == "flat_drip":
        return f"an even excess over {len(r.days)} days with an abrupt start and end, as panels deliver"
    if code == "trigger":
        return (
            f"it came with posting above the account's own rate ({e.posts_recent:.0f} posts "
            f"against {max(e.posts_usual or 0.0, 0.0):.1f} usually)"
        )
    if code == "sustained":
        kept = (r.delivered + sum(r.after[:7])) / r.delivered
        return f"gains stayed above normal after the jump ({kept:.0%} of it after 7 days), as organic reach does"
    return "the excess accelerated day after day, as a launch or the news does"


ACCOUNT_VERDICTS = {
    "bought_audience_likely": "bought audience likely",
    "unusual_growth_to_review": "unusual growth to review",
    "no_sign_of_bought_audience": "no sign of bought audience",
    "not_enough_history": "not enough history",
}
_RANK = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class AccountJudgement:
    code: str  # a key of ACCOUNT_VERDICTS
    confidence: str  # high, medium, low, none
    drivers: tuple[str, ...]  # the anomalies (or the lack of them) it rests on


def judge_account(
    anomalies: Sequence[tuple[str, str, str, str]],
    observed_days: int,
    *,
    min_days: int = 15,
) -> AccountJudgement:
    """One account's verdict from its anomalies: (day, kind, verdict, confidence) each.

    A single suspected purchase makes "bought audience likely"; unexplained or watched growth
    makes "unusual growth to review"; without either, the history's length says how sure
    "no sign of bought audience" is.
    """
    if observed_days < min_days:
        return AccountJudgement(
            "not_enough_history",
            "none",
            (f"{observed_days} day(s) with a figure; a verdict needs {min_days}",),
        )
    bought = [a for a in anomalies if a[2] == "suspected_purchase"]
    if bought:
        best = max(_RANK.get(a[3], 0) for a in bought)
        confidence = ("low", "medium", "high")[min(best + (len(bought) > 1), 2)]
        return AccountJudgement(
            "bought_audience_likely",
            confidence,
            tuple(f"suspected purchase: {a[1]} on {a[0]} ({a[3]} confidence)" for a in bought),
        )
    review = [
        a for a in anomalies if a[2] in ("unexplained", "pending") and a[1] in ("spike", "drip")
    ]
    if review:
        return AccountJudgement(
            "unusual_growth_to_review",
            "low",
            tuple(
                f"{'under watch' if a[2] == 'pending' else 'unexplained'}: {a[1]} on {a[0]}"
                for a in review
            ),
        )
    confidence = "high" if observed_days >= 180 else "medium" if observed_days >= 60 else "low"
    explained = len(anomalies)
    return AccountJudgement(
        "no_sign_of_bought_audience",
        confidence,
        (
            f"{observed_days} days with a figure"
            + (
                f"; {explained} unusual day(s), each explained"
                if explained
                else "; no unusual growth"
            ),
        ),
    )
