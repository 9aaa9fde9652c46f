"""Who follows each simulated account, day by day, and the follower-list endpoints.

An account's follow log agrees with its count history: on every simulated day the number of
followers alive in the log is exactly the count the platform shows (World.figures), except on
a display-glitch day, whose count is the glitch. A purchase's followers arrive on the
purchase's days, in one block (lockstep, seconds apart), as the newest followers of that day;
its attrition removes its own followers; organic gains add organic followers at random times
of the day, organic losses remove random organic followers. Profiles come from
simulator/populations.py (calibrated on real labelled profiles): bought accounts are mostly
created in a few batches shortly before the delivery, mostly empty, and followed in lockstep;
some are old and dressed, and some organic ones are new or empty (no clean separation).

Endpoints (docs/audience-apis.md §1, §5):
    /bluesky/xrpc/app.bsky.graph.getFollowers   newest first, limit 1-100 (default 50), cursor
    /bluesky/xrpc/app.bsky.actor.getProfiles     25 actors a call, followers' counts included
    /mastodon/{host}/api/v1/accounts/{id}/followers  newest first, limit 40 (clamped to 80),
                                                  max_id/since_id on follow ids, Link header
    /github/users/{user}/followers               per_page <= 100, page N, Link header, 422
                                                  past the page cap; login order (the real
                                                  order is undocumented: do not rely on it)
    /github/users/{login}                        a follower's full profile
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator.audiences import PURCHASE_KINDS, AccountSpec, add_purchase
from simulator.budgets import budgeted
from simulator.platforms.bluesky import profile_view, resolve_actor
from simulator.platforms.github import github_user
from simulator.populations import (
    BATCH_LEAD_DAYS,
    BOUGHT_AGED,
    Profiles,
    draw_profiles,
    organic_ages_days,
)
from simulator.types import Answer
from simulator.world import Figures, did_for, numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

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
    counts = np.array(followers, dtype=np.int64)
    for ev in spec.events:  # a display glitch is not followers leaving and coming back
        if ev.kind == "glitch" and 0 < ev.day < days:
            counts[ev.day] = counts[ev.day - 1]
    purchases = [ev for ev in spec.events if ev.kind in PURCHASE_KINDS and ev.day > 0]
    deltas = []
    for ev in purchases:
        bought = np.zeros(days)
        add_purchase(bought, ev)
        deltas.append(np.diff(np.round(np.cumsum(bought)).astype(np.int64), prepend=0))
    start_ms = day_ms(start)
    # day 0: the followers gathered before the simulated span, over the two years before it
    # (or since the platform's launch)
    initial = int(counts[0])
    gathered = min(730 * MS_DAY, start_ms - day_ms(LAUNCH.get(spec.platform, start)))
    followed = [np.sort(start_ms - rng.integers(1, max(gathered, 2), initial))]
    arrived = [np.zeros(initial, dtype=np.int32)]
    kinds = [np.full(initial, -1, dtype=np.int16)]
    pools: list[list[int]] = [list(range(initial))] + [[] for _ in purchases]  # 0: organic
    departed: dict[int, int] = {}
    n = initial

    def leave(pool: list[int], k: int, day: int) -> int:
        k = min(k, len(pool))
        for _ in range(k):
            i = int(rng.integers(len(pool)))
            pool[i], pool[-1] = pool[-1], pool[i]
            departed[pool.pop()] = day
        return k

    for day in range(1, days):
        organic = int(counts[day] - counts[day - 1])
        times: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        for p, delta in enumerate(deltas):
            got = int(delta[day])
            organic -= got
            if got > 0:  # one block: the vendor's accounts follow seconds apart
                span = min(got * rng.uniform(2_000, 8_000), 0.8 * MS_DAY)
                begin = rng.uniform(0, MS_DAY - span)
                times.append(begin + np.sort(rng.uniform(0, span, got)))
                labels.append(np.full(got, p, dtype=np.int16))
            elif got < 0:
                short = -got - leave(pools[p + 1], -got, day)
                organic -= short  # bought followers already gone: the rest leave elsewhere
        if organic > 0:
            times.append(rng.uniform(0, MS_DAY, organic))
            labels.append(np.full(organic, -1, dtype=np.int16))
        elif organic < 0:
            short = -organic - leave(pools[0], -organic, day)
            for pool in pools[1:]:
                short -= leave(pool, short, day)
        if times:
            day_times = np.concatenate(times)
            day_labels = np.concatenate(labels)
            order = np.argsort(day_times, kind="stable")
            followed.append(start_ms + day * MS_DAY + day_times[order].astype(np.int64))
            kinds.append(day_labels[order])
            arrived.append(np.full(len(order), day, dtype=np.int32))
            for offset, label in enumerate(day_labels[order]):
                pools[int(label) + 1].append(n + offset)
            n += len(order)
    followed_ms = np.concatenate(followed).astype(np.int64)
    purchase = np.concatenate(kinds)
    gone = np.full(n, NEVER, dtype=np.int32)
    for index, day in departed.items():
        gone[index] = day
    profiles = _profiles(rng, purchase >= 0)
    created = _created(rng, spec.platform, start, followed_ms, purchase, purchases)
    hosts = _hosts(rng, home_host, purchase) if spec.platform == "mastodon" else []
    return FollowLog(
        spec.platform,
        spec.handle,
        start,
        days,
        followed_ms,
        np.concatenate(arrived),
        gone,
        purchase,
        created,
        profiles,
        hosts,
    )


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


# --- Bluesky ---------------------------------------------------------------------------------


def invalid(message: str) -> Answer:
    return Answer(400, {"error": "InvalidRequest", "message": message})


def fake_cid(did: str) -> str:
    return "bafyrei" + did.removeprefix("did:plc:")[:24] + "fakecid"


def bluesky_follower_view(log: FollowLog, index: int, detailed: bool = False) -> dict[str, Any]:
    """A follower as app.bsky.actor.defs#profileView (no counts) or profileViewDetailed."""
    did = log.did(index)
    p = log.profiles
    view: dict[str, Any] = {"did": did, "handle": log.bluesky_handle(index)}
    name = log.display_name(index)
    if name:
        view["displayName"] = name
    if p.has_bio[index]:
        view["description"] = log.bio(index)
    if p.has_avatar[index]:  # the key is left out when there is no avatar
        view["avatar"] = f"https://cdn.bsky.app/img/avatar/plain/{did}/{fake_cid(did)}@jpeg"
    created = int(log.created_ms[index])
    view |= {
        "associated": {"activitySubscription": {"allowSubscriptions": "followers"}},
        "indexedAt": iso_ms(created + 2_500),
        "createdAt": iso_ms(created),
        "labels": [],
    }
    if detailed:
        view |= {
            "followersCount": int(p.followers[index]),
            "followsCount": int(p.following[index]),
            "postsCount": int(p.posts[index]),
        }
    return view


