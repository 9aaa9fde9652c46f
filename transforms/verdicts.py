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

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.settings import DetectionSettings

VERDICTS = (
    "suspected_purchase",
    "unexplained",
    "organic",
    "platform_event",
    "data_artifact",
    "data_gap",
    "pending",
)
# the excess profile an anomaly carries: the days from PROFILE_FROM to PROFILE_TO around the
# first day of its growth (30 days after the longest drip panels sell, 16 days)
PROFILE_FROM = -3
PROFILE_TO = 45
PROFILE = tuple(f"excess_{k}".replace("-", "m") for k in range(PROFILE_FROM, PROFILE_TO + 1))
# what profile_at adds to a flagged day's evidence
PROFILE_EVIDENCE = (
    *PROFILE,
    "profile_gaps",
    "profile_sigma",
    "profile_median",
    "trigger_posts",
    "trigger_usual",
)


DELIVERY_SHARE = 0.25  # days after a jump carrying this share of its peak belong to its delivery
DRIFT_SHARE = 0.3  # an organic pace may slow by this share after a jump without any purchase
STEP_DAYS = 2  # panels deliver a burst within 48 hours
SHORT_DELIVERY = 4  # days: what one post's audience takes to arrive (a few even days prove nothing)
TRIGGER_DAYS = 3  # a trigger's posts: the growth's first day, the day before and the day after


@dataclass(frozen=True)
class Evidence:
    """What one anomaly brings to its verdict (figures; None or NaN where unknown)."""

    kind: str  # spike, drop, drip, following_churn
    attribution: str  # account, platform_event, data_artifact
    age_days: int  # days from the anomaly's last day of growth to the analysed day
    sigma: float  # the account's robust daily spread
    baseline: float  # its usual daily gain (the median the profile is measured against)
    # excess over the baseline from PROFILE_FROM to PROFILE_TO days around the flagged day
    # (the first day of a drip's window for a drip), NaN where unknown or interpolated
    profile: Sequence[float]
    interpolated: Sequence[bool]  # the same days: the figure was interpolated across a gap
    length: int = 1  # days of the drip's run (1 for a spike)
    posts_recent: float | None = None  # posts in the days the growth came in
    posts_usual: float | None = None  # as usual over as many days
    start_posts: float | None = (
        None  # posts in the 3 days up to the growth's first day and the next
    )
    start_usual: float | None = None  # as usual over as many days


@dataclass(frozen=True)
class Judgement:
    verdict: str
    confidence: str  # high, medium, low
    reasons: tuple[str, ...]  # the evidence, one phrase each, as shown to a person
    evidence: tuple[str, ...]  # machine codes of the evidence: attrition, step, flat, trigger...
    delivered: float  # what the growth brought beyond the baseline
    lost: float | None  # of it, lost after (beyond the baseline and the noise), when measured


def profile_at(
    padded: dict[str, np.ndarray],
    at: np.ndarray,
    drip_first: np.ndarray,
    window: int,
    baseline_days: int,
) -> dict[str, np.ndarray]:
    """The excess profile of flagged days at padded positions `at` (NumPy, for the few that need it).

    Anchored at the first day of the growth: the day itself, or for the first day of a drip
    run the first day of its window that carried excess (`drip_first`, an offset; NaN for
    others). The baseline is the one the rule scored against (a drip's: at its first window's
    start). `profile_gaps` has bit i set where day PROFILE_FROM + i was interpolated across a
    gap; days past the series' end are NaN. `trigger_posts` counts posts on the anchor, the day
    before and the day after, `trigger_usual` as usual over as many days (the previous
    `baseline_days`).
    """
    drip = ~np.isnan(drip_first)
    anchor = at + np.where(drip, np.nan_to_num(drip_first), 0).astype(np.int64)
    base = np.where(drip, at - (window - 1), at)
    median = np.maximum(padded["baseline_median"][base], 0.0)
    gain, spread, posts = padded["daily_gain"], padded["spread"], padded["posts"]
    out: dict[str, np.ndarray] = {"profile_sigma": padded["baseline_sigma"][base]}
    out["profile_median"] = median
    gaps = np.zeros(len(at), dtype=np.int64)
    for i, (name, k) in enumerate(zip(PROFILE, range(PROFILE_FROM, PROFILE_TO + 1), strict=True)):
        day = gain[anchor + k]
        out[name] = day - median
        gaps |= ((spread[anchor + k] > 1) & ~np.isnan(day)).astype(np.int64) << i
    out["profile_gaps"] = gaps
    with np.errstate(all="ignore"):
        # the day before the anchor, the anchor and the day after: a count is taken once a day, so a
        # post late on the growth's first day shows the next day (and YouTube's rounding can
        # show growth a day before the upload that brought it)
        after = posts[anchor + 1]
        after = np.where(np.isnan(after), posts[anchor], after)
        out["trigger_posts"] = after - posts[anchor + 1 - TRIGGER_DAYS]
        earlier = anchor + 1 - TRIGGER_DAYS
        out["trigger_usual"] = (
            (posts[earlier] - posts[earlier - baseline_days]) / baseline_days * TRIGGER_DAYS
        )
    return out


