"""Does a sampled follower look inauthentic? Documented heuristics as named signals; pure.

The signals (sources in docs/audience-apis.md §4):
- new_account: created shortly before it followed (Dagster's rule: the star day equals the
  account's creation day; §4.2; here: within `new_account_days`).
- no_avatar: no profile picture (Bluesky: no `avatar` key; Mastodon: `.../missing.png`;
  GitHub: not detectable, left unchecked). Checklists: a default profile image (§4.3).
- no_posts: never posted (Socialbakers "never tweeted"; Dagster: no repositories, §4.2-4.3).
- follows_far_more: following far more accounts than follow it (Socialbakers: about 50:1).
- created_in_cluster: created within `cluster_days` of at least `cluster_min - 1` other
  accounts of the same sample (bought batches are created the same day; §4.2, §4.4).
- lockstep_arrival: in a run of `lockstep_run` adjacent followers (follow order, or follow
  times within `lockstep_minutes` where the platform gives them) created within
  `cluster_days` of each other: the dense blocks of new accounts at adjacent positions (§4.4).

No single rule decides (Cresci et al. found each media rule weak alone, §4.3): a profile looks
inauthentic when at least `min_signals` signals fire. A signal whose fields the platform does
not give is listed as unchecked, never counted. A sample's share comes with a Wilson
interval, and a comparison with a baseline sample (one-sided two-proportion z-test and
Fisher's exact test: is the share higher than on ordinary days?).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import NormalDist

SIGNALS = (
    "new_account",
    "no_avatar",
    "no_posts",
    "follows_far_more",
    "created_in_cluster",
    "lockstep_arrival",
)


@dataclass(frozen=True)
class Profile:
    """The fields of one sampled follower that the judgement needs (None: not given)."""

    id: str
    created_at: datetime | None = None
    followed_at: datetime | None = None  # where the platform gives it (stars, Twitch)
    arrival_day: date | None = None  # else the day the sample places its arrival
    position: int | None = None  # in the follow order, 0 = the newest
    has_avatar: bool | None = None
    posts: int | None = None
    followers: int | None = None
    following: int | None = None


@dataclass(frozen=True)
class ProfileRules:
    new_account_days: int = 30
    following_ratio: float = 50.0
    min_following: int = 50  # a ratio over tiny counts (following 3, followed by 0) says little
    cluster_days: float = 2.0
    cluster_min: int = 5
    lockstep_run: int = 5
    lockstep_minutes: float = 60.0
    min_signals: int = 2
    confidence: float = 0.95


@dataclass(frozen=True)
class Judgement:
    id: str
    looks_inauthentic: bool
    signals: tuple[str, ...]
    reasons: tuple[str, ...]  # one sentence per signal
    unchecked: tuple[str, ...]  # signals the given fields could not check


@dataclass(frozen=True)
class SampleJudgement:
    judgements: tuple[Judgement, ...]
    flagged: int
    size: int
    share: float
    low: float  # Wilson interval of the share
    high: float
    signal_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    share: float
    baseline_share: float
    difference: float
    z: float
    p_value: float  # one-sided two-proportion z-test: the sample's share is higher
    fisher_p_value: float  # one-sided Fisher's exact test, for small counts


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (0..1); (0, 1) when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} not within 0..{trials}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not 1e-17
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """(z, one-sided p) for "proportion 1 is higher than proportion 2", pooled variance."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / spread
    return z, 1 - NormalDist().cdf(z)


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher's exact p: P(at least k1 of the K flagged fall in sample 1)."""
    total, flagged = n1 + n2, k1 + k2
    denominator = math.comb(total, flagged)
    if denominator == 0:
        return 1.0
    top = min(flagged, n1)
    tail = sum(math.comb(n1, i) * math.comb(n2, flagged - i) for i in range(k1, top + 1))
    return min(1.0, tail / denominator)


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 86_400


def _follow_time(profile: Profile) -> datetime | None:
    if profile.followed_at is not None:
        return profile.followed_at
    if profile.arrival_day is not None and profile.created_at is not None:
        day = profile.arrival_day
        return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=profile.created_at.tzinfo)
    return None


def _clustered(profiles: Sequence[Profile], rules: ProfileRules) -> dict[str, int]:
    """id -> how many other sampled accounts were created within cluster_days of it."""
    dated = sorted((p.created_at, p.id) for p in profiles if p.created_at is not None)
    out: dict[str, int] = {}
    lo = hi = 0
    for created, ident in dated:
        while _days(created, dated[lo][0]) > rules.cluster_days:
            lo += 1
        while hi + 1 < len(dated) and _days(dated[hi + 1][0], created) <= rules.cluster_days:
            hi += 1
        out[ident] = hi - lo
    return out