def xrpc_limit(raw: str | None, default: int, top: int) -> int | Answer:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return invalid("Error: limit must be an integer")
    if not 1 <= value <= top:
        return invalid(f"Error: limit must be >= 1 and <= {top}")
    return value


def xrpc_target(sim: Simulator, request: Request) -> tuple[str, str, Figures | None, int] | Answer:
    """(actor, handle, figures, limit) of an XRPC list request, or its 400."""
    query = request.query_params
    actor = query.get("actor")
    if not actor:
        return invalid('Error: Params must have the property "actor"')
    limit = xrpc_limit(query.get("limit"), 50, 100)
    if isinstance(limit, Answer):
        return limit
    handle = resolve_actor(sim, actor)
    return actor, handle, sim.state("bluesky", handle), limit


@budgeted("bluesky")
def bluesky_followers(sim: Simulator, request: Request) -> Answer:
    target = xrpc_target(sim, request)
    if isinstance(target, Answer):
        return target
    actor, handle, state, limit = target
    query = request.query_params
    log = sim.audiences.log("bluesky", handle)
    if state is None or log is None or state.status in ("suspended", "deactivated"):
        return invalid(f"Actor not found: {actor}")
    subject = profile_view(sim, handle, state)
    for key in ("followersCount", "followsCount", "postsCount"):
        subject.pop(key, None)
    current = log.alive(sim.audiences.day(log))[::-1]  # newest follow first
    cursor = query.get("cursor")
    if cursor:
        if "::" in cursor:  # a v1-style cursor: an empty page
            return Answer(200, {"subject": subject, "followers": []})
        ms, sep, cid = cursor.partition("__")
        if not sep or not ms.isdigit():
            return invalid("Malformed cursor")
        index = sim.audiences.by_cid(log, cid)
        if index is not None:
            current = current[current < index]
        else:
            current = current[log.followed_ms[current] < int(ms)]
    page = current[:limit]
    body: dict[str, Any] = {
        "subject": subject,
        "followers": [bluesky_follower_view(log, int(i)) for i in page],
    }
    if len(current) > limit:  # the only end-of-list signal is a missing cursor
        last = int(page[-1])
        body["cursor"] = f"{int(log.followed_ms[last])}__{fake_cid(log.did(last))}"
    return Answer(200, body)