def _at(values: Sequence[float], offset: int) -> float:
    i = offset - PROFILE_FROM
    return float(values[i]) if 0 <= i < len(values) else math.nan


def _known(value: float) -> bool:
    return not math.isnan(value)


class _Reading:
    """The shape of one anomaly's excess: delivery, tail, attrition."""

    def __init__(self, e: Evidence, t: DetectionSettings) -> None:
        self.e, self.t = e, t
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
                if _known(value) and value >= DELIVERY_SHARE * peak:
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
        return self.t.verdict_noise_sigmas * self.sigma * math.sqrt(max(days, 1))

    def drift(self, days: int) -> float:
        """What an organic change of pace can account for over `days`: the noise, and the
        account's usual gain slowing by DRIFT_SHARE (paces drift; days are not independent)."""
        usual = self.e.baseline if _known(self.e.baseline) else 0.0
        return self.noise(days) + DRIFT_SHARE * max(usual, 0.0) * days

    def attrition(self) -> tuple[float | None, bool, bool]:
        """Loss after the delivery beyond the baseline: (lost, attrition seen, strong)."""
        n = min(self.measured_after, 30)
        if n < 3 or self.delivered <= 0:
            return None, False, False
        lost = -sum(self.after[:n])
        # a bought audience can lose at most what it brought: a loss well past that is the
        # account's own pace changing, not attrition
        beyond = self.drift(n) < lost <= self.delivered + self.drift(n)
        seen = beyond and lost >= self.t.attrition_min_share * self.delivered
        strong = seen and lost >= self.t.attrition_decisive_share * self.delivered
        return max(lost, 0.0), seen, strong

    def tail(self, days: int = 7) -> float | None:
        """Excess of the `days` days after the delivery, when known."""
        if self.measured_after < days:
            return None
        return sum(self.after[:days])

    def abrupt_start(self) -> bool:
        before = [_at(self.e.profile, self.first + k) for k in (-3, -2, -1)]
        limit = max(DELIVERY_SHARE * max(self.days), self.noise(1))
        return all(_known(v) and v < limit for v in before)

    def step(self) -> bool:
        """The gain came in one or two days out of a quiet baseline, and the week after was at
        once back at the baseline, where organic reach fades over days."""
        tail = self.tail()
        if tail is None or self.e.kind != "spike" or self.last + 1 > STEP_DAYS:
            return False
        limit = self.t.step_max_tail_share * self.delivered
        # only where a tail of that size would stand out of the noise: below it, an organic
        # fade hides in the account's own ups and downs
        return limit > self.noise(7) and self.abrupt_start() and tail < limit

    def sustained(self) -> bool:
        """Gains kept coming: by the 7th day, the days after a spike's delivery added a good share
        of its first-day jump again (the audience 7 days on stands at 130% of the jump or more);
        in the (up to) 30 days after a drip, it gained a good share of the drip again."""
        if self.e.kind == "drip":
            n = min(self.measured_after, 30)
            more = sum(self.after[:n])
            share = self.t.organic_retention_7 - 1
            return n >= 7 and more >= share * self.delivered and more > self.drift(n)
        first = _at(self.e.profile, 0)
        tail = [_at(self.e.profile, k) for k in range(self.last + 1, 8)]
        if not all(_known(v) for v in tail) or not first > 0:
            return False
        # what came after the delivery days, against the first day's jump
        more = sum(tail)
        return more >= (self.t.organic_retention_7 - 1) * first and more > self.noise(len(tail))

    def kept_growing(self) -> bool:
        """A drip after which the account went on gaining a good share of it again within 30
        days, whether or not that stands out of the noise: no panel's delivery then (bought
        audiences stay or decay; they do not pull more after them)."""
        n = min(self.measured_after, 30)
        more = sum(self.after[:n])
        return n >= 7 and more >= (self.t.organic_retention_7 - 1) * self.delivered

    def core(self) -> tuple[int, int]:
        """First and last day of the longest run of days whose excess stands out of the noise
        and carries a tenth of the biggest day ((0, -1) when none does)."""
        days = [v if _known(v) else 0.0 for v in self.days]
        if not days:
            return 0, -1
        floor = max(self.t.verdict_noise_sigmas * self.sigma, 0.1 * max(days))
        return _longest_run([v > floor for v in days], days)

    def drip_shape(self) -> tuple[bool, bool]:
        """(flat with abrupt edges, accelerating ramp) for a drip.

        The core is the longest run of consecutive days whose excess stands out of the noise
        and carries a tenth of the biggest day (a lone noisy day before it is no part of it).
        Panels deliver at an even rate from the first day to the last; a launch or the news
        starts small and climbs for days before it peaks.
        """
        days = self.days
        if self.e.kind != "drip" or len(days) < 3 or not all(_known(v) for v in days):
            return False, False
        first, last = self.core()
        if last - first + 1 < 3:
            return False, False
        core = days[first : last + 1]
        peak = max(core)
        mean = sum(core) / len(core)
        spread = math.sqrt(sum((v - mean) ** 2 for v in core) / len(core))
        top = core.index(peak)
        rising = [b > a for a, b in itertools.pairwise(core[: top + 1])]
        # climbing for days (most day-to-day moves up to the peak are rises) from a start well
        # below it: one quiet day before an even delivery is no ramp
        ramp = (
            len(core) >= 4
            and top >= 2
            and (core[0] + core[1]) / 2 <= peak / self.t.ramp_min_ratio
            and sum(rising) >= 2 * len(rising) / 3
        )
        edge = max(0.25 * mean, self.t.verdict_noise_sigmas * self.sigma)
        outside = [_at(self.e.profile, k) for k in (first - 3, first - 2, first - 1)]
        outside += [_at(self.e.profile, k) for k in (last + 1, last + 2, last + 3)]
        edges = all(_known(v) and v < edge for v in outside)
        week = [_at(self.e.profile, last + k) for k in range(1, 8)]
        carried = sum(core)
        ends = all(_known(v) for v in week) and sum(week) < max(0.25 * carried, self.noise(7))
        # panels sell drips of 5 days or more; a few even days are what a short trending
        # burst looks like too (a repository on a front page for three days)
        long = len(core) > SHORT_DELIVERY
        flat = long and edges and ends and spread <= self.t.drip_flat_max_cv * mean and not ramp
        return flat, ramp

    def gap_share(self) -> float:
        """Share of the delivery's excess that lies in days spread across a collection gap."""
        total = carried = 0.0
        for k in range(self.first, self.last + 1):
            value = _at(self.e.profile, k)
            i = k - PROFILE_FROM
            if not _known(value) or value <= 0 or not 0 <= i < len(self.e.interpolated):
                continue
            total += value
            carried += value if self.e.interpolated[i] else 0.0
        return carried / total if total > 0 else 0.0


