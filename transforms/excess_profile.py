"""The excess profile around an anomaly, and its reading (pure, no I/O).

The profile is the excess over the account's baseline from PROFILE_FROM to PROFILE_TO days
around the first day of the growth: `profile_at` takes it from the scored arrays at the
flagged days (with the posting a trigger reads), `Evidence` carries it to the verdict, and
`Reading` reads its shape: the delivery, what came after, attrition, a step, a flat drip or a
ramp (transforms.verdicts weighs them; docs/detection.md, "Verdicts").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.detection import DetectionSettings
from transforms.engagement import JumpReading

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
class SampleEvidence:
    """A follower sample of the growth's days compared with a baseline of ordinary days
    (pipeline.sample; transforms.profiles judges each follower)."""

    what: str  # "stargazers of 2024-03-22", "followers who arrived on 2024-03-22"
    size: int
    flagged: int  # of them, looking inauthentic
    share_low: float  # Wilson interval of the flagged share
    share_high: float
    baseline_share: float  # the share among followers of ordinary days
    p_value: float  # one-sided: the sample's share is higher than the baseline's

    @property
    def share(self) -> float:
        return self.flagged / self.size if self.size else 0.0


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
    sample: SampleEvidence | None = None  # a follower sample of the growth's days, if taken
    # the interactions per post of the 28 days before the growth against the 7 after
    # (transforms.engagement.jump_reading), where the account's engagement is sampled
    engagement: JumpReading | None = None


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


class Reading:
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
        # below it: one quiet day before an even delivery is no ramp. The level reached is the
        # mean of the peak and the day before it, as the start is the mean of its first two
        # days: the largest of a dozen noisy days stands well above their level on its own
        reached = (core[top - 1] + peak) / 2 if top >= 1 else peak
        ramp = (
            len(core) >= 4
            and top >= 2
            and (core[0] + core[1]) / 2 <= reached / self.t.ramp_min_ratio
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
