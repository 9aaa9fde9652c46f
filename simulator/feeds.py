"""Each simulated account's recent posts with their interactions, and the feed endpoints.

Posts follow the account's post count history (World.history): the posts added each day are
that day's posts. Interactions come from the organic audience only (the followers in the
follow log that were not bought, or the count less what purchases added): a purchase adds
followers and no likes, which is the evidence engagement gives. Per post: likes ~ Poisson(1% of
the organic audience x a log-normal spread, times 1 + the viral size around a viral event),
reposts 15%, replies 8%, quotes 2% and bookmarks 3% of the likes (our assumptions: no labelled
engagement data is at hand). 20% of an account's posts are replies; it reposts about one post of
someone else for every four of its own.

Endpoints (docs/audience-apis.md §2.1, §2.2, §2.5):
    /bluesky/xrpc/app.bsky.feed.getAuthorFeed    newest first (sortAt), limit 1-100 (default
                                                  50), cursor, filter; reposts carry reasonRepost
    /mastodon/{host}/api/v1/accounts/{id}/statuses  newest first, limit 20 (clamped to 40),
                                                  max_id/since_id/min_id on status ids
                                                  (Snowflake: ms << 16), exclude_replies,
                                                  exclude_reblogs, only_media, pinned, Link header
    /x/2/users/{id}/tweets                        bearer token (401 without), newest first (ids
                                                  are Snowflakes: ms since 2010-11-04 << 22),
                                                  max_results 5-100 (default 10; 400 outside),
                                                  exclude=retweets,replies, pagination_token ->
                                                  meta.next_token, tweet.fields (by default id,
                                                  text, edit_history_tweet_ids only); an unknown or
                                                  suspended id is an `errors` item of a 200; the
                                                  audience budget of simulator/budgets.py; a tier
                                                  without access: the `tier_forbidden` fault
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request

from simulator import list_requests
from simulator.audiences import PURCHASE_KINDS, AccountSpec, add_purchase
from simulator.budgets import budgeted
from simulator.follow_log import MS_DAY, day_ms, iso_ms, stable_hash
from simulator.platforms.x import invalid_request, missing_user, refused, suspended_user
from simulator.types import Answer
from simulator.world import did_for, numeric_id

if TYPE_CHECKING:
    from simulator.server import Simulator

LIKE_RATE = 0.01
SHARES = {"reposts": 0.15, "replies": 0.08, "quotes": 0.02, "bookmarks": 0.03}
POST, REPLY, REPOST = 0, 1, 2
BEFORE_DAYS = 100  # the posts counted on day 0 were made over the 100 days before it
MAX_EARLIER = 400  # of them, at most this many are served


@dataclass
class PostLog:
    """An account's feed items, oldest first."""

    platform: str
    handle: str
    start: date
    days: int
    sort_ms: np.ndarray  # int64: when it was posted (or reposted)
    day: np.ndarray  # int32: the simulated day it appears on
    kind: np.ndarray  # int8: POST, REPLY, REPOST
    media: np.ndarray  # bool
    likes: np.ndarray
    reposts: np.ndarray
    replies: np.ndarray
    quotes: np.ndarray
    bookmarks: np.ndarray

    def visible(self, day: int) -> np.ndarray:
        """Indices of the items posted up to `day`, newest first."""
        return np.flatnonzero(self.day <= day)[::-1]

    def key(self, index: int) -> str:
        return f"{self.platform}:{self.handle}:post:{index}"


def organic_audience(spec: AccountSpec, followers: list[int]) -> np.ndarray:
    """The count less what purchases added and still keep (for accounts with no follow log)."""
    bought = np.zeros(len(followers))
    for ev in spec.events:
        if ev.kind in PURCHASE_KINDS:
            add_purchase(bought, ev)
    organic: np.ndarray = np.maximum(np.array(followers, dtype=float) - np.cumsum(bought), 0)
    return organic


