"""Where an audit's figures come from: the warehouse (`load`), and beyond it, today's figure
from the platform, a GitHub repository's history rebuilt from its stargazers, and a follower
sample taken on demand (`audit --sample`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from core.errors import AudienceError, Interrupted, plural
from core.settings import Settings
from reports.audit_page import Audit
from warehouse import audit_reads
from warehouse.samples import account_samples, growth_anomaly

# the audit's rebuild keeps its pages every 50 (`audience backfill`: every 10): each keeping
# opens the warehouse (about 0.1 s), and the audit reads a repository in seconds with a token
# (without one, at most the hour's 60 pages)
AUDIT_FLUSH_PAGES = 50


def load(con: duckdb.DuckDBPyConnection, audit: Audit) -> None:
    """Fill the audit from the warehouse (history, analysis, anomalies)."""
    key = (audit.platform, audit.handle)
    account = audit_reads.account_facts(con, *key)
    if account:
        audit.tracked = bool(account.tracked)
        audit.display_name = account.display_name
    history = audit_reads.history(con, *key, audit.as_of)
    if history:
        audit.first_day, audit.last_day = history.first_day, history.last_day
        audit.days_observed = int(history.days)
        audit.followers, audit.following, audit.posts = (
            history.followers,
            history.following,
            history.posts,
        )
        audit.size_day = audit.last_day
        audit.collected_days = int(history.collected)
        audit.rebuilt_days = int(history.rebuilt)
    audit.analysed_through = audit_reads.analysed_through(con)
    audit.metrics = audit_reads.account_metrics(con, *key)
    audit.baseline = audit_reads.latest_baseline(con, *key, audit.as_of)
    audit.series = audit_reads.followers_by_day(con, *key, audit.as_of)
    audit.flagged = audit_reads.flagged_days(con, *key, audit.as_of)
    audit.platform_events = audit_reads.platform_events(con, *key, audit.as_of)
    audit.chart_days = audit_reads.chart_rows(con, *key, audit.as_of)
    audit.recent = audit_reads.recent_days(con, *key, audit.as_of)
    audit.samples = [
        row
        for row in account_samples(con, *key).to_dicts()
        if isinstance(row["day"], date) and row["day"] <= audit.as_of
    ]
    if audit.metrics is not None:
        audit.peer_group = audit_reads.peer_group(con, audit.platform, audit.metrics.size_tier)


def live_figures(audit: Audit, settings: Settings) -> bool:
    """Today's size from the platform (not stored); False, with the reason, if it gave none."""
    from pipeline.collect import fetch

    (result,) = fetch([(audit.platform, audit.handle)], settings)
    if result.outcome != "ok" or result.followers is None:
        audit.reasons.append(f"{audit.platform} answered {result.outcome}: {result.reason}")
        return False
    audit.followers = float(result.followers)
    audit.following = None if result.following is None else float(result.following)
    audit.posts = None if result.posts is None else float(result.posts)
    audit.display_name = result.display_name or audit.display_name
    audit.size_day, audit.size_source = audit.as_of, "live"
    if result.rounding:
        audit.limits.append(f"{audit.platform} rounds this count ({result.rounding})")
    return True


def judge_now(audit: Audit, warehouse: Path, settings: Settings) -> None:
    """An account without history, its size fetched live: what can be judged now of its newest
    posts and followers (pipeline.audit_now; read once, never stored), and today's size only
    where the platform offers neither."""
    from pipeline import audit_now

    audit_now.judge_now(audit, warehouse, settings)
    if audit.engagement_now is None and audit.sample_now is None:
        audit.judged_now.insert(0, "only today's size could be judged now (above)")


def rebuilt_history(audit: Audit, warehouse: Path, settings: Settings) -> bool:
    """A GitHub repository the warehouse has no figure of: its daily star counts rebuilt from
    its stargazers' timestamps (`audience backfill`, stored as backfill:github) and analysed
    on their own, so it is judged on its whole history now; then the stargazers of its largest
    growth anomaly sampled against ordinary days' (`rebuilt_sample`) and the history judged
    again with them. False, with the reason among the page's limits, when GitHub did not allow
    the rebuild (no token for a large repository, ...)."""
    from pipeline.backfill import backfill
    from pipeline.star_rebuild import ESTIMATED, SOURCE
    from pipeline.star_sample import github_refusal
    from pipeline.stargazer_pages import RepositoryMissing

    try:
        summary = backfill(
            warehouse, settings, audit.account, audit.as_of, flush_pages=AUDIT_FLUSH_PAGES
        )
    except Interrupted:
        raise
    except AudienceError as exc:
        audit.limits.append(f"its history could not be rebuilt from GitHub's stargazers: {exc}")
        if isinstance(exc, RepositoryMissing):
            return False  # no token helps a repository that does not exist
        if (refusal := github_refusal(settings)) is not None:
            audit.sampled.append(f"no stargazer sample either: {refusal}")
        return False
    if rebuilt_sample(audit, warehouse, settings):
        analysed_alone(audit, warehouse, settings)  # judged again, with the sample
    estimated = (
        f"; {plural(summary.estimated_days, 'day')} after {summary.exact_through} are estimated "
        f"({ESTIMATED}: GitHub lists only the first 40,000 stars)"
        if summary.capped
        else ""
    )
    audit.limits.insert(
        0,
        f"{audit.account} was not tracked: its history was rebuilt now from the timestamps of "
        f"its {summary.listed:,} stargazers (`audience backfill`, stored as {SOURCE}): "
        f"{plural(summary.days, 'day')} from {summary.first_day}{estimated}; stars removed since "
        "are not listed, so past counts are understated where stars were later removed, and "
        "a purchase that was purged shows smaller than it was",
    )
    return True


