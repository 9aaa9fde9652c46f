"""Who follows each simulated account, day by day: the follow log behind its counts.

An account's follow log agrees with its count history: on every simulated day the number of
followers alive in the log is exactly the count the platform shows (World.figures), except on
a display-glitch day, whose count is the glitch. A purchase's followers arrive on the
purchase's days, in one block (lockstep, seconds apart), as the newest followers of that day;
its attrition removes its own followers; organic gains add organic followers at random times
of the day, organic losses remove random organic followers. Profiles come from
simulator/populations.py (calibrated on real labelled profiles): bought accounts are mostly
created in a few batches shortly before the delivery, mostly empty, and followed in lockstep;
some are old and dressed, and some organic ones are new or empty (no clean separation).

The endpoints that list them: simulator/followers.py.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from simulator.audiences import PURCHASE_KINDS, AccountSpec, Event, add_purchase
from simulator.populations import (
    BATCH_LEAD_DAYS,
    BOUGHT_AGED,
    Profiles,
    draw_profiles,
    organic_ages_days,
)
from simulator.world import did_for

MS_DAY = 86_400_000
NEVER = 2**31 - 1
LAUNCH = {"bluesky": date(2022, 11, 1), "mastodon": date(2016, 3, 16), "github": date(2007, 10, 20)}
FOLLOWER_PLATFORMS = tuple(LAUNCH)
OTHER_HOSTS = ("mastodon.social", "fosstodon.org", "hachyderm.io", "infosec.exchange")
_WORDS = [
    "amber",
    "birch",
    "cedar",
    "delta",
    "ember",
    "fern",
    "gale",
    "harbor",
    "iris",
    "juniper",
    "kelp",
    "lumen",
    "maple",
    "north",
    "olive",
    "pine",
    "quill",
    "river",
    "sage",
    "tide",
    "umber",
    "vale",
    "willow",
    "yarrow",
    "zephyr",
]
_NAMES = [
    "Ada",
    "Ben",
    "Cleo",
    "Dara",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lena",
    "Milo",
    "Nia",
    "Omar",
    "Pia",
    "Rui",
    "Sol",
]


def day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stable_hash(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


@dataclass
class FollowLog:
    """Every follower an account ever had, in follow order (index 0 = the oldest follow)."""

    platform: str
    handle: str
    start: date
    days: int  # simulated days; past the last one, the list stays as on the last
    followed_ms: np.ndarray  # int64, non-decreasing
    arrived: np.ndarray  # int32: first simulated day (index) it is a follower
    departed: np.ndarray  # int32: first day it is no longer one (NEVER: still there)
    purchase: np.ndarray  # int16: -1 organic, else the index of the purchase among the events
    created_ms: np.ndarray  # int64: account creation
    profiles: Profiles
    hosts: list[str]  # Mastodon: each follower's server

    def __len__(self) -> int:
        return len(self.followed_ms)

    def alive(self, day: int) -> np.ndarray:
        """Indices of the followers on simulated day `day`, oldest follow first."""
        return np.flatnonzero((self.arrived <= day) & (self.departed > day))

    def count(self, day: int) -> int:
        return int(((self.arrived <= day) & (self.departed > day)).sum())

    def organic_counts(self, days: int) -> np.ndarray:
        """Organic followers alive on each day (what engagement is drawn from)."""
        organic = self.purchase < 0
        gained = np.bincount(self.arrived[organic], minlength=days + 1)[:days]
        gone = self.departed[organic]
        lost = np.bincount(gone[gone < days], minlength=days + 1)[:days]
        return np.cumsum(gained) - np.cumsum(lost)

    def key(self, index: int) -> str:
        return f"{self.platform}:{self.handle}:{index}"

    def name(self, index: int) -> str:
        """A user name: words, digits for the profiles that have them, a tag that makes it unique."""
        h = stable_hash(self.key(index))
        word = _WORDS[h % len(_WORDS)] + _WORDS[(h >> 8) % len(_WORDS)]
        digits = str((h >> 16) % 10_000) if self.profiles.digits[index] else ""
        tag = np.base_repr((h >> 32) % 36**4, 36).lower().rjust(4, "0")
        return f"{word}{digits}-{tag}" if self.platform == "github" else f"{word}{digits}{tag}"

    def display_name(self, index: int) -> str:
        if not (self.profiles.has_avatar[index] or self.profiles.has_bio[index]):
            return ""
        h = stable_hash(self.key(index), "name")
        return f"{_NAMES[h % len(_NAMES)]} {_WORDS[(h >> 8) % len(_WORDS)].title()}"

    def bio(self, index: int) -> str:
        if not self.profiles.has_bio[index]:
            return ""
        h = stable_hash(self.key(index), "bio")
        return f"{_WORDS[h % len(_WORDS)]} and {_WORDS[(h >> 8) % len(_WORDS)]}, mostly"

    def bluesky_handle(self, index: int) -> str:
        return f"{self.name(index)}.bsky.social"

    def did(self, index: int) -> str:
        return did_for(f"follower:{self.key(index)}")


def build_log(
    spec: AccountSpec,
    followers: list[int],
    start: date,
    seed: int,
    home_host: str = "",
) -> FollowLog:
    """The follow log behind one account's daily counts (see the module's docstring)."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{spec.platform}:{spec.handle}".encode()), 15])
    days = len(followers)
    counts = _shown_counts(spec, followers)
    purchases = [ev for ev in spec.events if ev.kind in PURCHASE_KINDS and ev.day > 0]
    deltas = [_purchase_deltas(ev, days) for ev in purchases]
    start_ms = day_ms(start)
    # day 0: the followers gathered before the simulated span, over the two years before it
    # (or since the platform's launch)
    initial = int(counts[0])
    gathered = min(730 * MS_DAY, start_ms - day_ms(LAUNCH.get(spec.platform, start)))
    first = np.sort(start_ms - rng.integers(1, max(gathered, 2), initial))
    ledger = _Ledger(rng, start_ms, first, len(purchases))
    for day in range(1, days):
        ledger.follow_day(day, int(counts[day] - counts[day - 1]), [int(d[day]) for d in deltas])
    followed_ms, arrived, gone, purchase = ledger.arrays()
    profiles = _profiles(rng, purchase >= 0)
    created = _created(rng, spec.platform, start, followed_ms, purchase, purchases)
    hosts = _hosts(rng, home_host, purchase) if spec.platform == "mastodon" else []
    return FollowLog(
        spec.platform,
        spec.handle,
        start,
        days,
        followed_ms,
        arrived,
        gone,
        purchase,
        created,
        profiles,
        hosts,
    )


