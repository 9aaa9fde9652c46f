"""Follower samples on unusual growth (issue 15.2): for each new growth anomaly on a platform
that allows it (and on demand: `audience audit ACCOUNT --sample`), a sample of the followers
the jump brought and a baseline of followers of ordinary days, judged by transforms.profiles
and stored (warehouse.samples); then the analysis is run again so the verdicts read them.

Where the followers come from (shared/docs/audience-apis.md, 0.1):
- Bluesky, Mastodon: the follower list runs newest first, so the stored daily counts place
  each position in time: the jump's followers are those after the count of the day before the
  jump up to the count of its day, counted back from today's; the baseline's are further down,
  those who arrived at least `[samples] baseline_gap_days` before the jump.
- GitHub repositories: the stargazers of the jump's days by `starred_at`, and as many of the
  30 ordinary days before the gap; each needs `/users/{login}` (without a token, 60 requests an
  hour: the sample is refused with how long it would take, as `audience backfill` does).
- GitHub users: the followers' order is undocumented; a jump's followers cannot be told from
  the others, so no sample is taken (said so in the summary).

The first path is pipeline.follower_lists, the second pipeline.star_sample.

Each platform spends at most `[samples] max_requests` a night; a sample that would spend more
is queued (its summary says how far it got) and continued first on the next night, whatever its
anomaly's age, from where it stopped (pipeline.sample_progress, kept in `sample_progress`): no
request is spent twice, and an interruption or a failed request keeps what was read before. A
sample that no number of nights can finish (GitHub's page cap, a list cursor refused again after
a restart) is refused with why.
The analysis after a sample re-judges its anomaly whatever its age too (pipeline.analyse
rebuilds when a new sample is older than a night's rewrite).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from collectors.base import CollectorError
from collectors.followers import BudgetSpent, FollowerClient
from collectors.rate_gate import Clock
from collectors.redaction import Redactor, redacted_logs
from collectors.run import redactor_for
from core.errors import AudienceError, plural
from core.platforms import parse_account
from core.samples import SAMPLED_PLATFORMS, SampledProfile
from core.settings import Settings
from pipeline.analyse import run_analysis
from pipeline.follower_lists import Target, listed, plan_list
from pipeline.sample_progress import SampleProgress, Unfinishable
from pipeline.star_sample import plan_stars, refusal_for, starred
from transforms.profiles import Profile, compare, judge_sample
from warehouse import samples as stored
from warehouse.db import in_transaction, open_warehouse

RECENT_DAYS = 30  # anomalies of the last 30 days are sampled (and queued ones of any age)
# a sampled follower's id in a request's URL: GitHub's /users/{login}, Bluesky's getProfiles
_FOLLOWER_IN_URL = re.compile(r"(/users/|[?&]actors=)[^/?&\s\"]+")


class Followerless(Redactor):
    """The secrets, and the sampled followers' ids in the request URLs httpx logs: a sampled
    follower is named in `follower_samples` only, never in a log."""

    def __init__(self, secrets: Redactor) -> None:
        super().__init__()
        self.secrets = secrets

    def __call__(self, text: str) -> str:
        return _FOLLOWER_IN_URL.sub(r"\1[follower]", self.secrets(text))


@dataclass
class SampleReport:
    taken: list[str] = field(default_factory=list)  # "platform:handle day: 91 of 100 ..."
    queued: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requests: int = 0  # spent on the platforms (profiles and list pages)

    def lines(self) -> list[str]:
        return [*self.taken, *self.queued, *self.refused]


def as_profiles(judged: list[SampledProfile]) -> list[Profile]:
    return [
        Profile(
            p.follower_id,
            created_at=p.created_at,
            followed_at=p.followed_at,
            arrival_day=p.arrival_day,
            position=p.position,
            has_avatar=p.has_avatar,
            posts=p.posts,
            followers=p.followers,
            following=p.following,
        )
        for p in judged
    ]


def _what(t: Target, kind: str = "jump") -> str:
    span = t.day.isoformat() if t.first == t.day else f"{t.first} to {t.day}"
    if kind == "baseline":  # the ordinary days end `[samples] baseline_gap_days` before
        span = f"ordinary days before {t.first}"
    if t.platform == "github":
        return f"stargazers of {span}"
    return f"followers who arrived on {span}"


def _summary(t: Target, kind: str, status: str, now: datetime, **values: Any) -> dict[str, Any]:
    return {
        "sample_id": stored.sample_id(t.platform, t.handle, t.day, kind),
        "platform": t.platform,
        "handle": t.handle,
        "day": t.day,
        "kind": kind,
        "status": status,
        "what": _what(t, kind),
        "sampled_at": now,
    } | values


def _store(warehouse: Path, settings: Settings, rows: list[tuple[str, Any]]) -> None:
    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, timeout_s=timeout) as con, in_transaction(con):
        for what, value in rows:
            if what == "summary":
                stored.store_summary(con, value)
                if value["status"] != "queued":  # taken or refused: nothing to continue
                    stored.drop_progress(con, value["sample_id"])
            elif what == "progress":
                t, progress, now = value
                ident = stored.sample_id(t.platform, t.handle, t.day, "jump")
                figures = (progress.requests, progress.needed, progress.restarts)
                account = (t.platform, t.handle, t.day)
                stored.store_progress(con, ident, account, figures, progress.to_json(), now)
            else:
                stored.store_sample(con, *value)


def _judged_rows(
    t: Target, jump: list[SampledProfile], base: list[SampledProfile], now: datetime
) -> tuple[list[tuple[str, Any]], str]:
    j, b = judge_sample(as_profiles(jump)), judge_sample(as_profiles(base))
    c = compare(j, b)
    rows: list[tuple[str, Any]] = []
    for kind, profiles, judged in (("jump", jump, j), ("baseline", base, b)):
        ident = stored.sample_id(t.platform, t.handle, t.day, kind)
        flags = [
            (p, x.looks_inauthentic, x.signals)
            for p, x in zip(profiles, judged.judgements, strict=True)
        ]
        rows.append(("sample", (ident, (t.platform, t.handle, t.day, kind), flags, now)))
        extra: dict[str, Any] = {}
        if kind == "jump":
            extra = {
                "baseline_size": b.size,
                "baseline_share": b.share,
                "p_value": c.p_value,
                "fisher_p_value": c.fisher_p_value,
            }
        rows.append(
            (
                "summary",
                _summary(
                    t,
                    kind,
                    "done",
                    now,
                    size=judged.size,
                    flagged=judged.flagged,
                    share=judged.share,
                    share_low=judged.low,
                    share_high=judged.high,
                    **extra,
                ),
            )
        )
    line = (
        f"{t.platform}:{t.handle} {t.day}: of {j.size} {_what(t)}, {j.flagged} "
        f"({j.low:.0%}-{j.high:.0%}) look inauthentic, against {b.share:.0%} of ordinary days' ({b.size})"
    )
    return rows, line


def _refuse(
    warehouse: Path, settings: Settings, t: Target, why: str, report: SampleReport, now: datetime
) -> None:
    """The target is not sampled, and why (stored and reported)."""
    _store(warehouse, settings, [("summary", _summary(t, "jump", "refused", now, note=why))])
    report.refused.append(f"{t.platform}:{t.handle} {t.day}: not sampled: {why}")


def _queue(
    warehouse: Path,
    settings: Settings,
    queued: list[tuple[Target, SampleProgress | None, str]],
    report: SampleReport,
    now: datetime,
) -> None:
    """The targets are taken on the next night, from where they stopped (target, its progress
    or None when it has not begun, why it stopped), stored and reported: "queued: 340 of ~900
    requests done; continues on the next night"."""
    rows: list[tuple[str, Any]] = []
    for t, progress, why in queued:
        said = f"{why}; " if why else ""
        if progress is not None:
            said += f"{progress.said()}; "
            rows.append(("progress", (t, progress, now)))
        note = f"{said}continues on the next night"
        rows.append(("summary", _summary(t, "jump", "queued", now, note=note)))
        report.queued.append(f"{t.platform}:{t.handle} {t.day}: queued: {note}")
    _store(warehouse, settings, rows)


