"""The simulated platforms' state: accounts with deterministic audiences and a simulated date.

`World.figures(platform, handle)` answers "what would the platform show today", where today
is the simulated date; accounts have identities (ids, display names) derived from their
handles so every platform's payload can be built from them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

from simulator.audiences import AccountSpec, PlatformEvent, generate

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_YT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def numeric_id(key: str) -> str:
    return str(int.from_bytes(_digest(key)[:6], "big"))


def did_for(handle: str) -> str:
    return "did:plc:" + "".join(_B32[b % 32] for b in _digest(handle)[:24])


def channel_id_for(handle: str) -> str:
    return "UC" + "".join(_YT[b % 64] for b in _digest(handle)[:22])


@dataclass
class Figures:
    followers: int
    following: int | None
    posts: int | None
    status: str = "active"  # active, suspended, missing, moved, hidden, deactivated


@dataclass
class World:
    """Accounts of every simulated platform, evolving day by day."""

    specs: list[AccountSpec]
    start: date
    days: int
    seed: int = 0
    platform_events: list[PlatformEvent] = field(default_factory=list)
    today: date | None = None
    _series: dict[tuple[str, str], tuple[list[int], list[int | None], list[int | None]]] = field(
        default_factory=dict, repr=False
    )
    _status: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    display_names: dict[tuple[str, str], str] = field(default_factory=dict)
    _specs: dict[tuple[str, str], AccountSpec] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for s in self.specs:  # one lookup per answer: a scan of 10,000 specs cost 11% of its CPU
            self._specs.setdefault((s.platform, s.handle), s)
        generated = generate(
            self.specs, self.start, self.days, self.seed, self.platform_events, with_gaps=False
        )
        # no gaps in what a platform shows: gaps are collection faults, simulated separately
        frame = generated.snapshots
        for (platform, handle), part in frame.group_by("platform", "handle", maintain_order=True):
            self._series[(str(platform), str(handle))] = (
                part.get_column("followers").to_list(),
                part.get_column("following").to_list(),
                part.get_column("posts").to_list(),
            )
        if self.today is None:
            self.today = self.last_day

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def day_index(self) -> int:
        assert self.today is not None
        return (self.today - self.start).days

    def set_today(self, today: date) -> None:
        with self._lock:
            self.today = today

    def reset(self) -> None:
        """Back to the last simulated day, every account active (what a test found)."""
        with self._lock:
            self._status.clear()
            self.today = self.last_day

    def set_status(self, platform: str, handle: str, status: str) -> None:
        with self._lock:
            self._status[(platform, handle)] = status

    def handles(self, platform: str) -> list[str]:
        return [h for p, h in self._series if p == platform]

    def spec(self, platform: str, handle: str) -> AccountSpec | None:
        return self._specs.get((platform, handle))

    def history(self, platform: str, handle: str) -> tuple[list[int], list[int | None]] | None:
        """The account's daily followers and posts over the whole simulated span."""
        series = self._series.get((platform, handle))
        return None if series is None else (series[0], series[2])

    def figures(self, platform: str, handle: str) -> Figures | None:
        """What the platform shows today; None if the account does not exist (yet)."""
        series = self._series.get((platform, handle))
        index = self.day_index
        if series is None or index < 0:
            return None
        index = min(index, len(series[0]) - 1)
        status = self._status.get((platform, handle), "active")
        if status == "missing":
            return None
        followers, following, posts = series
        return Figures(int(followers[index]), following[index], posts[index], status)