async def bluesky_profiles(sim: Simulator, request: Request) -> Answer:
    """getProfiles: simulated accounts as before, and followers (by DID or handle) with counts."""
    actors = request.query_params.getlist("actors")
    if len(actors) > 25:
        return invalid("Error: actors must not have more than 25 elements")
    found = [sim.audiences.follower("bluesky", actor.lower()) for actor in actors]
    headers: dict[str, str] = {}
    if any(found):
        refused, headers = sim.audiences.budgets.take("bluesky", request)
        if refused:
            return refused
    profiles = []
    for actor, follower in zip(actors, found, strict=True):
        if follower is not None:
            profiles.append(bluesky_follower_view(*follower, detailed=True))
            continue
        handle = resolve_actor(sim, actor)  # unknown and inactive actors are left out
        state = sim.state("bluesky", handle)
        if state is not None and state.status == "active":
            profiles.append(profile_view(sim, handle, state))
    return Answer(200, {"profiles": profiles}, headers)


# --- Mastodon --------------------------------------------------------------------------------

MASTODON_MISSING = "/avatars/original/missing.png"


def follow_id(log: FollowLog, index: int) -> int:
    """The Follow row's id: a plain sequence (not time-encoded), rising with the follow order."""
    return 4_000_000 + 37 * index + stable_hash(log.key(index), "follow") % 37


def mastodon_account_id(log: FollowLog, index: int, home: str) -> str:
    """Snowflake-like: creation ms << 16 for local accounts; first seen (the follow) for remote."""
    ms = int(log.created_ms[index] if log.hosts[index] == home else log.followed_ms[index] - 5_000)
    return str((ms << 16) | (stable_hash(log.key(index), "id") & 0xFFFF))