def _lockstep(profiles: Sequence[Profile], rules: ProfileRules) -> dict[str, int]:
    """id -> the size of the longest lockstep run it belongs to (0: none)."""
    if all(p.position is not None for p in profiles):
        ordered = sorted(profiles, key=lambda p: p.position or 0)
    elif all(p.followed_at is not None for p in profiles):
        ordered = sorted(profiles, key=lambda p: p.followed_at or datetime.min)
    else:
        return {}
    out: dict[str, int] = {}
    run = rules.lockstep_run
    for start in range(0, len(ordered) - run + 1):
        window = ordered[start : start + run]
        if any(p.created_at is None for p in window):
            continue
        if any(
            a.position is not None and b.position is not None and b.position - a.position != 1
            for a, b in itertools.pairwise(window)
        ):
            continue  # adjacent in the sample, not in the follow order
        created = [p.created_at for p in window if p.created_at is not None]
        if _days(max(created), min(created)) > rules.cluster_days:
            continue
        times = [p.followed_at for p in window if p.followed_at is not None]
        if len(times) == run and _days(max(times), min(times)) * 1440 > rules.lockstep_minutes:
            continue
        for p in window:
            out[p.id] = out.get(p.id, 0) + 1
    return out


# signal -> why it fires; "" when checked and it does not, None when the fields cannot check it
Checks = dict[str, str | None]


def judge_profile(
    profile: Profile,
    rules: ProfileRules | None = None,
    *,
    cluster_size: int | None = None,
    in_lockstep: bool | None = None,
) -> Judgement:
    """One profile's signals; `cluster_size` and `in_lockstep` come from its sample (None:
    not checked)."""
    rules = rules or ProfileRules()
    checks = _own_checks(profile, rules) | _sample_checks(rules, cluster_size, in_lockstep)
    fired = [(signal, reason) for signal, reason in checks.items() if reason]
    return Judgement(
        profile.id,
        len(fired) >= rules.min_signals,
        tuple(signal for signal, _ in fired),
        tuple(reason for _, reason in fired),
        tuple(signal for signal, reason in checks.items() if reason is None),
    )


def _own_checks(profile: Profile, rules: ProfileRules) -> Checks:
    """The signals the profile's own fields check, in the order of SIGNALS."""
    checks: Checks = {}
    follow = _follow_time(profile)
    if profile.created_at is None or follow is None:
        checks["new_account"] = None
    else:
        age = _days(follow, profile.created_at)
        new = age <= rules.new_account_days
        checks["new_account"] = (
            f"created {max(age, 0.0):.0f} days before it followed" if new else ""
        )
    if profile.has_avatar is None:
        checks["no_avatar"] = None
    else:
        checks["no_avatar"] = "" if profile.has_avatar else "no avatar"
    if profile.posts is None:
        checks["no_posts"] = None
    else:
        checks["no_posts"] = "no posts" if profile.posts == 0 else ""
    following, followers = profile.following, profile.followers
    if following is None or followers is None:
        checks["follows_far_more"] = None
    else:
        many = following >= rules.min_following
        far = many and following >= rules.following_ratio * max(followers, 1)
        checks["follows_far_more"] = (
            f"follows {following:,} accounts and is followed by {followers:,}" if far else ""
        )
    return checks


def _sample_checks(
    rules: ProfileRules, cluster_size: int | None, in_lockstep: bool | None
) -> Checks:
    """The signals the profile's sample checks (None: not checked), in the order of SIGNALS."""
    checks: Checks = {"created_in_cluster": None, "lockstep_arrival": None}
    if cluster_size is not None:
        clustered = cluster_size + 1 >= rules.cluster_min
        checks["created_in_cluster"] = (
            f"created within {rules.cluster_days:g} days of {cluster_size} other sampled accounts"
            if clustered
            else ""
        )
    if in_lockstep is not None:
        checks["lockstep_arrival"] = (
            f"followed in a block of at least {rules.lockstep_run} adjacent followers created "
            f"within {rules.cluster_days:g} days of each other"
            if in_lockstep
            else ""
        )
    return checks


def judge_sample(profiles: Sequence[Profile], rules: ProfileRules | None = None) -> SampleJudgement:
    """Every profile of a sample, with the sample-level signals, and the flagged share."""
    rules = rules or ProfileRules()
    ids = [p.id for p in profiles]
    if len(set(ids)) != len(ids):
        raise ValueError("a sample holds each follower once: duplicate ids")
    clusters = _clustered(profiles, rules)
    ordered = all(p.position is not None for p in profiles) or all(
        p.followed_at is not None for p in profiles
    )
    lockstep = _lockstep(profiles, rules)
    judgements = tuple(
        judge_profile(
            p,
            rules,
            cluster_size=clusters.get(p.id) if p.created_at is not None else None,
            in_lockstep=(p.id in lockstep) if ordered and p.created_at is not None else None,
        )
        for p in profiles
    )
    flagged = sum(j.looks_inauthentic for j in judgements)
    low, high = wilson_interval(flagged, len(judgements), rules.confidence)
    counts = {s: sum(s in j.signals for j in judgements) for s in SIGNALS}
    share = flagged / len(judgements) if judgements else 0.0
    return SampleJudgement(judgements, flagged, len(judgements), share, low, high, counts)


def compare(sample: SampleJudgement, baseline: SampleJudgement) -> Comparison:
    """Is the sample's flagged share higher than the baseline's (followers of ordinary days)?"""
    z, p = two_proportion_z(sample.flagged, sample.size, baseline.flagged, baseline.size)
    return Comparison(
        sample.share,
        baseline.share,
        sample.share - baseline.share,
        z,
        p,
        fisher_greater(sample.flagged, sample.size, baseline.flagged, baseline.size),
    )
