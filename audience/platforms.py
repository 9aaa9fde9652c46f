"""Supported platforms and the shape of a valid account handle on each.

One table drives both the single-handle check (CLI, collectors) and the vectorised
check used by the CSV import, so the two can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audience.errors import HandleError


@dataclass(frozen=True)
class Platform:
    """What a handle looks like on one platform, after canonicalisation."""

    name: str
    pattern: str  # anchored regex a canonical handle must match (Rust- and Python-compatible)
    example: str
    strip_at: bool = True  # a leading "@" is decoration, not part of the handle
    lowercase: bool = True  # the platform treats handles case-insensitively
    audience: str = "followers"


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = rf"({_LABEL}\.)+[a-z]([a-z0-9-]{{0,61}}[a-z0-9])?"

PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        Platform(
            "mastodon",
            rf"^[a-z0-9_]([a-z0-9_.-]{{0,62}}[a-z0-9_])?@{_DOMAIN}$",
            "user@mastodon.social",
        ),
        Platform("bluesky", rf"^({_DOMAIN}|did:plc:[a-z2-7]{{24}}|did:web:{_DOMAIN})$", "bsky.app"),
        Platform(
            "github",
            # a repository name may contain dots but may not be "." or ".."
            r"^[a-z0-9]([a-z0-9-]{0,37}[a-z0-9])?"
            r"(/([a-z0-9_-][a-z0-9_.-]{0,99}|\.[a-z0-9_.-]{0,98}[a-z0-9_-][a-z0-9_.-]{0,98}))?$",
            "octocat or owner/repo",
            audience="followers (users) or stars (owner/repo)",
        ),
        # YouTube: a channel id (case-sensitive) or an @handle; lowercase applies to @handles only.
        Platform(
            "youtube",
            r"^(UC[A-Za-z0-9_-]{22}|@[a-z0-9._-]{3,30})$",
            "UC_x5XG1OV2P6uZZ5FSM9Ttw or @googledevelopers",
            strip_at=False,
            lowercase=False,
            audience="subscribers",
        ),
        Platform("x", r"^[a-z0-9_]{1,15}$", "xdevelopers"),
        Platform("twitch", r"^[a-z0-9_]{4,25}$", "twitchdev"),
        Platform(
            "reddit",
            r"^(r/[a-z0-9_]{2,21}|u/[a-z0-9_-]{3,20})$",
            "r/python or u/spez",
            strip_at=False,
            audience="subscribers",
        ),
        Platform("instagram", r"^[a-z0-9._]{1,30}$", "instagram"),
    )
}

_COMPILED = {name: re.compile(p.pattern) for name, p in PLATFORMS.items()}


def get_platform(name: str) -> Platform:
    """Return the platform called `name`, or raise HandleError listing the supported ones."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise HandleError(
            f"unknown platform {name!r}; supported: {', '.join(sorted(PLATFORMS))}"
        ) from None


def canonical_handle(platform: str, handle: str) -> str:
    """Return the canonical form of `handle` on `platform`, or raise HandleError."""
    spec = get_platform(platform)
    text = handle.strip()
    if spec.strip_at:
        text = text.removeprefix("@")
    if spec.lowercase or (platform == "youtube" and text.startswith("@")):
        text = text.lower()
    if platform == "reddit":
        text = text.lower().removeprefix("/")
    if not _COMPILED[platform].fullmatch(text):
        shown = handle if len(handle) <= 80 else handle[:77] + "..."
        raise HandleError(
            f"malformed {platform} handle {shown!r}: expected something like {spec.example}"
        )
    return text


def parse_account(spec: str) -> tuple[str, str]:
    """Split 'PLATFORM:HANDLE' and canonicalise the handle."""
    platform, sep, handle = spec.partition(":")
    if not sep or not handle:
        raise HandleError(f"expected PLATFORM:HANDLE (e.g. github:octocat), got {spec!r}")
    platform = platform.strip().lower()
    return platform, canonical_handle(platform, handle)