def analysed_alone(audit: Audit, warehouse: Path, settings: Settings) -> pl.DataFrame:
    """Fill the audit from the account's stored snapshots and samples analysed on their own in
    memory (pipeline.backfill.analysed_alone); returns its largest growth anomaly (empty when
    none), as warehouse.samples.growth_anomaly gives it."""
    from pipeline import backfill

    with backfill.analysed_alone(
        warehouse, settings, audit.platform, audit.handle, audit.as_of
    ) as con:
        load(con, audit)
        return growth_anomaly(con, audit.platform, audit.handle)


def rebuilt_sample(audit: Audit, warehouse: Path, settings: Settings) -> bool:
    """An untracked repository's history analysed alone (filling the audit), and the
    stargazers of its largest growth anomaly sampled against a baseline of ordinary days'
    (pipeline.sample, within `[samples] max_requests` and GitHub's rate limit), stored in
    `sample_summaries` / `follower_samples`. What it did goes to `audit.sampled`; without a
    token it says what a sample would need instead of trying. True when a sample was taken
    (the history is then to be judged again)."""
    from pipeline.sample import sample_frame
    from pipeline.star_sample import github_refusal

    anomaly = analysed_alone(audit, warehouse, settings)
    if anomaly.height == 0:
        audit.sampled.append(
            "no stargazer sample: its rebuilt history holds no growth anomaly to sample (a "
            "sample compares a jump's stargazers with ordinary days')"
        )
        return False
    day = anomaly["day"][0]
    if (refusal := github_refusal(settings)) is not None:
        audit.sampled.append(
            f"no stargazer sample of its largest jump ({day}) was taken: {refusal}"
        )
        return False
    report, done = sample_frame(warehouse, settings, anomaly)
    if done:
        audit.sampled.append(
            f"sampled now from github: {settings.samples.size} stargazers at most of its largest "
            f"jump ({day}) and of ordinary days before it, {report.requests} requests "
            "(an untracked repository's audit samples it; stored in sample_summaries)"
        )
    audit.sampled += report.queued + report.refused
    return done > 0


def sample_refusal(settings: Settings, platform: str, handle: str) -> None:
    """`audit --sample`'s one-line refusal (AudienceError, before anything is stored): a
    platform whose followers cannot be placed in time, a disabled platform, and GitHub without
    a token (saying how long it would take)."""
    from core.samples import SAMPLED_PLATFORMS
    from pipeline.star_sample import github_refusal

    account = f"{platform}:{handle}"
    if platform not in SAMPLED_PLATFORMS or (platform == "github" and "/" not in handle):
        why = (
            "GitHub does not document the order of a user's followers, so a jump's cannot be "
            "told from the others"
            if platform == "github"
            else f"{platform} gives no follower list ordered in time"
        )
        raise AudienceError(
            f"{account}: --sample cannot sample it: {why} (samples are taken on Bluesky, "
            "Mastodon and GitHub repositories)"
        )
    if platform == "github" and (refusal := github_refusal(settings)) is not None:
        raise AudienceError(f"{account}: --sample refused: {refusal} (nothing was stored)")
    if not settings.platform(platform).enabled:
        raise AudienceError(f"{account}: --sample refused: {platform} is disabled in the settings")


def take_sample(
    warehouse: Path, settings: Settings, platform: str, handle: str, as_of: date
) -> list[str]:
    """`audit --sample` of an account with a stored history: its largest growth anomaly
    sampled now (its jump's followers and a baseline of ordinary days', pipeline.sample,
    within `[samples] max_requests`), stored and re-judged. Returns what it did for the page;
    refuses as `sample_refusal` does."""
    from pipeline.sample import sample_anomalies
    from warehouse.db import open_warehouse

    sample_refusal(settings, platform, handle)
    found = warehouse.exists()
    if found:
        with open_warehouse(
            warehouse, read_only=True, timeout_s=settings.warehouse.lock_timeout_s
        ) as con:
            found = growth_anomaly(con, platform, handle).height > 0
    if not found:
        return [
            "no sample taken: the stored analysis holds no growth anomaly of its own to sample "
            "(a sample compares a jump's followers with ordinary days')"
        ]
    report = sample_anomalies(warehouse, settings, as_of, account=f"{platform}:{handle}")
    taken = [f"sampled now from {platform} (audit --sample)"] if report.taken else []
    return taken + report.queued + report.refused
