"""A second labelled scenario generator, written from documented behaviour, not from the detector.

It shares no code with `simulator.audiences` (the simulator's audience models) and reads no
threshold of the detector. Each scenario rebuilds a behaviour described in
`shared/docs/signals.md` or in the issues' real cases, with its published figures:

- organic growth paced by the vendor benchmark of signals.md S10 (under 10K followers 2-5% a
  month, 10K-100K 1-3%, over 100K 0.5-1.5%), gross arrivals negative-binomial with a weekly
  rhythm, gross departures Poisson (organic churn), so the net change is sometimes negative;
- viral moments (S1's false positives): a jump of 2-40% of the audience on a post, then gains
  that fade over the following days (the audience 7 days later at 150-220% of the jump), with
  a moderate posting increase (30-80% over the days, not 2x) and no loss afterwards;
- single uploads on weekly posters (the French YouTube channels of the verdicts issue): one
  new video, then +400, +300, +300 from a baseline of about 0 a day, or +110 the next day;
- launch ramps (r/Helldivers): +16% rising to +37% a day for a week, on a platform with no
  activity figure, then easing off;
- collection gaps of 3-10 days, one shared by a whole cohort of accounts (the 9-day gap of
  the subreddit data), some with an organic jump inside;
- purchases (S1, S2, S5): 0.5-50% of the audience in packages of 100, delivered in 1-2 days,
  55-95% still there after 30 days (NATO StratCom: 80% after four weeks; Dagster: 25%-100%),
  the loss starting within days; drips of 5-16 days with a flat excess and abrupt edges (S4);
  on platforms with and without an activity figure (GitHub stars, Reddit subscribers);
- the real fake-star campaign of the verdicts issue: a repository at 5-10 stars a day that
  gains +514, +478, +257, +130, +96, +143 on six days;
- platform purges (S3: most accounts lose a handful, bought audiences lose much more) and
  surges (a platform-wide influx);
- YouTube's counts rounded to 3 significant figures (platform-apis.md).

Labels are events with a first and last day: `purchase` events are what a detector should
call `suspected_purchase` (or at least surface); `organic` events must never be called one;
`gap` and `platform` events are neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

START = date(2024, 1, 1)
ACTIVE = ("x", "bluesky", "mastodon", "instagram", "twitch")  # post counts published
QUIET = ("github", "reddit")  # no activity figure: stars, subscribers
LABEL_SCHEMA = {
    "platform": pl.String,
    "handle": pl.String,
    "scenario": pl.String,
    "kind": pl.String,
    "event": pl.String,
    "first": pl.Date,
    "last": pl.Date,
}


@dataclass(frozen=True)
class Label:
    kind: str  # purchase | organic | gap | platform
    scenario: str  # e.g. burst, drip, viral, upload, launch, gap_jump, star_campaign
    first: int  # day index
    last: int


@dataclass
class Account:
    platform: str
    handle: str
    followers: np.ndarray  # float, one per day; NaN where not collected
    posts: np.ndarray | None
    following: np.ndarray | None
    scenario: str
    labels: list[Label] = field(default_factory=list)


def _monthly_pace(rng: np.random.Generator, audience: float) -> float:
    """signals.md S10: the vendor benchmark of organic growth per month by size."""
    if audience < 10_000:
        return float(rng.uniform(0.02, 0.05))
    if audience < 100_000:
        return float(rng.uniform(0.01, 0.03))
    return float(rng.uniform(0.005, 0.015))


def _organic(
    rng: np.random.Generator, start: float, days: int, pace_boost: np.ndarray | None = None
) -> np.ndarray:
    """Net daily changes of an organic audience: arrivals minus departures."""
    audience = np.empty(days)
    level = start
    pace = _monthly_pace(rng, start)
    churn = float(rng.uniform(0.003, 0.015)) / 30  # share leaving per day
    k = float(rng.uniform(2, 12))  # negative-binomial dispersion of arrivals
    drift = np.exp(np.cumsum(rng.normal(0, 0.02, days)))  # slow changes of pace
    weekday = np.where(np.arange(days) % 7 >= 5, 0.8, 1.05)
    for d in range(days):
        boost = 1.0 if pace_boost is None else pace_boost[d]
        mean_in = level * (pace / 30 + churn) * drift[d] * weekday[d] * boost
        arrivals = rng.negative_binomial(k, k / (k + mean_in)) if mean_in > 0 else 0
        departures = rng.poisson(level * churn)
        level = max(level + arrivals - departures, 0.0)
        audience[d] = level
    return audience


def _posts(rng: np.random.Generator, platform: str, days: int) -> np.ndarray | None:
    if platform in QUIET:
        return None
    per_day = {
        "youtube": rng.uniform(1 / 10, 3 / 7),
        "instagram": rng.uniform(0.2, 1.5),
        "twitch": rng.uniform(0.2, 1.0),
    }.get(platform, rng.uniform(0.3, 6.0))
    return np.cumsum(rng.poisson(per_day, days)).astype(float) + float(rng.integers(10, 3000))


def _following(rng: np.random.Generator, platform: str, days: int) -> np.ndarray | None:
    if platform in ("youtube", "reddit", "twitch") or platform == "github":
        return None
    base = float(rng.integers(50, 2000))
    return np.maximum(base + np.cumsum(rng.integers(-2, 3, days)), 0).astype(float)


def _round3(values: np.ndarray) -> np.ndarray:
    """YouTube's public subscriber counts: 3 significant figures, rounded down."""
    out = values.copy()
    big = out >= 1000
    digits = np.floor(np.log10(np.maximum(out[big], 1))) - 2
    out[big] = np.floor(out[big] / 10**digits) * 10**digits
    return out


