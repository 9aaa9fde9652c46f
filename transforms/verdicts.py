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
hit have the same curve). A follower sample of the growth's days (pipeline.sample) whose share
that looks inauthentic is significantly above the baseline of ordinary days' followers (one-sided
p below transforms.audience_evidence.SAMPLE_MAX_P and 20 points more) is decisive purchase evidence, also
where no activity figure exists: the accounts themselves were seen. A sample like its baseline
counts against a purchase only weakly: a purchase resting on a step or a flat drip alone drops to
low confidence; attrition stays what it was (a purge of bought followers leaves a clean sample).
Engagement, where the account's posts are sampled (transforms.engagement.jump_reading): growth
whose interactions per post did not rise with the audience (bought followers do not engage) is
purchase evidence like a step, never decisive, so it never outweighs organic evidence; growth
whose interactions rose with it (organic newcomers engage) is organic evidence, which never
outweighs a decisive attrition or a decisive sample. A jump younger than `pending_days` is
`pending` unless the evidence is already decisive; every night re-judges the anomalies of the
last 30 days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.detection import DetectionSettings
from transforms.audience_evidence import (
    engagement_phrase,
    engagement_reading,
    sample_phrase,
    sample_reading,
)
from transforms.excess_profile import SHORT_DELIVERY, Evidence, Reading

VERDICTS = (
    "suspected_purchase",
    "unexplained",
    "organic",
    "platform_event",
    "data_artifact",
    "data_gap",
    "pending",
)


@dataclass(frozen=True)
class Judgement:
    verdict: str
    confidence: str  # high, medium, low
    reasons: tuple[str, ...]  # the evidence, one phrase each, as shown to a person
    evidence: tuple[str, ...]  # machine codes of the evidence: attrition, step, flat, trigger...
    delivered: float  # what the growth brought beyond the baseline
    lost: float | None  # of it, lost after (beyond the baseline and the noise), when measured