async def _sample_platform(
    warehouse: Path,
    settings: Settings,
    platform: str,
    targets: list[Target],
    report: SampleReport,
    *,
    clock: Clock | None,
    transport: httpx.AsyncBaseTransport | None,
) -> int:
    """The platform's targets in order within the night's budget, each planned or continued
    from its stored progress; one the budget, a failed request or an interruption stops keeps
    its progress and is queued; one that cannot finish is refused."""
    done = 0
    now = datetime.now(UTC)
    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, read_only=True, timeout_s=timeout) as con:
        states = stored.progress_of(con, platform)

    def resumed(u: Target) -> SampleProgress | None:
        state = states.get(stored.sample_id(u.platform, u.handle, u.day, "jump"))
        return SampleProgress.from_json(state) if state is not None else None

    async with FollowerClient.open(
        settings, platform, settings.samples.max_requests, clock=clock, transport=transport
    ) as client:
        for i, t in enumerate(targets):
            with open_warehouse(warehouse, read_only=True, timeout_s=timeout) as con:
                frame = stored.daily_counts(con, platform, t.handle)
            github = platform == "github"
            progress = resumed(t) or (plan_stars if github else plan_list)(t, frame, settings)
            if isinstance(progress, str):
                _refuse(warehouse, settings, t, progress, report, now)
                continue
            spent = client.spent
            try:
                try:
                    got = await (starred if github else listed)(
                        client, t, frame, settings, progress
                    )
                finally:
                    progress.requests += client.spent - spent
            except BudgetSpent as exc:
                rest = [(u, resumed(u), exc.reason) for u in targets[i + 1 :]]
                _queue(warehouse, settings, [(t, progress, ""), *rest], report, now)
                break
            except Unfinishable as exc:
                _refuse(warehouse, settings, t, f"it cannot finish: {exc}", report, now)
                continue
            except CollectorError as exc:
                why = f"{platform} gave no usable answer: {exc.reason}"
                _queue(warehouse, settings, [(t, progress, why)], report, now)
                continue
            except (KeyboardInterrupt, asyncio.CancelledError):  # what was read is kept
                _queue(warehouse, settings, [(t, progress, "interrupted")], report, now)
                raise
            if isinstance(got, str):
                _refuse(warehouse, settings, t, got, report, now)
                continue
            jump, base = got
            if not jump or not base:
                why = "no follower of the jump" if not jump else "no follower of ordinary days"
                _refuse(warehouse, settings, t, why, report, now)
                continue
            rows, line = _judged_rows(t, jump, base, now)
            _store(warehouse, settings, rows)
            report.taken.append(line + (f" ({progress.restarted})" if progress.restarted else ""))
            done += 1
        report.requests += client.spent
    return done