def _bought_path(
    rng: np.random.Generator, days: int, first: int, deliveries: np.ndarray
) -> np.ndarray:
    """Bought followers present each day: deliveries, then a partial loss over weeks."""
    present = np.zeros(days)
    total = float(deliveries.sum())
    retention = float(rng.uniform(0.55, 0.95))
    lag = int(rng.integers(1, 6))
    tau = float(rng.uniform(3, 20))
    last = first + len(deliveries) - 1
    for i, amount in enumerate(deliveries):
        if first + i < days:
            present[first + i :] += amount
    loss_start = last + lag
    if loss_start < days:
        t = np.arange(days - loss_start)
        lost = total * (1 - retention) * (1 - np.exp(-t / tau)) / (1 - np.exp(-30 / tau))
        present[loss_start:] -= np.minimum(lost, total * (1 - retention))
    return np.round(present)


def _package(rng: np.random.Generator, audience: float) -> float:
    """0.5-50% of the audience (log-uniform), in packages of 100 (signals.md S5)."""
    share = float(np.exp(rng.uniform(np.log(0.005), np.log(0.5))))
    return max(100.0, round(audience * share, -2))


class FieldScenarios:
    def __init__(self, seed: int, days: int = 365) -> None:
        self.rng = np.random.default_rng(seed)
        self.days = days
        self.accounts: list[Account] = []

    def _new(self, scenario: str, platform: str, start: float | None = None) -> Account:
        rng = self.rng
        audience = (
            start if start is not None else float(np.exp(rng.uniform(np.log(300), np.log(2e6))))
        )
        handle = f"{scenario}-{len(self.accounts)}"
        handle = {
            "mastodon": f"{handle}@field.example",
            "youtube": f"@{handle}",
            "reddit": f"r/{handle.replace('-', '_')}",
            "github": f"field/{handle}" if len(self.accounts) % 2 else handle,
        }.get(platform, handle)
        account = Account(
            platform,
            handle,
            _organic(rng, audience, self.days),
            _posts(rng, platform, self.days),
            _following(rng, platform, self.days),
            scenario,
        )
        self.accounts.append(account)
        return account

    def _day(self) -> int:
        return int(self.rng.integers(75, self.days - 45))

    # --- organic look-alikes --------------------------------------------------------------

    def viral(self, platform: str) -> None:
        a = self._new("viral", platform)
        rng, d = self.rng, self._day()
        jump = a.followers[d - 1] * float(np.exp(rng.uniform(np.log(0.02), np.log(0.4))))
        fade = float(rng.uniform(0.3, 0.55))
        tail_days = 14
        gains = jump * fade ** np.arange(tail_days)
        extra = np.zeros(self.days)
        extra[d : d + tail_days] = gains[: max(0, min(tail_days, self.days - d))]
        a.followers += np.round(np.cumsum(extra))
        if a.posts is not None:  # a moderate posting increase: 30-80% more over the days
            usual = (a.posts[d - 1] - a.posts[d - 29]) / 28
            added = np.zeros(self.days)
            added[d - 1 : d + 4] = self.rng.poisson(max(usual, 0.3) * rng.uniform(0.3, 0.8), 5)
            added[d] = max(added[d], 1)
            a.posts += np.cumsum(added)
        a.labels.append(Label("organic", "viral", d, d + 6))

    def upload(self) -> None:
        """A weekly poster's one upload, then +400, +300, +300 (or +110 the next day)."""
        a = self._new("upload", "youtube", start=float(self.rng.uniform(3_000, 60_000)))
        rng, d = self.rng, self._day()
        a.followers = a.followers[0] + np.cumsum(rng.integers(0, 3, self.days)).astype(float)
        if rng.random() < 0.5:
            steps = np.array([400, 300, 300]) * rng.uniform(0.7, 1.4)
            upload_day = d
        else:
            steps = np.array([110.0]) * rng.uniform(0.8, 1.5)
            upload_day = d - 1
        extra = np.zeros(self.days)
        extra[d : d + len(steps)] = np.round(steps)
        a.followers += np.cumsum(extra)
        assert a.posts is not None
        posts = np.floor(np.arange(self.days) / 7.0)  # weekly
        posts[upload_day:] += 1
        a.posts = posts + 50
        a.labels.append(Label("organic", "upload", upload_day, d + len(steps)))

    def launch(self) -> None:
        """A game launch's subreddit: +16% rising to +37% a day for a week, then easing."""
        a = self._new("launch", "reddit", start=float(self.rng.uniform(20_000, 400_000)))
        d = self._day()
        rates = np.r_[np.linspace(0.16, 0.37, 7), 0.37 * 0.6 ** np.arange(1, 15)]
        level = a.followers[d - 1]
        for i, r in enumerate(rates):
            if d + i < self.days:
                gained = level * r * self.rng.uniform(0.9, 1.1)
                a.followers[d + i :] += np.round(gained)
                level += gained
        a.labels.append(Label("organic", "launch", d, d + 10))

    def gaps(self, cohort: int) -> None:
        """A collection gap of 3-10 days shared by a cohort; some accounts jump inside it."""
        first = self._day()
        length = int(self.rng.integers(3, 11))
        for i in range(cohort):
            platform = (*ACTIVE, *QUIET)[i % 7]
            a = self._new("gap", platform)
            if i % 3 == 0:  # organic growth spurt inside the gap (a viral week nobody saw)
                extra = np.zeros(self.days)
                spurt = a.followers[first - 1] * float(self.rng.uniform(0.03, 0.3))
                inside = int(self.rng.integers(first, first + length))
                extra[inside : inside + 4] = spurt * np.array([0.5, 0.25, 0.15, 0.1])
                a.followers += np.round(np.cumsum(extra))
                a.labels.append(Label("organic", "gap_jump", first, first + length + 2))
            a.followers[first : first + length] = np.nan
            a.labels.append(Label("gap", "gap", first, first + length))

    # --- purchases ---------------------------------------------------------------------------

    def burst(self, platform: str) -> None:
        a = self._new("burst", platform)
        d = self._day()
        size = _package(self.rng, a.followers[d - 1])
        split = [1.0] if self.rng.random() < 0.6 else [0.6, 0.4]
        deliveries = np.round(size * np.array(split))
        a.followers += _bought_path(self.rng, self.days, d, deliveries)
        a.labels.append(Label("purchase", "burst", d, d + len(split) - 1))

    def drip(self, platform: str) -> None:
        a = self._new("drip", platform)
        d = self._day()
        length = int(self.rng.integers(5, 17))
        size = _package(self.rng, a.followers[d - 1])
        size = max(size, 100.0 * length)  # panels deliver at least ~100 a day on a drip
        daily = size / length * self.rng.uniform(0.9, 1.1, length)
        a.followers += _bought_path(self.rng, self.days, d, np.round(daily))
        a.labels.append(Label("purchase", "drip", d, d + length - 1))

    def star_campaign(self) -> None:
        """The real campaign: 5-10 stars a day, then +514, +478, +257, +130, +96, +143."""
        a = self._new("star_campaign", "github", start=float(self.rng.uniform(300, 3000)))
        a.followers = a.followers[0] + np.cumsum(self.rng.integers(5, 11, self.days)).astype(float)
        d = self._day()
        deliveries = np.array([514, 478, 257, 130, 96, 143]) * self.rng.uniform(0.8, 1.25)
        extra = np.zeros(self.days)
        extra[d : d + 6] = np.round(deliveries)
        a.followers += np.cumsum(extra)
        a.labels.append(Label("purchase", "star_campaign", d, d + 5))

    # --- platform-wide -----------------------------------------------------------------------

    def platform_event(self, platform: str, kind: str, cohort: int) -> None:
        """A purge (most lose a handful, bought audiences much more) or a surge, one day."""
        d = self._day()
        for i in range(cohort):
            a = self._new(kind, platform)
            level = a.followers[d - 1]
            if kind == "purge":
                share = (
                    self.rng.uniform(0.02, 0.3) if i % 10 == 0 else self.rng.uniform(0.0005, 0.01)
                )
                change = -np.round(level * share)
            else:
                usual = max((a.followers[d - 1] - a.followers[d - 29]) / 28, 1)
                change = np.round(usual * self.rng.uniform(8, 40) + level * 0.01)
            a.followers[d:] = np.maximum(a.followers[d:] + change, 0)
            a.labels.append(Label("platform", kind, d, d))

    def organic(self, platform: str) -> None:
        self._new("organic", platform)

    # --- output ------------------------------------------------------------------------------

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Snapshots (platform, handle, day, followers, following, posts) and labels."""
        days = [START + timedelta(days=i) for i in range(self.days)]
        parts, labels = [], []
        for a in self.accounts:
            followers = _round3(a.followers) if a.platform == "youtube" else a.followers
            seen = ~np.isnan(followers)
            n = int(seen.sum())
            parts.append(
                pl.DataFrame(
                    {
                        "platform": [a.platform] * n,
                        "handle": [a.handle] * n,
                        "day": [d for d, s in zip(days, seen, strict=True) if s],
                        "followers": followers[seen].astype(np.int64),
                        "following": (a.following[seen] if a.following is not None else [None] * n),
                        "posts": a.posts[seen] if a.posts is not None else [None] * n,
                    },
                    schema_overrides={"following": pl.Int64, "posts": pl.Int64},
                    strict=False,
                )
            )
            labels += [
                {
                    "platform": a.platform,
                    "handle": a.handle,
                    "scenario": a.scenario,
                    "kind": lab.kind,
                    "event": lab.scenario,
                    "first": START + timedelta(days=lab.first),
                    "last": START + timedelta(days=lab.last),
                }
                for lab in a.labels
            ]
        return pl.concat(parts), pl.DataFrame(labels, schema=LABEL_SCHEMA)


def field_scenarios(
    per_kind: int, seed: int, days: int = 365
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """Snapshots, labels, and each account's scenario, for `per_kind` accounts of each kind."""
    g = FieldScenarios(seed, days)
    for i in range(per_kind):
        active = ACTIVE[i % len(ACTIVE)]
        anywhere = (*ACTIVE, *QUIET, "youtube")[i % 8]
        g.organic(anywhere)
        g.viral(active)
        g.upload()
        g.burst(anywhere)
        g.drip(anywhere)
        g.burst(QUIET[i % 2])
        if i % 3 == 0:
            g.launch()
            g.star_campaign()
    g.gaps(max(per_kind // 2, 7))
    g.platform_event("x", "purge", max(per_kind // 3, 10))
    g.platform_event("bluesky", "surge", max(per_kind // 3, 10))
    snapshots, labels = g.frames()
    scenario_of = {f"{a.platform}:{a.handle}": a.scenario for a in g.accounts}
    return snapshots, labels, scenario_of