def poisson_tail(k: float, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean); the normal approximation for large means."""
    k = math.ceil(k)
    if k <= 0:
        return 1.0
    if mean > 50:
        return 0.5 * math.erfc((k - 0.5 - mean) / math.sqrt(2 * mean))
    term = total = math.exp(-mean)
    for i in range(1, k):
        term *= mean / i
        total += term
        if total >= 1.0:
            break
    return max(1.0 - total, 0.0)


def _above(posts: float, usual: float, t: DetectionSettings, *, one_post: bool = True) -> bool:
    """Posting that stands out of the account's own rate: for an account that posts less than
    once in as many days, any post (one upload of a weekly poster); otherwise, or without
    `one_post`, more posts than its usual rate makes likely by chance (Poisson,
    `trigger_max_chance`)."""
    if math.isnan(posts) or math.isnan(usual):
        return False
    usual = max(usual, 0.0)
    if posts < 1 or posts < t.trigger_min_ratio * usual:
        return False
    if posts - usual < t.trigger_min_extra_posts:
        return False
    return (one_post and usual < 1) or poisson_tail(posts, usual) <= t.trigger_max_chance


def _trigger(e: Evidence, t: DetectionSettings, delivery_days: int) -> tuple[float, float] | None:
    """Posting above the account's own rate, up to the growth's first day or over the days it
    came in: the posts and the usual count of the one that shows it. One post explains a few
    days of arrivals, not an even rate for weeks: a longer drip needs posting above its rate
    over the drip's own days, beyond chance even for a rare poster (one upload in those days
    explains no more than a few of them)."""
    short = e.kind != "drip" or delivery_days <= SHORT_DELIVERY
    windows = [(e.posts_recent, e.posts_usual)]
    if short:
        windows.insert(0, (e.start_posts, e.start_usual))
    for posts, usual in windows:
        if posts is not None and usual is not None and _above(posts, usual, t, one_post=short):
            return posts, max(usual, 0.0)
    return None


def _has_activity(e: Evidence) -> bool:
    known = [p for p in (e.posts_recent, e.start_posts) if p is not None and not math.isnan(p)]
    return bool(known)


def judge(e: Evidence, t: DetectionSettings) -> Judgement:
    """The verdict of one anomaly from its evidence, by the thresholds of `t` ([detection]).

    First what explains the move without the account (a platform event, a glitch, a collection
    gap) or makes it no growth; then the evidence each way is weighed, and the ladder decides.
    """
    r = Reading(e, t)
    explained = _explained_otherwise(e, t, r)
    if explained is not None:
        return explained
    return _ladder(_weigh(e, t, r), young=e.age_days < t.pending_days)


def _explained_otherwise(e: Evidence, t: DetectionSettings, r: Reading) -> Judgement | None:
    """The verdict when the data explains the move without the account's own growth, or when
    it is no growth (a loss, following churn); None for growth to weigh."""
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
    if e.kind in ("spike", "drip") and r.gap_share() >= t.gap_max_share:
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
    return None


@dataclass(frozen=True)
class _Weighed:
    """The evidence of one growth anomaly, each way, before the ladder decides."""

    # codes of purchase evidence: sample, attrition, step, flat_drip, no_engagement_rise
    purchase: tuple[str, ...]
    organic: tuple[str, ...]  # codes of organic evidence: trigger, sustained, ramp, engagement_rose
    strong: bool  # the attrition (or a follower sample) is decisive on its own
    attrition: bool
    clean_sample: bool  # a follower sample like the baseline's: weakly against a purchase
    trigger: bool
    reasons: tuple[str, ...]  # one phrase per piece of evidence, as shown to a person
    codes: tuple[str, ...]  # the machine codes the judgement records
    delivered: float
    lost: float | None

    def verdict(self, name: str, confidence: str, *more: str) -> Judgement:
        reasons = (*self.reasons, *more)
        return Judgement(name, confidence, reasons, self.codes, self.delivered, self.lost)


def _weigh(e: Evidence, t: DetectionSettings, r: Reading) -> _Weighed:
    """What the growth's shape, the posting and the engagement around it and a follower sample
    say: purchase evidence (a sample, attrition, a step, a flat drip, no engagement rise) and
    organic evidence (a trigger, sustained gains, a ramp, engagement that rose)."""
    lost, attrition, strong = r.attrition()
    step = r.step()
    flat, ramp = r.drip_shape()
    first, last = r.core()
    posted = _trigger(e, t, last - first + 1)
    trigger = posted is not None
    sustained = r.sustained()
    activity = _has_activity(e)
    sampled = sample_reading(e.sample)
    engaged = engagement_reading(e.engagement)
    purchase = (
        *(["sample"] if sampled == "sample" else []),
        *(["attrition"] if attrition else []),
        *(["step"] if step else []),
        # a flat drip whose gains go on after it is no panel's delivery (trending lasts)
        *(["flat_drip"] if flat and not sustained and not r.kept_growing() else []),
        *(["no_engagement_rise"] if engaged == "no_engagement_rise" else []),
    )
    organic = (
        *(["trigger"] if trigger else []),
        *(["sustained"] if sustained and activity else []),
        *(["ramp"] if ramp else []),
        *(["engagement_rose"] if engaged == "engagement_rose" else []),
    )
    reasons = [_phrase(c, e, r, posted, lost) for c in (*purchase, *organic)]
    if sustained and not activity:
        reasons.append(_reason("sustained", r, posted, lost))
    if sampled == "sample_like_baseline" and e.sample is not None:
        reasons.append(sample_phrase(e.sample))
    if not activity:
        reasons.append("the platform publishes no activity figure to explain it")
    codes = (
        *purchase,
        *organic,
        *(["sustained"] if sustained and not activity else []),
        *(["sample_like_baseline"] if sampled == "sample_like_baseline" else []),
    )
    return _Weighed(
        purchase,
        organic,
        strong or sampled == "sample",
        attrition,
        sampled == "sample_like_baseline",
        trigger,
        tuple(reasons),
        codes,
        r.delivered,
        lost,
    )


def _phrase(
    code: str, e: Evidence, r: Reading, posted: tuple[float, float] | None, lost: float | None
) -> str:
    """The phrase of one piece of evidence: the sample's and engagement's from their readings."""
    if code == "sample" and e.sample is not None:
        return sample_phrase(e.sample)
    if code in ("no_engagement_rise", "engagement_rose") and e.engagement is not None:
        return engagement_phrase(e.engagement, e.kind)
    return _reason(code, r, posted, lost)


def _ladder(w: _Weighed, *, young: bool) -> Judgement:
    """The verdict from the evidence each way; `young`: the jump is younger than
    `pending_days`, so only decisive evidence is judged yet."""
    # a trigger outweighs a step or a flat drip (an upload's audience arrives in a few days
    # and stops), but not a strong attrition (organic reach does not leave again)
    if w.strong or (w.purchase and not w.organic):
        if young and not w.strong:
            return w.verdict("pending", "low")
        confidence = "high" if w.strong and len(w.purchase) >= 2 and not w.organic else "medium"
        if w.clean_sample and not w.attrition:
            confidence = "low"  # the followers sampled look like ordinary days' followers
        return w.verdict("suspected_purchase", confidence)
    if w.organic and not w.attrition:
        if young and not w.trigger:
            return w.verdict("pending", "low")
        return w.verdict("organic", "high" if len(w.organic) >= 2 else "medium")
    if young:
        return w.verdict("pending", "low")
    if not w.purchase and not w.organic:
        return w.verdict(
            "unexplained", "low", "no evidence of a purchase, and nothing in the data explains it"
        )
    return w.verdict("unexplained", "low")


def _reason(code: str, r: Reading, posted: tuple[float, float] | None, lost: float | None) -> str:
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
    if code == "trigger" and posted is not None:
        burst = posted[0] >= r.t.posting_burst_ratio * max(posted[1], 1.0)
        what = "a posting burst" if burst else "posting"
        return (
            f"it came with {what} above the account's own rate ({posted[0]:.0f} posts in the "
            f"days up to it against {posted[1]:.1f} usually)"
        )
    if code == "sustained":
        kept = (r.delivered + sum(r.after[:7])) / r.delivered
        return f"gains stayed above normal after the jump ({kept:.0%} of it after 7 days), as organic reach does"
    return "the excess accelerated day after day, as a launch or the news does"


WORDS = {
    "suspected_purchase": "suspected purchase",
    "unexplained": "unexplained, for a person to review",
    "organic": "organic",
    "platform_event": "platform-wide event",
    "data_artifact": "data artifact",
    "data_gap": "data gap",
    "pending": "under watch",
}


def verdict_words(verdict: str) -> str:
    return WORDS.get(verdict, verdict.replace("_", " "))


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