def mastodon_follower(log: FollowLog, index: int, home: str) -> dict[str, Any]:
    p = log.profiles
    host = log.hosts[index]
    user = log.name(index)
    created = datetime.fromtimestamp(int(log.created_ms[index]) / 1000, UTC)
    local = host == home
    if p.has_avatar[index]:
        avatar = f"https://files.{host}/accounts/avatars/{user}/original/{stable_hash(user) % 10**12:x}.png"
    else:
        avatar = f"https://{home}{MASTODON_MISSING}"
    last_status = None
    if p.posts[index] > 0:  # a date only; old accounts with posts were active lately
        last_ms = max(int(log.followed_ms[index]) - (stable_hash(user, "last") % 60) * MS_DAY, 0)
        last_status = max(created, datetime.fromtimestamp(last_ms / 1000, UTC)).date().isoformat()
    account: dict[str, Any] = {
        "id": mastodon_account_id(log, index, home),
        "username": user,
        "acct": user if local else f"{user}@{host}",
        "display_name": log.display_name(index),
        "locked": False,
        "bot": False,
        "discoverable": bool(p.has_bio[index]),
        "indexable": bool(p.has_bio[index]),
        "group": False,
        "hide_collections": False,
        "created_at": created.strftime("%Y-%m-%dT00:00:00.000Z"),  # midnight since 3.4.0
        "note": f"<p>{log.bio(index)}</p>" if p.has_bio[index] else "",
        "url": f"https://{host}/@{user}",
        "uri": f"https://{host}/users/{user}",
        "avatar": avatar,
        "avatar_static": avatar,
        "header": f"https://{home}/headers/original/missing.png",
        "header_static": f"https://{home}/headers/original/missing.png",
        "followers_count": int(p.followers[index]),
        "following_count": int(p.following[index]),
        "statuses_count": int(p.posts[index]),
        "last_status_at": last_status,
        "emojis": [],
        "roles": [] if local else None,
        "fields": [],
    }
    if local:
        account["noindex"] = False
    return account


def mastodon_account(sim: Simulator, request: Request) -> tuple[str, str, Figures] | Answer:
    """(host, handle, figures) of the simulated account the path names on its home server,
    or the 404."""
    host = request.path_params["host"].lower()
    for handle in sim.world.handles("mastodon"):
        if (
            handle.endswith(f"@{host}")
            and numeric_id(f"mastodon:{handle}") == request.path_params["id"]
        ):
            state = sim.state("mastodon", handle)
            if state is not None:
                return host, handle, state
    return Answer(404, {"error": "Record not found"})


def id_window(ids: np.ndarray, query: Any) -> np.ndarray:
    """Which ids max_id and since_id keep (strictly below, strictly above)."""
    keep = np.ones(len(ids), dtype=bool)
    max_id, since_id = int_param(query.get("max_id")), int_param(query.get("since_id"))
    if max_id is not None:
        keep &= ids < max_id
    if since_id is not None:
        keep &= ids > since_id
    return keep


def mastodon_limit(raw: str | None, default: int) -> int:
    """Rails' limit_param: absent -> default; else |to_i| clamped to twice the default."""
    if raw is None:
        return default
    digits = raw.strip().lstrip("+-")
    number = int(digits) if digits.isdigit() else 0
    return min(number, 2 * default)