def _targets(frame: pl.DataFrame) -> list[Target]:
    out = []
    for row in frame.iter_rows(named=True):
        first = row["window_start"] or row["day"]
        out.append(Target(row["platform"], row["handle"], row["day"], min(first, row["day"])))
    return out


def sample_anomalies(
    warehouse: Path,
    settings: Settings,
    as_of: date,
    *,
    account: str | None = None,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    analyse_after: bool = True,
) -> SampleReport:
    """Sample the new growth anomalies (or ACCOUNT's largest one), store, re-judge."""
    timeout = settings.warehouse.lock_timeout_s
    with open_warehouse(warehouse, read_only=True, timeout_s=timeout) as con:
        if account is not None:
            platform, handle = parse_account(account)
            if platform not in SAMPLED_PLATFORMS:
                raise AudienceError(
                    f"{account}: {platform} gives no follower list to sample "
                    f"(samples are taken on {', '.join(SAMPLED_PLATFORMS)})"
                )
            frame = stored.growth_anomaly(con, platform, handle)
            if frame.height == 0:
                raise AudienceError(f"{account}: no growth anomaly of its own to sample")
        else:
            frame = stored.to_sample(con, as_of - timedelta(days=RECENT_DAYS), SAMPLED_PLATFORMS)
    report, done = sample_frame(warehouse, settings, frame, clock=clock, transport=transport)
    if done and analyse_after:
        run_analysis(warehouse, settings, as_of, lock_timeout_s=timeout)
    return report


def sample_frame(
    warehouse: Path,
    settings: Settings,
    frame: pl.DataFrame,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[SampleReport, int]:
    """Sample the growth anomalies of `frame` (warehouse.samples.to_sample's columns: read from
    the stored analysis, or from an analysis in memory as `audit` of an untracked repository
    makes), storing samples and summaries in `warehouse` (whose snapshots place the jumps);
    nothing is re-judged. The report, and how many samples were taken."""
    report = SampleReport()
    targets = _targets(frame)
    now = datetime.now(UTC)
    users = [t for t in targets if t.platform == "github" and "/" not in t.handle]
    why = "GitHub does not document the order of a user's followers: the jump's cannot be told from the others"
    for t in users:
        _refuse(warehouse, settings, t, why, report, now)
    by_platform: dict[str, list[Target]] = {}
    for t in targets:
        if t not in users and settings.platform(t.platform).enabled:
            by_platform.setdefault(t.platform, []).append(t)
    repos = by_platform.get("github", [])
    refusal = refusal_for(settings, settings.samples.size) if repos else None
    if refusal is not None:
        for t in repos:
            _refuse(warehouse, settings, t, refusal, report, now)
        by_platform.pop("github")
    done = 0
    with redacted_logs(Followerless(redactor_for(settings))):
        for platform, group in sorted(by_platform.items()):
            done += asyncio.run(
                _sample_platform(
                    warehouse, settings, platform, group, report, clock=clock, transport=transport
                )
            )
    return report, done


def describe(report: SampleReport) -> str:
    if not report.lines():
        return "no new growth anomaly to sample"
    return f"{plural(len(report.taken), 'sample')} taken: " + "; ".join(report.lines())