def build_posts(
    spec: AccountSpec, posts: list[int | None], organic: np.ndarray, start: date, seed: int
) -> PostLog:
    rng = np.random.default_rng([seed, zlib.crc32(f"{spec.platform}:{spec.handle}".encode()), 16])
    days = len(posts)
    dated = _dated_items(rng, posts, day_ms(start))
    if dated is None:
        empty = np.zeros(0, dtype=np.int64)
        columns = [empty, empty, empty, empty.astype(bool), *[empty] * 5]
        return PostLog(spec.platform, spec.handle, start, days, *columns)
    sort_ms, day_of, kind_of = dated
    boost = np.ones(len(sort_ms))
    for ev in spec.events:
        if ev.kind == "viral":
            boost[(day_of >= ev.day - 1) & (day_of <= ev.day + 2)] = 1 + ev.size
    mean = organic[day_of] * LIKE_RATE * boost * rng.lognormal(0, 0.7, len(sort_ms))
    likes = rng.poisson(mean)
    shares = {name: rng.poisson(likes * share) for name, share in SHARES.items()}
    return PostLog(
        spec.platform,
        spec.handle,
        start,
        days,
        sort_ms.astype(np.int64),
        day_of,
        kind_of,
        rng.random(len(sort_ms)) < 0.3,
        likes,
        shares["reposts"],
        shares["replies"],
        shares["quotes"],
        shares["bookmarks"],
    )