def mastodon_links(request: Request, limit: int, ids: list[int], prev_key: str) -> dict[str, str]:
    """next when the page is full (max_id of the last), prev when not empty."""
    base = str(request.url.replace(query=""))
    links = []
    if ids and len(ids) == limit:
        links.append(f'<{base}?limit={limit}&max_id={ids[-1]}>; rel="next"')
    if ids:
        links.append(f'<{base}?limit={limit}&{prev_key}={ids[0]}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


def int_param(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


@budgeted("mastodon")
def mastodon_followers(sim: Simulator, request: Request) -> Answer:
    found = mastodon_account(sim, request)
    if isinstance(found, Answer):
        return found
    host, handle, state = found
    log = sim.audiences.log("mastodon", handle)
    if log is None or state.status in ("suspended", "hidden"):  # hide_results?: 200 [] no Link
        return Answer(200, [])
    query = request.query_params
    limit = mastodon_limit(query.get("limit"), 40)
    current = log.alive(sim.audiences.day(log))[::-1]
    ids = np.array([follow_id(log, int(i)) for i in current], dtype=np.int64)
    keep = id_window(ids, query)  # min_id is ignored by this controller
    page = current[keep][:limit]
    page_ids = [int(x) for x in ids[keep][:limit]]
    body = [mastodon_follower(log, int(i), host) for i in page]
    return Answer(200, body, mastodon_links(request, limit, page_ids, "since_id"))


# --- GitHub ----------------------------------------------------------------------------------

GITHUB_PAGE_CAP = 400  # UNVERIFIED for followers (documented for stargazers); configurable
_GITHUB_CAP_BODY = {
    "message": "In order to keep the API fast for everyone, pagination is limited for this "
    "resource. Check the rel=last link relation in the Link response header to see how far "
    "back you can traverse.",
    "documentation_url": "https://docs.github.com/v3/#pagination",
    "status": "422",
}


def _github_id(log: FollowLog, index: int) -> int:
    return 10_000_000 + stable_hash(log.key(index), "gh") % 200_000_000


def github_simple_user(log: FollowLog, index: int) -> dict[str, Any]:
    login = log.name(index)
    api = f"https://api.github.com/users/{login}"
    ident = _github_id(log, index)
    return {
        "login": login,
        "id": ident,
        "node_id": f"U_kgDO{ident:08X}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def github_full_user(log: FollowLog, index: int) -> dict[str, Any]:
    """GET /users/{login} of a follower. Instagram-calibrated counts are mapped onto GitHub's
    smaller scale (followers and following / 20, repositories = sqrt(posts)): an assumption."""
    p = log.profiles
    created = int(log.created_ms[index])
    bought_empty = log.purchase[index] >= 0 and not p.has_posts[index]
    updated = created + (0 if bought_empty else stable_hash(log.key(index), "upd") % (200 * MS_DAY))
    updated = min(updated, int(log.followed_ms[index]) + MS_DAY)
    repos = round(float(np.sqrt(p.posts[index])))
    return github_simple_user(log, index) | {
        "name": log.display_name(index) or None,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": log.bio(index) or None,
        "twitter_username": None,
        "public_repos": repos,
        "public_gists": 0 if log.purchase[index] >= 0 else repos // 4,
        "followers": int(p.followers[index]) // 20,
        "following": int(p.following[index]) // 20,
        "created_at": iso_ms(created)[:19] + "Z",
        "updated_at": iso_ms(max(updated, created))[:19] + "Z",
    }


def _github_links(request: Request, page: int, last: int, per_page: int) -> dict[str, str]:
    base = str(request.url.replace(query=""))
    links = []
    if page < last:
        links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
        links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
    if page > 1:
        links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        links.append(f'<{base}?per_page={per_page}&page={min(page - 1, last)}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


@budgeted("github")
def github_followers(sim: Simulator, request: Request) -> Answer:
    if not request.headers.get("user-agent"):
        return Answer(403, "Request forbidden by administrative rules.")
    handle = request.path_params["user"].lower()
    state = sim.state("github", handle)
    log = sim.audiences.log("github", handle)
    if state is None or log is None:
        return Answer(
            404,
            {
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest/users/followers#list-followers-of-a-user",
                "status": "404",
            },
        )
    query = request.query_params
    per_page = int_param(query.get("per_page"))
    per_page = 30 if per_page is None or per_page < 1 else min(per_page, 100)
    page = int_param(query.get("page")) or 1
    current = log.alive(sim.audiences.day(log))
    ordered = sorted(current.tolist(), key=log.name)  # login order (the real one: undocumented)
    pages = max(-(-len(ordered) // per_page), 1)
    cap = sim.audiences.github_page_cap
    last = min(pages, cap)
    if page > cap:
        return Answer(422, _GITHUB_CAP_BODY)
    chunk = ordered[(page - 1) * per_page : page * per_page]
    return Answer(
        200,
        [github_simple_user(log, i) for i in chunk],
        _github_links(request, page, last, per_page),
    )


async def github_user_or_follower(sim: Simulator, request: Request) -> Answer:
    """GET /users/{login}: a follower's profile, or a simulated account as before."""
    login = request.path_params["user"].lower()
    follower = sim.audiences.follower("github", login)
    if follower is None:
        return await github_user(sim, request)
    refused, headers = sim.audiences.budgets.take("github", request)
    if refused:
        return refused
    if not request.headers.get("user-agent"):
        return Answer(403, "Request forbidden by administrative rules.", headers)
    return Answer(200, github_full_user(*follower), headers)
