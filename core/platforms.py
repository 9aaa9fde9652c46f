"""Supported platforms and the shape of a valid account handle on each.

One table drives both the single-handle check (CLI, collectors) and the vectorised
check used by the CSV import, so the two can never disagree.

The patterns accept each platform's real names, the legacy forms still in use included
(sources beside each), and nothing that could be hostile: no quotes, spaces, slashes beyond
the platform's own, control characters or NUL. `launched` is the earliest day an account of
the platform can have had an audience; the import refuses figures dated before it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from core.errors import AudienceError, HandleError, shown


@dataclass(frozen=True)
class Platform:
    """What a handle looks like on one platform, after canonicalisation."""

    name: str
    pattern: str  # anchored regex a canonical handle must match (Rust- and Python-compatible)
    example: str
    launched: date  # the earliest possible figure (sources in PLATFORMS)
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
            # Mastodon's USERNAME_RE, [a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?, at its home server
            rf"^[a-z0-9_]([a-z0-9_.-]{{0,62}}[a-z0-9_])?@{_DOMAIN}$",
            "user@mastodon.social",
            # the first account, Gargron's: "created_at": "2016-03-16T14:34:26.392Z"
            # (shared/docs/platform-apis.md, Mastodon account example)
            launched=date(2016, 3, 16),
        ),
        Platform(
            "bluesky",
            rf"^({_DOMAIN}|did:plc:[a-z2-7]{{24}}|did:web:{_DOMAIN})$",
            "bsky.app",
            # the invite-only beta opened 2023-02-17, but the team's own accounts and the first
            # did:plc identities of the AT Protocol's PLC directory date from late 2022: a
            # conservative earliest day that refuses nothing real
            launched=date(2022, 11, 1),
        ),
        Platform(
            "github",
            # users: letters, digits and hyphens, up to 39; names made before the current rule
            # may end in a hyphen or hold two in a row. A repository name may contain dots
            # but may not be "." or ".."
            r"^[a-z0-9][a-z0-9-]{0,38}"
            r"(/([a-z0-9_-][a-z0-9_.-]{0,99}|\.[a-z0-9_.-]{0,98}[a-z0-9_-][a-z0-9_.-]{0,98}))?$",
            "octocat or owner/repo",
            # public launch 2008-04-10, beta 2008-02-08; user 1 (mojombo) was created
            # 2007-10-20T05:24:19Z in the private beta (GitHub's users API), and octocat
            # 2008-01-14 (shared/docs/platform-apis.md): the earliest account wins
            launched=date(2007, 10, 20),
            audience="followers (users) or stars (owner/repo)",
        ),
        # YouTube: a channel id (case-sensitive), an @handle (lowercased), or a legacy username
        # (the channels API's forUsername; letters and digits, up to 20, case kept), which is
        # never 24 characters long like a channel id
        Platform(
            "youtube",
            r"^(UC[A-Za-z0-9_-]{22}|@[a-z0-9._-]{3,30}|[A-Za-z0-9]{1,20})$",
            "UC_x5XG1OV2P6uZZ5FSM9Ttw or @googledevelopers or GoogleDevelopers",
            # youtube.com was registered 2005-02-14 (the first video followed on 2005-04-23)
            launched=date(2005, 2, 14),
            strip_at=False,
            lowercase=False,
            audience="subscribers",
        ),
        # X: letters, digits and underscores; "typically a maximum of 15 characters long, but
        # some historical accounts may exist with longer names" (X's user object docs): the
        # limit was 20 before it was 15
        Platform(
            "x",
            r"^[a-z0-9_]{1,20}$",
            "xdevelopers",
            launched=date(2006, 3, 21),  # jack's account and first post, 2006-03-21
        ),
        Platform(
            "twitch",
            r"^[a-z0-9_]{4,25}$",
            "twitchdev",
            # Twitch opened 2011-06-06, but it is Justin.tv's user base (launched 2007-03-19):
            # old accounts keep their Justin.tv creation dates and followers
            launched=date(2007, 3, 19),
        ),
        # Reddit: subreddits [A-Za-z0-9][A-Za-z0-9_]{2,20} today; two-letter language
        # subreddits, "\w{3,20}" names of the first rule (a leading underscore), "t:" time
        # subreddits, and the legacy "reddit.com" (reddit's r2 validator.py and subreddit.py);
        # users [\w-]{3,20}
        Platform(
            "reddit",
            r"^(r/([a-z0-9_]{2,21}|t:[a-z0-9][a-z0-9_]{2,22}|reddit\.com)|u/[a-z0-9_-]{3,20})$",
            "r/python or u/spez",
            # spez's account: "created_utc": 1118030400 = 2005-06-06, before the 2005-06-23
            # launch (shared/docs/platform-apis.md, Reddit user example)
            launched=date(2005, 6, 6),
            strip_at=False,
            audience="subscribers",
        ),
        Platform(
            "instagram",
            r"^[a-z0-9._]{1,30}$",
            "instagram",
            # public launch 2010-10-06; the founders' accounts posted from 2010-07-16 in the beta
            launched=date(2010, 7, 16),
        ),
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
    text = handle.strip(" ")  # spaces around it only: a tab or a line break is refused
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


def audience_word(platform: str, handle: str) -> str:
    """The platform's word for an account's audience: "stars" for a GitHub repository
    (owner/repo), "subscribers" on YouTube and Reddit, "followers" elsewhere."""
    if platform == "github":
        return "stars" if "/" in handle else "followers"
    return get_platform(platform).audience


def parse_account(spec: str) -> tuple[str, str]:
    """Split 'PLATFORM:HANDLE' and canonicalise the handle."""
    platform, sep, handle = spec.partition(":")
    if not sep or not handle:
        raise HandleError(f"expected PLATFORM:HANDLE (e.g. github:octocat), got {spec!r}")
    name = platform_name(platform)
    return name, canonical_handle(name, handle)


def platform_name(given: str) -> str:
    """A platform as a user may write it (`GitHub`, ` x`), or HandleError quoting it as given."""
    name = given.strip(" ").lower()
    get_platform(name if name in PLATFORMS else given)
    return name


TAG_MAX = 64  # characters
# control (C0, DEL, C1), format (direction overrides, zero widths), surrogate, private-use and
# unassigned characters, and the line and paragraph separators: nothing a tag may hold
_UNSEEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def check_tag(tag: str) -> str:
    """`tag` if it may be stored: 1 to TAG_MAX characters, not only spaces, and no control or
    format character; else AudienceError naming it, escaped."""
    named = shown(tag if len(tag) <= TAG_MAX else tag[:TAG_MAX] + "...")
    if not tag.strip():
        why = "is empty"
    elif len(tag) > TAG_MAX:
        why = f"is {len(tag):,} characters long"
    elif any(unicodedata.category(c) in _UNSEEN for c in tag):
        why = "holds a control or format character"
    else:
        return tag
    raise AudienceError(
        f"tag '{named}' {why}: a tag is 1 to {TAG_MAX} characters, not all spaces, with no "
        "control or format character (nothing was stored)"
    )
