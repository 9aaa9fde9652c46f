"""Where a queued sample stopped (issue 15.2: samples continue on the next night), kept in
`sample_progress` as JSON while the sample is queued and dropped when it is taken or refused.

A sample is a plan made on its first night and steps that each spend requests: the list walk
(Bluesky's cursor or Mastodon's `max_id`, and the positions read; GitHub's next stargazers page),
then the profiles. Each step's result is kept here as soon as it is read, so the next night
continues from the next request and no request is spent twice; an interrupted or failed night
keeps what it read before.

Positions stay those of the first night: a newest-first list's positions count back from the
count the plan was made with (`anchor`), and a cursor continues from the same place in the
list whatever arrived at its head since. Only a restart from the head (a cursor the platform
no longer accepts) moves them: by `offset`, the followers gained since (the stored counts).

Only the fields the judgement reads are kept (core.samples.SampledProfile), for the plan's
chosen followers only (at most twice `[samples] size`); GitHub's stars of a walk are thinned as
they come (`Thinned`: at most twice `size` kept, evenly spread), one night or several alike.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any

from core.samples import SampledProfile

_DATES = {"arrival_day": date.fromisoformat}
_TIMES = {"followed_at": datetime.fromisoformat, "created_at": datetime.fromisoformat}


def profile_json(p: SampledProfile) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(p).items()}


def profile_from(raw: dict[str, Any]) -> SampledProfile:
    values = dict(raw)
    for name, parse in (_DATES | _TIMES).items():
        if values.get(name) is not None:
            values[name] = parse(values[name])
    return SampledProfile(**values)


@dataclass
class Thinned:
    """Items kept evenly spread as they come: every `stride`-th, the stride doubling whenever
    more than `2 * size` are kept (so that `spread(kept, size)` reads the whole walk)."""

    size: int
    stride: int = 1
    seen: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)  # (login, starred_at ISO)

    def add(self, login: str, when: datetime) -> None:
        if self.seen % self.stride == 0:
            self.kept.append((login, when.isoformat()))
        self.seen += 1
        if len(self.kept) > 2 * self.size:
            self.kept, self.stride = self.kept[::2], self.stride * 2

    def items(self) -> list[tuple[str, datetime]]:
        return [(login, datetime.fromisoformat(when)) for login, when in self.kept]


@dataclass
class SampleProgress:
    """One sample's plan and how far it got (all nights together)."""

    needed: int  # requests the whole sample is estimated to take
    stage: str = "list"  # lists: list, profiles; GitHub: jump, baseline, profiles
    requests: int = 0  # spent on it so far
    restarts: int = 0  # walks begun again from the head (a refused cursor)
    restarted: str | None = None  # why, said in its summary
    # newest-first lists (Bluesky, Mastodon)
    anchor: int = 0  # the count the positions count back from (the first night's)
    jump: list[int] = field(default_factory=list)  # chosen positions of the jump
    base: tuple[int, int] = (0, 0)  # the baseline's positions, start and stop
    offset: int = 0  # list positions read now minus the anchor's (after a restart)
    reached: int = 0  # list items read (positions 0 .. reached - 1 of this walk)
    pages: int = 0  # list pages read
    cursor: str | None = None  # Bluesky's cursor, Mastodon's max_id; None: from the head
    account_id: str | None = None  # Mastodon's id of the account
    listed: dict[int, SampledProfile] = field(default_factory=dict)  # by anchor position
    order: list[int] = field(default_factory=list)  # the positions read, the jump's first
    # GitHub repositories: the next page of the stage's walk, the stars of each walk
    page: int = 0
    start_pages: tuple[int, int] = (1, 1)  # where the jump's and the baseline's walks begin
    stars: dict[str, Thinned] = field(default_factory=dict)
    chosen: list[tuple[str, str]] = field(default_factory=list)  # (login, starred_at) to fetch
    cut: int = 0  # how many of `chosen` (or of the positions) are the jump's
    # both: profiles fetched and ready to judge, in order (the jump's first)
    done: list[SampledProfile] = field(default_factory=list)

    def to_json(self) -> str:
        raw: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "listed":
                value = {str(k): profile_json(p) for k, p in value.items()}
            elif f.name == "done":
                value = [profile_json(p) for p in value]
            elif f.name == "stars":
                value = {k: asdict(t) for k, t in value.items()}
            raw[f.name] = value
        return json.dumps(raw, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SampleProgress:
        raw = json.loads(text)
        raw["listed"] = {int(k): profile_from(p) for k, p in raw["listed"].items()}
        raw["done"] = [profile_from(p) for p in raw["done"]]
        raw["stars"] = {
            k: Thinned(t["size"], t["stride"], t["seen"], [tuple(x) for x in t["kept"]])
            for k, t in raw["stars"].items()
        }
        raw["chosen"] = [tuple(x) for x in raw["chosen"]]
        raw["base"], raw["start_pages"] = tuple(raw["base"]), tuple(raw["start_pages"])
        return cls(**raw)

    def said(self) -> str:
        """How far it got, for its queued summary: "340 of ~900 requests done"."""
        needed = max(self.needed, self.requests + 1)
        line = f"{self.requests:,} of ~{needed:,} requests done"
        return f"{line}; {self.restarted}" if self.restarted else line


class Unfinishable(Exception):
    """The sample cannot finish in any number of nights (a page cap, a cursor refused twice):
    it is refused with why, never queued for ever."""