def _longest_run(flags: Sequence[bool], values: Sequence[float]) -> tuple[int, int]:
    """First and last index of the longest run of set flags (the larger sum on a tie);
    (0, -1) when none is set."""
    best, best_sum = (0, -1), -math.inf
    start: int | None = None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            run, total = (start, i - 1), sum(values[start:i])
            if (run[1] - run[0], total) > (best[1] - best[0], best_sum):
                best, best_sum = run, total
            start = None
    return best


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


def _above(posts: float, usual: float, t: DetectionSettings) -> bool:
    """Posting that stands out of the account's own rate: for an account that posts less than
    once in as many days, any post (one upload of a weekly poster); otherwise more posts than
    its usual rate makes likely by chance (Poisson, `trigger_max_chance`)."""
    if math.isnan(posts) or math.isnan(usual):
        return False
    usual = max(usual, 0.0)
    if posts < 1 or posts < t.trigger_min_ratio * usual:
        return False
    if posts - usual < t.trigger_min_extra_posts:
        return False
    return usual < 1 or poisson_tail(posts, usual) <= t.trigger_max_chance


def _trigger(e: Evidence, t: DetectionSettings, delivery_days: int) -> tuple[float, float] | None:
    """Posting above the account's own rate, up to the growth's first day or over the days it
    came in: the posts and the usual count of the one that shows it. One post explains a few
    days of arrivals, not an even rate for weeks: a longer drip needs posting above its rate
    over the drip's own days."""
    windows = [(e.posts_recent, e.posts_usual)]
    if e.kind != "drip" or delivery_days <= SHORT_DELIVERY:
        windows.insert(0, (e.start_posts, e.start_usual))
    for posts, usual in windows:
        if posts is not None and usual is not None and _above(posts, usual, t):
            return posts, max(usual, 0.0)
    return None


def _has_activity(e: Evidence) -> bool:
    known = [p for p in (e.posts_recent, e.start_posts) if p is not None and not math.isnan(p)]
    return bool(known)


def judge(e: Evidence, t: DetectionSettings) -> Judgement:
    """The verdict of one anomaly from its evidence, by the thresholds of `t` ([detection])."""
    r = _Reading(e, t)
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
    lost, attrition, strong = r.attrition()
    step = r.step()
    flat, ramp = r.drip_shape()
    first, last = r.core()
    posted = _trigger(e, t, last - first + 1)
    trigger = posted is not None
    sustained = r.sustained()
    purchase = [
        *(["attrition"] if attrition else []),
        *(["step"] if step else []),
        # a flat drip whose gains go on after it is no panel's delivery (trending lasts)
        *(["flat_drip"] if flat and not sustained and not r.kept_growing() else []),
    ]
    organic = [
        *(["trigger"] if trigger else []),
        *(["sustained"] if sustained and _has_activity(e) else []),
        *(["ramp"] if ramp else []),
    ]
    reasons = [_reason(c, r, posted, lost) for c in (*purchase, *organic)]
    if sustained and not _has_activity(e):
        reasons.append(_reason("sustained", r, posted, lost))
    if not _has_activity(e):
        reasons.append("the platform publishes no activity figure to explain it")
    codes = (*purchase, *organic, *(["sustained"] if sustained and not _has_activity(e) else []))
    young = e.age_days < t.pending_days

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


def _reason(code: str, r: _Reading, posted: tuple[float, float] | None, lost: float | None) -> str:
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
