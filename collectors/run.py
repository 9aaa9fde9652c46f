"""Running the collectors: every account ends with exactly one outcome, and nothing is written here."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from collectors.bluesky import BlueskyCollector
from collectors.github import GitHubCollector
from collectors.instagram import InstagramCollector
from collectors.mastodon import MastodonCollector
from collectors.platform import Collector
from collectors.rate_gate import Clock, SystemClock
from collectors.redaction import Redactor, redacted_logs
from collectors.reddit import RedditCollector
from collectors.twitch import TwitchCollector
from collectors.x import XCollector
from collectors.youtube import YouTubeCollector
from core.errors import HandleError
from core.fetched import Fetched, Outcome
from core.platforms import canonical_handle
from core.settings import Settings

COLLECTORS: dict[str, type[Collector]] = {
    c.platform: c
    for c in (
        MastodonCollector,
        BlueskyCollector,
        GitHubCollector,
        YouTubeCollector,
        XCollector,
        TwitchCollector,
        RedditCollector,
        InstagramCollector,
    )
}


def redactor_for(settings: Settings) -> Redactor:
    values = [getattr(settings.secrets, name) for name in type(settings.secrets).model_fields]
    return Redactor([v.get_secret_value() for v in values if v is not None])


async def _platform(
    platform: str,
    handles: list[str],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    share: int,
) -> list[Fetched]:
    cls = COLLECTORS[platform]
    options = settings.platform(platform)
    redact = redactor_for(settings)
    if not options.enabled:
        return [
            Fetched(
                platform,
                h,
                Outcome.UNAVAILABLE,
                "collection is disabled for this platform in settings",
            )
            for h in handles
        ]
    async with cls.open_requester(
        options,
        settings.secrets,
        concurrency=options.max_concurrency,
        clock=clock,
        transport=transport,
        pooled=True,
        share=share,
    ) as requester:
        collector = cls(requester, options, settings.secrets, redact)
        missing = collector.missing_credentials()
        if missing:
            from core.settings import SECRET_ENV

            needed = ", ".join(SECRET_ENV[m] for m in missing)
            return [
                Fetched(platform, h, Outcome.AUTH_FAILED, f"no credentials: set {needed}")
                for h in handles
            ]

        async def guarded(batch: list[str]) -> list[Fetched]:
            try:
                return await collector.fetch(batch)
            except Exception as exc:  # a collector bug must cost its accounts, not the run
                reason = redact(f"collector error: {type(exc).__name__}: {exc}")[:300]
                return [Fetched(platform, h, Outcome.UNAVAILABLE, reason) for h in batch]

        size = min(options.batch_size or cls.batch_size, cls.batch_size)
        batches = [handles[i : i + size] for i in range(0, len(handles), size)]
        results = await asyncio.gather(*(guarded(b) for b in batches))
    return [r for batch in results for r in batch]


async def collect_async(
    accounts: Sequence[tuple[str, str]],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    share: int = 1,
) -> list[Fetched]:
    """Fetch every account; the result has one Fetched per distinct (platform, handle) given.

    `clock` is where rate-limit gates and retries read the time and wait (default: the wall
    clock); tests pass a virtual one. `share`: this call is one of `share` collecting at once
    with the same rate budgets (shards on a Dask cluster); each spends its part of a window.
    """
    with redacted_logs(redactor_for(settings)):
        return await _collect_all(accounts, settings, transport, clock or SystemClock(), share)


async def _collect_all(
    accounts: Sequence[tuple[str, str]],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    clock: Clock,
    share: int,
) -> list[Fetched]:
    invalid: list[Fetched] = []
    by_platform: dict[str, list[str]] = {}
    for platform, handle in dict.fromkeys(accounts):
        try:
            canonical = canonical_handle(platform, handle)
        except HandleError as exc:
            invalid.append(Fetched(platform, handle, Outcome.INVALID_HANDLE, str(exc)))
            continue
        by_platform.setdefault(platform, []).append(canonical)
    groups = await asyncio.gather(
        *(
            _platform(p, list(dict.fromkeys(hs)), settings, transport, clock, share)
            for p, hs in by_platform.items()
        )
    )
    results = invalid + [r for group in groups for r in group]
    answered = {(r.platform, r.handle) for r in results}
    for platform, handles in by_platform.items():  # belt and braces: nobody is left without a word
        for handle in handles:
            if (platform, handle) not in answered:
                results.append(
                    Fetched(platform, handle, Outcome.UNAVAILABLE, "no result from the collector")
                )
    return results


def collect(
    accounts: Sequence[tuple[str, str]],
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    share: int = 1,
) -> list[Fetched]:
    """Synchronous entry point (one event loop per call)."""
    return asyncio.run(collect_async(accounts, settings, transport, clock, share))