def _dated_items(
    rng: np.random.Generator, posts: list[int | None], start_ms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(when, the simulated day, the kind) of every feed item in time order: each day's new
    posts and about one repost for four of them (None: no item at all)."""
    counts = np.array([p or 0 for p in posts], dtype=np.int64)
    per_day = np.diff(counts, prepend=0).clip(min=0)
    per_day[0] = min(per_day[0], MAX_EARLIER)
    times, on_day, kinds = [], [], []
    for day, n in enumerate(per_day):
        reposts = int(rng.poisson(0.25 * n))
        total = int(n) + reposts
        if total == 0:
            continue
        if day == 0:
            moments = start_ms - rng.integers(1, BEFORE_DAYS * MS_DAY, total)
        else:
            moments = start_ms + day * MS_DAY + rng.integers(0, MS_DAY, total)
        kind = np.where(rng.random(total) < 0.2, REPLY, POST)
        kind[int(n) :] = REPOST
        times.append(moments)
        on_day.append(np.full(total, day, dtype=np.int32))
        kinds.append(kind.astype(np.int8))
    if not times:
        return None
    sort_ms = np.concatenate(times)
    order = np.argsort(sort_ms, kind="stable")
    return sort_ms[order], np.concatenate(on_day)[order], np.concatenate(kinds)[order]


# --- Bluesky ---------------------------------------------------------------------------------

FILTERS = {
    "posts_with_replies": (POST, REPLY, REPOST),
    "posts_no_replies": (POST, REPOST),
    "posts_and_author_threads": (POST, REPOST),  # our replies are to other people's threads
    "posts_with_media": (POST,),
    "posts_with_video": (),  # no simulated post has a video
}


def _rkey(log: PostLog, index: int) -> str:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    h = stable_hash(log.key(index), "rkey")
    return "3m" + "".join(alphabet[(h >> (5 * i)) & 31] for i in range(11))


def _author(did: str, handle: str, name: str) -> dict[str, Any]:
    return {"did": did, "handle": handle, "displayName": name, "labels": []}


def bluesky_item(sim: Simulator, log: PostLog, index: int) -> dict[str, Any]:
    did = did_for(log.handle)
    me = _author(did, log.handle, sim.display_name("bluesky", log.handle))
    at = iso_ms(int(log.sort_ms[index]))
    kind = int(log.kind[index])
    owner = me
    if kind == REPOST:
        other = f"friend{stable_hash(log.key(index)) % 900 + 100}.bsky.social"
        owner = _author(did_for(other), other, other.split(".")[0].title())
    uri = f"at://{owner['did']}/app.bsky.feed.post/{_rkey(log, index)}"
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": f"post {index} of {log.handle}",
        "langs": ["en"],
        "createdAt": at,
    }
    post: dict[str, Any] = {
        "uri": uri,
        "cid": list_requests.fake_cid(did_for(uri)),
        "author": owner,
        "record": record,
        "bookmarkCount": int(log.bookmarks[index]),
        "replyCount": int(log.replies[index]),
        "repostCount": int(log.reposts[index]),
        "likeCount": int(log.likes[index]),
        "quoteCount": int(log.quotes[index]),
        "indexedAt": iso_ms(int(log.sort_ms[index]) + 600),
        "labels": [],
    }
    if log.media[index] and kind != REPOST:
        image = f"https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{_rkey(log, index)}@jpeg"
        post["embed"] = {
            "$type": "app.bsky.embed.images#view",
            "images": [
                {"thumb": image, "fullsize": image.replace("thumbnail", "fullsize"), "alt": ""}
            ],
        }
    item: dict[str, Any] = {"post": post}
    if kind == REPLY:
        parent = f"at://{did_for(f'parent:{uri}')}/app.bsky.feed.post/{_rkey(log, index + 1)}"
        ref = {"uri": parent, "cid": list_requests.fake_cid(did_for(parent))}
        record["reply"] = {"root": ref, "parent": ref}
        missing = {"$type": "app.bsky.feed.defs#notFoundPost", "uri": parent, "notFound": True}
        item["reply"] = {"root": missing, "parent": missing}
    if kind == REPOST:
        item["reason"] = {"$type": "app.bsky.feed.defs#reasonRepost", "by": me, "indexedAt": at}
    return item


@budgeted("bluesky")
def bluesky_author_feed(sim: Simulator, request: Request) -> Answer:
    target = list_requests.xrpc_target(sim, request)
    if isinstance(target, Answer):
        return target
    _, handle, state, limit = target
    query = request.query_params
    if state is None:
        return list_requests.invalid("Profile not found")
    if state.status == "suspended":
        return Answer(400, {"error": "AccountTakedown", "message": "Account has been suspended"})
    log = sim.audiences.posts("bluesky", handle)
    if log is None or state.status == "deactivated":
        return list_requests.invalid("Profile not found")
    # knownValues are open: an unknown filter is served as the default
    kinds = FILTERS.get(query.get("filter", ""), FILTERS["posts_with_replies"])
    items = log.visible(sim.audiences.day(log))
    items = items[np.isin(log.kind[items], kinds)]
    if query.get("filter") in ("posts_with_media", "posts_with_video"):
        items = items[log.media[items]]
    cursor = query.get("cursor")
    if cursor:
        ms, sep, _ = cursor.partition("__")
        if not sep or not ms.isdigit():
            return list_requests.invalid("Malformed cursor")
        items = items[log.sort_ms[items] < int(ms)]
    page = items[:limit]
    body: dict[str, Any] = {"feed": [bluesky_item(sim, log, int(i)) for i in page]}
    if len(items) > limit:
        last = int(page[-1])
        body["cursor"] = (
            f"{int(log.sort_ms[last])}__{list_requests.fake_cid(did_for(log.key(last)))}"
        )
    return Answer(200, body)


# --- Mastodon --------------------------------------------------------------------------------


def status_id(log: PostLog, index: int) -> int:
    return (int(log.sort_ms[index]) << 16) | (stable_hash(log.key(index), "sid") & 0xFFFF)


def mastodon_status(sim: Simulator, log: PostLog, index: int, host: str) -> dict[str, Any]:
    kind = int(log.kind[index])
    counts = {
        "replies_count": int(log.replies[index]),
        "reblogs_count": int(log.reposts[index]),
        "favourites_count": int(log.likes[index]),
        "quotes_count": int(log.quotes[index]),
    }
    status = _status_fields(sim, log, index, host, counts)
    sid = status["id"]
    if log.media[index] and kind != REPOST:
        status["media_attachments"] = [
            {"id": sid, "type": "image", "url": f"https://files.{host}/media/{sid}.png"}
        ]
    if kind == REPLY:
        status["in_reply_to_id"] = str(int(sid) - 7_000_000)
        status["in_reply_to_account_id"] = str(stable_hash(sid, "to") % 10**17)
    if kind == REPOST:  # a boost: the counts are the original's, the wrapper's are zero
        status |= {key: 0 for key in counts} | {
            "content": "",
            "reblog": _boosted(status, sid),
            "url": None,
        }
    return status


def _status_fields(
    sim: Simulator, log: PostLog, index: int, host: str, counts: dict[str, int]
) -> dict[str, Any]:
    """A plain status of the account as Mastodon serves it (a table of its fields)."""
    user = log.handle.split("@", 1)[0]
    sid = str(status_id(log, index))
    return {
        "id": sid,
        "created_at": iso_ms(int(log.sort_ms[index])),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{host}/users/{user}/statuses/{sid}",
        "url": f"https://{host}/@{user}/{sid}",
        **counts,
        "edited_at": None,
        "content": f"<p>post {index} of {user}</p>",
        "reblog": None,
        "account": {
            "id": numeric_id(f"mastodon:{log.handle}"),
            "username": user,
            "acct": user,
            "display_name": sim.display_name("mastodon", log.handle),
            "url": f"https://{host}/@{user}",
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def _boosted(status: dict[str, Any], sid: str) -> dict[str, Any]:
    """The status a boost wraps: someone else's, with the counts."""
    other = f"friend{stable_hash(sid) % 900 + 100}"
    return status | {
        "id": str(int(sid) - 5_000_000),
        "account": {
            "id": str(stable_hash(other) % 10**17),
            "username": other,
            "acct": f"{other}@mastodon.social",
            "display_name": other.title(),
            "url": f"https://mastodon.social/@{other}",
        },
        "url": f"https://mastodon.social/@{other}/{int(sid) - 5_000_000}",
        "uri": f"https://mastodon.social/users/{other}/statuses/{int(sid) - 5_000_000}",
    }


def _truthy(raw: str | None) -> bool:
    return raw is not None and raw.lower() in ("1", "true", "t", "yes", "on")


@budgeted("mastodon")
def mastodon_statuses(sim: Simulator, request: Request) -> Answer:
    found = list_requests.mastodon_account(sim, request)
    if isinstance(found, Answer):
        return found
    host, handle, state = found
    log = sim.audiences.posts("mastodon", handle)
    query = request.query_params
    if log is None or state.status == "suspended" or _truthy(query.get("pinned")):
        return Answer(200, [])
    if query.get("tagged"):
        return Answer(200, [])
    items = log.visible(sim.audiences.day(log))
    if _truthy(query.get("exclude_replies")):
        items = items[log.kind[items] != REPLY]
    if _truthy(query.get("exclude_reblogs")):
        items = items[log.kind[items] != REPOST]
    if _truthy(query.get("only_media")):
        items = items[log.media[items] & (log.kind[items] != REPOST)]
    limit = list_requests.mastodon_limit(query.get("limit"), 20)
    ids = np.array([status_id(log, int(i)) for i in items], dtype=np.int64)
    keep = list_requests.id_window(ids, query)
    min_id = list_requests.int_param(query.get("min_id"))
    if min_id is not None:  # the page just above min_id, still newest first
        keep &= ids > min_id
        chosen = np.flatnonzero(keep)[::-1][:limit][::-1]
    else:
        chosen = np.flatnonzero(keep)[:limit]
    page_ids = [int(ids[c]) for c in chosen]
    body = [mastodon_status(sim, log, int(items[c]), host) for c in chosen]
    return Answer(200, body, list_requests.mastodon_links(request, limit, page_ids, "min_id"))


# --- X ---------------------------------------------------------------------------------------

TWEPOCH_MS = 1_288_834_974_657  # X's Snowflake epoch
IMPRESSIONS_PER_LIKE = 25  # our assumption (as YouTube's views per like)
X_EXCLUDE = {"retweets": REPOST, "replies": REPLY}
_TOKEN_PREFIX = "7140d"


def tweet_id(log: PostLog, index: int) -> int:
    return ((int(log.sort_ms[index]) - TWEPOCH_MS) << 22) | (
        stable_hash(log.key(index), "tweet") & 0x3FFFFF
    )


def x_tweet(log: PostLog, index: int, fields: set[str]) -> dict[str, Any]:
    """A Post as the timeline serves it: id, text and edit history, and the fields asked for."""
    tid = str(tweet_id(log, index))
    text = f"post {index} of {log.handle}"
    kind = int(log.kind[index])
    if kind == REPOST:
        text = f"RT @friend{stable_hash(log.key(index)) % 900 + 100}: {text}"
    elif kind == REPLY:
        text = f"@someone{stable_hash(log.key(index), 'to') % 900 + 100} {text}"
    tweet: dict[str, Any] = {"id": tid, "text": text, "edit_history_tweet_ids": [tid]}
    if "created_at" in fields:
        tweet["created_at"] = iso_ms(int(log.sort_ms[index]))
    if "author_id" in fields:
        tweet["author_id"] = numeric_id(f"x:{log.handle}")
    if "public_metrics" in fields:
        tweet["public_metrics"] = {
            "retweet_count": int(log.reposts[index]),
            "reply_count": int(log.replies[index]),
            "like_count": int(log.likes[index]),
            "quote_count": int(log.quotes[index]),
            "bookmark_count": int(log.bookmarks[index]),
            "impression_count": int(log.likes[index]) * IMPRESSIONS_PER_LIKE,
        }
    return tweet


async def x_user_tweets(sim: Simulator, request: Request) -> Answer:
    """The bearer token is checked before the timeline's budget is spent."""
    no = refused(sim, request)
    return no if no is not None else await _x_timeline(sim, request)


@budgeted("x")
def _x_timeline(sim: Simulator, request: Request) -> Answer:
    query = request.query_params
    raw = query.get("max_results", "10")
    size = list_requests.int_param(raw)
    if size is None or not 5 <= size <= 100:
        return invalid_request(
            "max_results",
            raw,
            f"The `max_results` query parameter value [{raw}] is not between 5 and 100",
        )
    user_id = request.path_params["id"]
    handle = next((h for h in sim.world.handles("x") if numeric_id(f"x:{h}") == user_id), None)
    state = sim.state("x", handle) if handle is not None else None
    log = sim.audiences.posts("x", handle) if handle is not None else None
    if state is None or log is None:
        return Answer(200, {"errors": [missing_user(user_id, "id")]})
    if state.status == "suspended":
        return Answer(200, {"errors": [suspended_user(user_id, "id")]})
    items = log.visible(sim.audiences.day(log))
    for name in query.get("exclude", "").split(","):
        if name in X_EXCLUDE:
            items = items[log.kind[items] != X_EXCLUDE[name]]
    ids = np.array([tweet_id(log, int(i)) for i in items], dtype=np.int64)
    token = query.get("pagination_token")
    if token is not None:
        try:
            below = int(token.removeprefix(_TOKEN_PREFIX), 36)
        except ValueError:
            return invalid_request(
                "pagination_token",
                token,
                f"The `pagination_token` query parameter value [{token}] is not valid",
            )
        items, ids = items[ids < below], ids[ids < below]
    page, page_ids = items[:size], ids[:size]
    fields = set(query.get("tweet.fields", "").split(","))
    meta: dict[str, Any] = {"result_count": len(page)}
    if len(page):
        meta |= {"newest_id": str(page_ids[0]), "oldest_id": str(page_ids[-1])}
    if len(items) > size:
        meta["next_token"] = _TOKEN_PREFIX + np.base_repr(int(page_ids[-1]), 36).lower()
    body: dict[str, Any] = (
        {"data": [x_tweet(log, int(i), fields) for i in page]} if len(page) else {}
    )
    return Answer(200, body | {"meta": meta})
