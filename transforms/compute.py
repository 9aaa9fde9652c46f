"""The analysis's computation: snapshots -> daily metrics, flagged days, anomalies (pure).

Accounts are scored CHUNK_ACCOUNTS at a time on THREADS threads (transforms.signals.score);
each chunk's metrics go to a sink (the warehouse, in a run) as soon as they are ready, and
only the days that may become anomalies (a margin above 1), the new days' margins for the
checker and the last 91 days for the account summary are kept. No I/O, no clock: the caller
says when the anomalies were detected.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from core.detection import DetectionSettings
from transforms.anomalies import (
    ANOMALY_SCHEMA,
    DAY_EVIDENCE,
    RULE_EVIDENCE,
    candidates,
    finalize,
)
from transforms.growth import WINDOWS
from transforms.judging import Checker, MarginChecker, Verdicts
from transforms.platform_events import co_movement_events
from transforms.rolling import first_rows, with_account_ids
from transforms.series import (
    ACCOUNT,
    EPOCH,
    Arrays,
    Observations,
    build_series,
    concat,
    named_frame,
)
from transforms.signals import (
    RULES,
    drip_runs,
    evidence_at,
    moved_unusually,
    padding,
    score,
)
from transforms.summary import READS as SUMMARY_READS
from transforms.summary import WINDOW_DAYS

CHUNK_ACCOUNTS = 100  # accounts scored together: arrays of about 1 MB, a bounded memory
THREADS = 2  # chunks scored side by side (NumPy releases the GIL)

# what daily_metrics stores of a scored day, besides platform, handle and day
METRIC_VALUES = [
    "followers",
    "following",
    "posts",
    "observed",
    "spread_days",
    "daily_gain",
    *[f"growth_{k}_{w}" for w in WINDOWS for k in ("abs", "rel")],
    "avg_daily_gain_28",
    "baseline_median",
    "baseline_sigma",
    "robust_z",
    "spike_margin",
    "drop_margin",
    "drip_excess",
    "drip_z",
    "drip_margin",
    "churn_gross",
    "churn_net",
    "following_churn_margin",
    "posts_3d",
    "posts_usual_3d",
]
# what a flagged day carries into the anomalies (transforms.anomalies)
EVIDENCE = [*DAY_EVIDENCE, *RULE_EVIDENCE, *[f"{rule}_margin" for rule in RULES]]


def context_days(t: DetectionSettings) -> int:
    """Days of history needed before the first day written, so windows see what a full run sees.

    The longest look-back of any column (transforms.signals.padding): a figure depends on
    no day further back than that (the baseline of a drip's window start included).
    """
    return padding(t)


@dataclass(frozen=True)
class Accounts:
    """The accounts of a computation: id -> platform and handle, in platform, handle order."""

    names: pl.DataFrame  # aid (Int32), platform, handle
    platforms: list[str]  # platform of each code
    platform_code: np.ndarray  # per account id

    @classmethod
    def of(cls, names: pl.DataFrame) -> Accounts:
        names = names.select(pl.col("aid").cast(pl.Int32), *ACCOUNT).sort("aid")
        platforms = sorted(set(names.get_column("platform").to_list()))
        size = int(names.get_column("aid").to_numpy().max(initial=-1)) + 1
        code = np.zeros(size, dtype=np.int64)
        code[names.get_column("aid").to_numpy()] = (
            names.get_column("platform")
            .replace_strict({p: i for i, p in enumerate(platforms)}, return_dtype=pl.Int64)
            .to_numpy()
        )
        return cls(names, platforms, code)

    @property
    def youtube(self) -> np.ndarray:
        code = self.platforms.index("youtube") if "youtube" in self.platforms else -1
        rounded: np.ndarray = self.platform_code == code
        return rounded


@dataclass
class _Scored:
    """What one chunk of accounts leaves behind once its metrics are written."""

    metrics: Arrays  # the new days
    margins: Arrays  # aid, day and the rules' margins of the new days
    candidates: Arrays  # every day whose margin crossed a rule, with its evidence
    counts: np.ndarray  # co-movement: accounts, moved up, moved down per platform-day
    recent: Arrays  # the days from `recent_from` on: what the account summary reads


def _score_chunk(
    obs: Observations,
    t: DetectionSettings,
    accounts: Accounts,
    new_after: np.ndarray | None,
    first_day: int,
    days: int,
    recent_from: int,
) -> _Scored:
    """Score one chunk of accounts (pure: runs on a worker thread)."""
    series = build_series(obs, t.max_gap_days)
    plan, padded = score(series, t, accounts.youtube)
    new = None if new_after is None else series.day > new_after[series.aid]
    keep = plan.real if new is None else plan.take_mask(new)
    # the metrics stay padded: whoever writes them takes the rows to keep (DuckDB, in a scan)
    metrics = {
        "aid": plan.spread(series.aid, fill=-1).astype(np.int32),
        "day": plan.spread(series.day, fill=0).astype(np.int32),
        "spread_days": plan.spread(series.spread_days.astype(np.float64)),
        "keep": keep,
    } | {name: padded[name] for name in METRIC_VALUES if name in padded}
    margins = {name: metrics[name][keep] for name in ("aid", "day")} | {
        f"{r}_margin": padded[f"{r}_margin"][keep] for r in RULES
    }
    crossed = padded["spike_margin"] > 1.0
    for rule in RULES[1:]:
        crossed |= padded[f"{rule}_margin"] > 1.0
    rows = np.flatnonzero(crossed[plan.position])  # the series' rows whose margin crossed a rule
    at = plan.position[rows]
    candidates = (
        {
            "aid": series.aid[rows],
            "day": series.day[rows],
            "new": np.ones(len(rows), dtype=bool) if new is None else new[rows],
        }
        | {"spread_days": series.spread_days[rows].astype(np.float64)}
        | {name: padded[name][at] for name in EVIDENCE if name in padded}
        | evidence_at(padded, at, t)
    )
    # platform events: how many of a platform's accounts moved unusually on each day
    z = plan.take(padded["robust_z"])
    seen = series.observed & ~np.isnan(z)
    slot = accounts.platform_code[series.aid[seen]] * days + (series.day[seen] - first_day)
    size = len(accounts.platforms) * days
    z, gain = z[seen], series.daily_gain[seen]
    counts = np.stack(
        [
            np.bincount(slot, minlength=size),
            *(
                np.bincount(
                    slot, weights=moved_unusually(z, gain, t.platform_event_z, up), minlength=size
                )
                for up in (True, False)
            ),
        ]
    ).astype(np.int64)
    recent = plan.real & (metrics["day"] >= recent_from)
    latest = {name: metrics[name][recent] for name in ("aid", "day", *SUMMARY_READS)}
    return _Scored(metrics, margins, candidates, counts, latest)


def _in_order(
    work: Callable[[Observations], _Scored], chunks: Iterator[Observations], threads: int
) -> Iterator[_Scored]:
    """Results of `work` over the chunks, in order, with at most 2 x threads chunks in flight."""
    if threads <= 1:
        yield from map(work, chunks)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="score") as pool:
        pending: deque[Future[_Scored]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(work, chunk))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def compute(
    snapshots: pl.DataFrame | Observations,
    as_of: date,
    t: DetectionSettings,
    checker: Checker | None = None,
    new_after: np.ndarray | None = None,
    *,
    names: pl.DataFrame | None = None,
    sink: Callable[[Arrays], None] | None = None,
    detected_at: datetime | None = None,
    chunk_accounts: int = CHUNK_ACCOUNTS,
    threads: int = THREADS,
    samples: pl.DataFrame | None = None,
    engagement: pl.DataFrame | None = None,
) -> Computed:
    """Pure but for the checker: snapshots -> daily metrics, anomalies, the checks' summaries.

    `snapshots` holds platform, handle, day, followers (following, posts optional), or an
    `aid` sorted by aid and day with `names` (aid, platform, handle); or is Observations
    with `names`. Days after
    `new_after[aid]` (a day number; every day when None) are new: written to `sink` (one
    dict of arrays per chunk; without a sink they are returned) and validated by the
    checker. Older days keep the flags of their margins, which earlier runs validated.
    Platform events are counted over all chunks before any anomaly is attributed. The
    anomalies' detected_at is `detected_at` (null when None). `samples`: the follower samples
    taken of anomalies, and `engagement`: the accounts' daily median interactions per post
    (transforms.anomalies.finalize), read as their evidence.
    """
    checker = checker or MarginChecker()
    obs, accounts = _observations(snapshots, as_of, names)
    first_day = int(obs.day.min()) if len(obs.day) else 0
    days = (as_of - EPOCH).days - first_day + 1
    bounds = first_rows(obs.aid)[::chunk_accounts]
    edges = np.r_[bounds, len(obs.aid)]

    recent_from = (as_of - EPOCH).days - WINDOW_DAYS

    def work(chunk: Observations) -> _Scored:
        return _score_chunk(chunk, t, accounts, new_after, first_day, days, recent_from)

    chunks = (obs.slice(int(a), int(b)) for a, b in itertools.pairwise(edges))
    parts: list[Arrays] = []
    found: list[Arrays] = []
    recent: list[Arrays] = []
    counts = np.zeros((3, len(accounts.platforms) * days), dtype=np.int64)
    with Verdicts(checker) as verdicts:
        for scored in _in_order(work, chunks, threads):
            counts += scored.counts
            found.append(scored.candidates)
            recent.append(scored.recent)
            verdicts.add(scored.margins)
            if sink is not None:
                sink(scored.metrics)
            else:
                parts.append(scored.metrics)
        verdicts.finish()
    flagged = verdicts.apply(named_frame(concat(found), accounts.names, ["new", *EVIDENCE]))
    events = co_movement_events(_count_frame(counts, accounts, first_day, days), t)
    anomalies = _anomalies(
        flagged, events, t, as_of, detected_at, samples, engagement
    ).with_columns(_check_names(checker))
    metrics = metrics_frame(parts, accounts) if sink is None else pl.DataFrame()
    latest = named_frame(concat(recent), accounts.names, SUMMARY_READS)
    return Computed(metrics, anomalies, verdicts.summaries, latest)


def _observations(
    snapshots: pl.DataFrame | Observations, as_of: date, names: pl.DataFrame | None
) -> tuple[Observations, Accounts]:
    """compute's input as observations up to `as_of`, and its accounts."""
    if isinstance(snapshots, Observations):
        obs = snapshots.until(as_of)
    else:
        if names is None:
            snapshots = with_account_ids(snapshots)
            names = snapshots.select("aid", *ACCOUNT).unique("aid")
        obs = Observations.from_frame(snapshots).until(as_of)
    if names is None:
        raise ValueError("compute: observations need the accounts' names")
    return obs, Accounts.of(names)


class Computed(NamedTuple):
    metrics: pl.DataFrame  # the new days' metrics (empty when they went to a sink)
    anomalies: pl.DataFrame
    checks: list[dict[str, Any]]  # the checker's summary of each batch (checks.suites.merge_checks)
    recent: pl.DataFrame  # every account's last WINDOW_DAYS days up to as_of (the summary's input)


def _count_frame(counts: np.ndarray, accounts: Accounts, first_day: int, days: int) -> pl.DataFrame:
    slots = np.flatnonzero(counts[0])
    return pl.DataFrame(
        {
            "platform": pl.Series(
                [accounts.platforms[i] for i in (slots // days).tolist()], dtype=pl.String
            ),
            "day": pl.Series((slots % days + first_day).astype(np.int32)).cast(pl.Date),
            "accounts": counts[0, slots],
            "moved_up": counts[1, slots],
            "moved_down": counts[2, slots],
        }
    )


def _anomalies(
    flagged: pl.DataFrame,
    events: pl.DataFrame,
    t: DetectionSettings,
    as_of: date,
    detected_at: datetime | None,
    samples: pl.DataFrame | None = None,
    engagement: pl.DataFrame | None = None,
) -> pl.DataFrame:
    if flagged.is_empty():
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    found = candidates(drip_runs(flagged), t)
    return finalize(found, events, t, detected_at, as_of, samples, engagement)


def _check_names(checker: Checker) -> pl.Expr:
    """The name of the check that flagged each anomaly, by its kind (a rule)."""
    names = {r: checker.check_name(r) for r in RULES}
    return pl.col("kind").replace_strict(names, return_dtype=pl.String).alias("check_name")


def kept(metrics: Arrays) -> Arrays:
    """The rows a chunk's padded metrics keep (the real, new days)."""
    keep = metrics["keep"]
    return {name: values[keep] for name, values in metrics.items() if name != "keep"}


def metrics_frame(parts: list[Arrays], accounts: Accounts) -> pl.DataFrame:
    """Chunks of padded metrics as one frame of the kept rows, with platform and handle."""
    return named_frame(concat([kept(p) for p in parts]), accounts.names, METRIC_VALUES)


def carry_detected_at(anomalies: pl.DataFrame, stored: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The anomalies, each keeping the detected_at of the same stored one (platform, handle,
    day, kind), and how many of them are new."""
    keys = ["platform", "handle", "day", "kind"]
    carried = (
        anomalies.join(stored, on=keys, how="left", suffix="_old")
        .with_columns(pl.coalesce("detected_at_old", "detected_at").alias("detected_at"))
        .drop("detected_at_old")
    )
    return carried, carried.height - stored.join(carried.select(keys), on=keys).height