def _shown_counts(spec: AccountSpec, followers: list[int]) -> np.ndarray:
    """The daily counts the followers must match: a display glitch is not followers leaving
    and coming back."""
    counts = np.array(followers, dtype=np.int64)
    for ev in spec.events:
        if ev.kind == "glitch" and 0 < ev.day < len(followers):
            counts[ev.day] = counts[ev.day - 1]
    return counts


def _purchase_deltas(ev: Event, days: int) -> np.ndarray:
    """The followers a purchase adds (or, by attrition, takes) each day, whole."""
    bought = np.zeros(days)
    add_purchase(bought, ev)
    deltas: np.ndarray = np.diff(np.round(np.cumsum(bought)).astype(np.int64), prepend=0)
    return deltas


class _Ledger:
    """The follow log as it is built day by day: the follows in order, who left when, and the
    pools leavers are drawn from (0: organic, p + 1: purchase p)."""

    def __init__(
        self, rng: np.random.Generator, start_ms: int, initial: np.ndarray, purchases: int
    ) -> None:
        self.rng = rng
        self.start_ms = start_ms
        self.followed = [initial]
        self.arrived = [np.zeros(len(initial), dtype=np.int32)]
        self.kinds = [np.full(len(initial), -1, dtype=np.int16)]
        self.pools: list[list[int]] = [list(range(len(initial)))] + [[] for _ in range(purchases)]
        self.departed: dict[int, int] = {}
        self.n = len(initial)

    def leave(self, pool: list[int], k: int, day: int) -> int:
        """`k` random followers of `pool` leave on `day` (fewer if it holds fewer): how many."""
        k = min(k, len(pool))
        for _ in range(k):
            i = int(self.rng.integers(len(pool)))
            pool[i], pool[-1] = pool[-1], pool[i]
            self.departed[pool.pop()] = day
        return k

    def follow_day(self, day: int, organic: int, bought: list[int]) -> None:
        """One day: `organic` the change of the count, `bought` each purchase's own change."""
        rng, pools = self.rng, self.pools
        times: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        for p, got in enumerate(bought):
            organic -= got
            if got > 0:  # one block: the vendor's accounts follow seconds apart
                span = min(got * rng.uniform(2_000, 8_000), 0.8 * MS_DAY)
                begin = rng.uniform(0, MS_DAY - span)
                times.append(begin + np.sort(rng.uniform(0, span, got)))
                labels.append(np.full(got, p, dtype=np.int16))
            elif got < 0:
                short = -got - self.leave(pools[p + 1], -got, day)
                organic -= short  # bought followers already gone: the rest leave elsewhere
        if organic > 0:
            times.append(rng.uniform(0, MS_DAY, organic))
            labels.append(np.full(organic, -1, dtype=np.int16))
        elif organic < 0:
            short = -organic - self.leave(pools[0], -organic, day)
            for pool in pools[1:]:
                short -= self.leave(pool, short, day)
        if times:
            day_times = np.concatenate(times)
            day_labels = np.concatenate(labels)
            order = np.argsort(day_times, kind="stable")
            self.followed.append(self.start_ms + day * MS_DAY + day_times[order].astype(np.int64))
            self.kinds.append(day_labels[order])
            self.arrived.append(np.full(len(order), day, dtype=np.int32))
            for offset, label in enumerate(day_labels[order]):
                pools[int(label) + 1].append(self.n + offset)
            self.n += len(order)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(followed_ms, arrived, departed, purchase) of every follow."""
        gone = np.full(self.n, NEVER, dtype=np.int32)
        for index, day in self.departed.items():
            gone[index] = day
        followed_ms = np.concatenate(self.followed).astype(np.int64)
        return followed_ms, np.concatenate(self.arrived), gone, np.concatenate(self.kinds)


def _profiles(rng: np.random.Generator, bought: np.ndarray) -> Profiles:
    organic = draw_profiles(rng, "organic", int((~bought).sum()))
    fake = draw_profiles(rng, "bought", int(bought.sum()))
    merged = {}
    for name in Profiles.__dataclass_fields__:
        column = np.empty(len(bought), dtype=getattr(organic, name).dtype)
        column[~bought] = getattr(organic, name)
        column[bought] = getattr(fake, name)
        merged[name] = column
    return Profiles(**merged)


def _created(
    rng: np.random.Generator,
    platform: str,
    start: date,
    followed_ms: np.ndarray,
    purchase: np.ndarray,
    purchases: list[Any],
) -> np.ndarray:
    """Account creation times: organic ages, bought batches shortly before their delivery."""
    n = len(followed_ms)
    created = followed_ms - (organic_ages_days(rng, n) * MS_DAY).astype(np.int64)
    for p, ev in enumerate(purchases):
        members = np.flatnonzero(purchase == p)
        batches = int(np.clip(1 + ev.size // 400, 1, 4))
        lead = rng.integers(BATCH_LEAD_DAYS[0], BATCH_LEAD_DAYS[1] + 1, batches)
        batch_start = (
            day_ms(start) + (ev.day - lead) * MS_DAY + rng.integers(0, MS_DAY // 2, batches)
        )
        which = rng.integers(0, batches, len(members))
        in_batch = batch_start[which] + rng.integers(0, 6 * 3_600_000, len(members))
        aged = rng.random(len(members)) < BOUGHT_AGED
        created[members] = np.where(aged, created[members], in_batch)
    floor = day_ms(LAUNCH.get(platform, date(2006, 1, 1)))
    latest = followed_ms - 60_000  # created at least a minute before following
    # older than the platform: some time between its launch and the follow, not all on day one
    early = created < floor
    created[early] = floor + (rng.random(int(early.sum())) * (latest[early] - floor)).astype(
        np.int64
    )
    clipped: np.ndarray = np.clip(created, floor, np.maximum(latest, floor))
    return clipped


def _hosts(rng: np.random.Generator, home: str, purchase: np.ndarray) -> list[str]:
    """Mastodon followers' servers: half on the account's home server; a purchase's from 1-2
    servers of its own."""
    choices = [home, *OTHER_HOSTS]
    organic = rng.choice(len(choices), size=len(purchase), p=[0.5] + [0.5 / len(OTHER_HOSTS)] * 4)
    vendor = rng.integers(0, 2, len(purchase))
    return [
        choices[int(o)] if p < 0 else f"m{vendor[i] + 2 * int(p)}.social.example"
        for i, (o, p) in enumerate(zip(organic, purchase, strict=True))
    ]
