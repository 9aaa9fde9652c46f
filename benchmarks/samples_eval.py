"""How much the follower sample adds to the verdicts (issue 15, "Done when"): precision and
recall of `suspected_purchase` (and of purchases surfaced: `suspected_purchase` or
`unexplained`) with and without the samples, over audiences the simulator serves over HTTP.

The accounts: Bluesky and Mastodon accounts and GitHub repositories, each with one labelled
event 12-30 days before the last day (the nightly samples the anomalies of the last 30 days),
among four times as many with no event (so that the events do not make a platform-wide event):
purchases of 3-40% of the audience delivered in a day (with 60-95% retention) or dripped over
6-10 days, and organic look-alikes (viral jumps of 20-80 times the usual gain, with their
posting bursts where the platform has posts). Three groups: the Bluesky and Mastodon accounts
with the activity figure (posts); the same accounts with the posts removed from the stored
history, standing in for accounts that publish no activity figure; and the GitHub
repositories, which have none, sampled from their stargazers (`starred_at` places the jump's
and the ordinary days' stars; each stargazer's `/users/{login}` profile, served by the
simulator from the same calibrated populations, with the token GitHub requires).

Each group is imported into its own warehouse and analysed (without samples); then the
nightly's sampling (pipeline.sample, the simulator's follower lists, stargazers and profiles
over loopback, its rate limits raised so that the run is not spent waiting) and the analysis
again (with samples). A suspected purchase is right when it falls from a purchase's first day
to 7 days after its last; an organic event is falsely accused when a suspected purchase falls
from its first day to 14 days after its last.

Run: ./scripts/uv.sh run --locked python -m benchmarks.samples_eval [--per-kind 10] [--seed 5]
(about 5 minutes: the GitHub group's samples are about 200 requests each, a profile a
stargazer)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks.collect import audience_limits_off
from core.settings import Settings, load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from pipeline.sample import sample_anomalies
from simulator.audiences import AccountSpec, Event
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from warehouse.db import open_warehouse
from warehouse.reads import anomaly_listing

START = date(2024, 1, 1)
DAYS = 100
TODAY = START + timedelta(days=DAYS - 1)
PLATFORMS = {"bluesky": "bsky.social", "mastodon": "hachyderm.io", "github": "repo"}
TOKEN = "sim-github-token-eval"
GROUPS = (  # name, with the posts, platforms
    ("with the activity figure (posts)", True, ("bluesky", "mastodon")),
    ("no activity figure (posts removed: GitHub-like)", False, ("bluesky", "mastodon")),
    ("GitHub repositories (stargazer samples; no activity figure)", False, ("github",)),
)
KINDS = ("burst_purchase", "drip_purchase", "viral")
QUIET = 4  # accounts with no event, per event account: a platform-wide event needs many together


@dataclass(frozen=True)
class Case:
    platform: str
    handle: str
    event: Event

    @property
    def purchase(self) -> bool:
        return self.event.kind.endswith("purchase")

    def window(self, after: int) -> tuple[date, date]:
        first = START + timedelta(days=self.event.day)
        return first, first + timedelta(days=self.event.days - 1 + after)


def cases(per_kind: int, seed: int) -> tuple[list[AccountSpec], list[Case]]:
    rng = np.random.default_rng(seed)
    specs, out = [], []
    for platform in PLATFORMS:
        for kind in KINDS:
            for i in range(per_kind):
                start = int(rng.integers(1_500, 6_000))
                rate = float(rng.uniform(3, 12))
                day = int(rng.integers(DAYS - 30, DAYS - 12))
                if kind == "viral":
                    event = Event("viral", day, float(rng.uniform(20, 80)))
                else:
                    share = float(np.exp(rng.uniform(np.log(0.03), np.log(0.4))))
                    days = 1 if kind == "burst_purchase" else int(rng.integers(6, 11))
                    day = min(day, DAYS - 12 - days)
                    event = Event(
                        kind, day, round(share * start), days, float(rng.uniform(0.6, 0.95))
                    )
                handle = _handle(platform, f"{kind.split('_')[0]}{i}")
                specs.append(_spec(platform, handle, start, rate, (event,)))
                out.append(Case(platform, handle, event))
        for i in range(QUIET * per_kind * len(KINDS)):
            start, rate = int(rng.integers(1_500, 6_000)), float(rng.uniform(3, 12))
            specs.append(_spec(platform, _handle(platform, f"quiet{i}"), start, rate, ()))
    return specs, out


def _handle(platform: str, name: str) -> str:
    host = PLATFORMS[platform]
    return {"bluesky": f"{name}.{host}", "mastodon": f"{name}@{host}"}.get(
        platform, f"{name}/{host}"
    )


def _spec(
    platform: str, handle: str, start: int, rate: float, events: tuple[Event, ...]
) -> AccountSpec:
    if platform == "github":  # a repository: stars, no posts, no following
        return AccountSpec(
            platform, handle, start, rate, posts_per_day=None, following=None, events=events
        )
    return AccountSpec(platform, handle, start, rate, events=events)


def _csv(world: World, specs: list[AccountSpec], path: Path, *, posts: bool) -> Path:
    rows = ["platform,handle,date,followers,posts"]
    for spec in specs:
        history = world.history(spec.platform, spec.handle)
        assert history is not None
        for d, (n, p) in enumerate(zip(*history, strict=True)):
            shown = "" if p is None or not posts else str(p)
            rows.append(f"{spec.platform},{spec.handle},{START + timedelta(days=d)},{n},{shown}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _verdicts(warehouse: Path) -> list[tuple[str, str, date, str]]:
    with open_warehouse(warehouse, read_only=True) as con:
        rows = anomaly_listing(
            con,
            ["platform", "handle", "day", "verdict"],
            since=None,
            platform=None,
            suspected=False,
        ).fetchall()
    return [(str(p), str(h), d, str(v)) for p, h, d, v in rows]


def score(rows: list[tuple[str, str, date, str]], group: list[Case]) -> dict[str, float]:
    def within(case: Case, after: int, wanted: tuple[str, ...]) -> list[date]:
        first, last = case.window(after)
        return [
            d
            for p, h, d, v in rows
            if (p, h) == (case.platform, case.handle) and first <= d <= last and v in wanted
        ]

    purchases = [c for c in group if c.purchase]
    organic = [c for c in group if not c.purchase]
    accounts = {(c.platform, c.handle) for c in group}
    suspected = [
        (p, h, d) for p, h, d, v in rows if v == "suspected_purchase" and (p, h) in accounts
    ]
    right = sum(
        any((c.platform, c.handle) == (p, h) and d in within(c, 7, ("suspected_purchase",))
            for c in purchases)
        for p, h, d in suspected
    )  # fmt: skip
    return {
        "precision": right / len(suspected) if suspected else float("nan"),
        "suspected": len(suspected),
        "recall": sum(bool(within(c, 7, ("suspected_purchase",))) for c in purchases)
        / len(purchases),
        "surfaced": sum(
            bool(within(c, 7, ("suspected_purchase", "unexplained"))) for c in purchases
        )
        / len(purchases),
        "accused": sum(bool(within(c, 14, ("suspected_purchase",))) for c in organic),
        "organic": len(organic),
    }


def _settings(url: str) -> Settings:
    env = {
        "AUDIENCE_PLATFORMS__BLUESKY__BASE_URL": f"{url}/bluesky",
        "AUDIENCE_PLATFORMS__MASTODON__BASE_URL": f"{url}/mastodon/{{host}}",
        "AUDIENCE_PLATFORMS__GITHUB__BASE_URL": f"{url}/github",
        "AUDIENCE_PLATFORMS__BLUESKY__BACKOFF_S": "0.01",
        "AUDIENCE_PLATFORMS__MASTODON__BACKOFF_S": "0.01",
        "AUDIENCE_PLATFORMS__GITHUB__BACKOFF_S": "0.01",
        "AUDIENCE_SAMPLES__MAX_REQUESTS": "100000",
        "AUDIENCE_GITHUB_TOKEN": TOKEN,
    }
    return load_settings(
        None, environ={k: v for k, v in os.environ.items() if k != "AUDIENCE_CONFIG"} | env
    )


def _line(name: str, without: dict[str, float], with_: dict[str, float]) -> str:
    def cell(s: dict[str, float]) -> str:
        return (
            f"precision {s['precision']:.3f} ({s['suspected']:.0f} suspected), recall "
            f"{s['recall']:.3f}, surfaced {s['surfaced']:.3f}, organic accused "
            f"{s['accused']:.0f} of {s['organic']:.0f}"
        )

    return f"{name}\n  without samples: {cell(without)}\n  with samples:    {cell(with_)}"


def evaluate(per_kind: int, seed: int) -> None:
    specs, labelled = cases(per_kind, seed)
    world = World(specs, START, DAYS, seed=seed)
    started = time.perf_counter()
    simulator = Simulator(world, credentials={"github_token": TOKEN})
    with SimulatorServer(simulator) as server, tempfile.TemporaryDirectory() as tmp:
        audience_limits_off(server.url)
        settings = _settings(server.url)
        print(
            f"{len(specs)} simulated accounts (Bluesky, Mastodon) and repositories (GitHub), "
            f"{DAYS} days (seed {seed}): {len(labelled)} with one event 12-30 days before the "
            f"last day ({per_kind} per kind and platform: {', '.join(KINDS)}), "
            f"{len(specs) - len(labelled)} with none"
        )
        for i, (group, posts, platforms) in enumerate(GROUPS):
            chosen_specs = [spec for spec in specs if spec.platform in platforms]
            wh = Path(tmp) / f"{i}.duckdb"
            csv = _csv(world, chosen_specs, Path(tmp) / f"{i}.csv", posts=posts)
            import_history([csv], wh, TODAY)
            run_analysis(wh, settings, TODAY)
            before = _verdicts(wh)
            taken = time.perf_counter()
            report = sample_anomalies(wh, settings, TODAY)
            after = _verdicts(wh)
            print(
                f"\n== {group}: {len(report.taken)} samples taken, {len(report.queued)} queued, "
                f"{len(report.refused)} refused; {report.requests:,} requests in "
                f"{time.perf_counter() - taken:.1f} s"
            )
            rows: list[tuple[str, tuple[str, ...]]] = [(p, (p,)) for p in platforms]
            if len(platforms) > 1:
                rows.append(("all", platforms))
            for name, among in rows:
                chosen = [c for c in labelled if c.platform in among]
                print(_line(name, score(before, chosen), score(after, chosen)))
    print(f"\n{time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    evaluate(args.per_kind, args.seed)


if __name__ == "__main__":
    main()
