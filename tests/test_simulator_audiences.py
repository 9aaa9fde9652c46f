"""The simulator's follower lists, profiles and feeds over real HTTP: shapes, orders,
pagination to the end, page caps, rate-limit headers and refusals; and the populations behind
them (counts agree with the history, purchases arrive as blocks of new empty accounts)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np
import pytest

from simulator.audiences import AccountSpec, Event
from simulator.follow_log import build_log
from simulator.server import SimulatorServer
from simulator.world import World, numeric_id
from tests.support.clock import FakeClock

GH = {"user-agent": "audience-tests"}
NEXT = re.compile(r'<([^>]+)>; rel="next"')


def _next(response: httpx.Response) -> str | None:
    match = NEXT.search(response.headers.get("link", ""))
    return match.group(1) if match else None


def _mastodon_url(sim: SimulatorServer, handle: str, what: str) -> str:
    host = handle.split("@")[1]
    return f"{sim.url}/mastodon/{host}/api/v1/accounts/{numeric_id(f'mastodon:{handle}')}/{what}"


def _followers_today(sim: SimulatorServer, platform: str, handle: str) -> int:
    figures = sim.simulator.world.figures(platform, handle)
    assert figures is not None
    return figures.followers


# --- Bluesky ---------------------------------------------------------------------------------


def test_bluesky_followers_newest_first_to_the_end(sim: SimulatorServer) -> None:
    url = f"{sim.url}/bluesky/xrpc/app.bsky.graph.getFollowers"
    seen: list[dict[str, object]] = []
    params = {"actor": "indie.dev", "limit": "100"}
    pages = 0
    with httpx.Client() as client:
        while True:
            r = client.get(url, params=params)
            assert r.status_code == 200
            assert r.headers["ratelimit-policy"] == "3000;w=300"
            body = r.json()
            assert set(body) <= {"subject", "followers", "cursor"}
            assert len(body["followers"]) <= 100
            seen += body["followers"]
            pages += 1
            if "cursor" not in body:  # the only end-of-list signal
                break
            params["cursor"] = body["cursor"]
    assert len(seen) == _followers_today(sim, "bluesky", "indie.dev")
    assert pages == -(-len(seen) // 100)
    assert len({f["did"] for f in seen}) == len(seen)
    assert all("followersCount" not in f and "createdAt" in f for f in seen)  # profileView
    assert any("avatar" not in f for f in seen)
    assert any("avatar" in f for f in seen)
    log = sim.simulator.audiences.log("bluesky", "indie.dev")
    assert log is not None
    index = {log.did(i): i for i in range(len(log))}
    follows = [int(log.followed_ms[index[str(f["did"])]]) for f in seen]
    assert follows == sorted(follows, reverse=True)


def test_bluesky_followers_refusals(sim: SimulatorServer) -> None:
    url = f"{sim.url}/bluesky/xrpc/app.bsky.graph.getFollowers"
    for params, message in (
        ({"actor": "indie.dev", "limit": "101"}, "limit"),
        ({"actor": "indie.dev", "cursor": "not-a-cursor"}, "Malformed cursor"),
        ({"actor": "nobody.bsky.social"}, "Actor not found"),
    ):
        r = httpx.get(url, params=params)
        assert r.status_code == 400
        assert r.json()["error"] == "InvalidRequest"
        assert message in r.json()["message"]
    r = httpx.get(url, params={"actor": "indie.dev", "cursor": "1::2"})
    assert r.status_code == 200
    assert r.json()["followers"] == []
    assert "cursor" not in r.json()


def test_bluesky_profiles_of_followers_25_a_call(sim: SimulatorServer) -> None:
    url = f"{sim.url}/bluesky/xrpc/app.bsky.graph.getFollowers"
    # the first list builds the simulator's index of every follower: seconds on a loaded
    # machine, past httpx's 5 s default (what is tested here is the answers, not their speed)
    with httpx.Client(timeout=60) as client:
        dids = [
            f["did"]
            for f in client.get(url, params={"actor": "indie.dev", "limit": "26"}).json()[
                "followers"
            ]
        ]
        profiles_url = f"{sim.url}/bluesky/xrpc/app.bsky.actor.getProfiles"
        r = client.get(profiles_url, params=[("actors", d) for d in dids[:25]])
        assert r.status_code == 200
        profiles = r.json()["profiles"]
        assert [p["did"] for p in profiles] == dids[:25]
        assert all(
            {"followersCount", "followsCount", "postsCount", "createdAt"} <= set(p)
            for p in profiles
        )
        assert client.get(profiles_url, params=[("actors", d) for d in dids]).status_code == 400
        # the simulated accounts are still served as before
        r = client.get(profiles_url, params=[("actors", "indie.dev"), ("actors", dids[0])])
        assert next(p["handle"] for p in r.json()["profiles"]) == "indie.dev"


def _budget(
    sim: SimulatorServer, platform: str, bucket: str, limit: int, window_s: int
) -> FakeClock:
    """A smaller budget, set over HTTP, counted on a virtual clock."""
    clock = FakeClock()
    sim.simulator.use_clock(clock.now)
    httpx.post(
        f"{sim.url}/_sim/audience-limits/{platform}",
        json={"bucket": bucket, "limit": limit, "window_s": window_s},
    ).raise_for_status()
    return clock


def test_bluesky_rate_limit_refuses_with_retry_after(sim: SimulatorServer) -> None:
    clock = _budget(sim, "bluesky", "appview", 2, 60)
    url = f"{sim.url}/bluesky/xrpc/app.bsky.feed.getAuthorFeed"
    answers = [httpx.get(url, params={"actor": "indie.dev"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:2]] == ["1", "0"]
    assert answers[2].json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    assert int(answers[2].headers["retry-after"]) >= 1
    clock.t += 60  # the next window
    assert httpx.get(url, params={"actor": "indie.dev"}).status_code == 200


def test_bluesky_author_feed_newest_first_to_the_end(sim: SimulatorServer) -> None:
    url = f"{sim.url}/bluesky/xrpc/app.bsky.feed.getAuthorFeed"
    items: list[dict[str, object]] = []
    params = {"actor": "indie.dev", "limit": "100"}
    while True:
        body = httpx.get(url, params=params).json()
        items += body["feed"]
        if "cursor" not in body:
            break
        params["cursor"] = body["cursor"]
    log = sim.simulator.audiences.posts("bluesky", "indie.dev")
    assert log is not None
    assert len(items) == len(log.visible(sim.simulator.audiences.day(log)))

    def sort_at(item: dict[str, object]) -> str:
        reason = item.get("reason")
        post = item["post"]
        assert isinstance(post, dict)
        return (
            str(reason["indexedAt"])
            if isinstance(reason, dict)
            else str(post["record"]["createdAt"])
        )

    times = [sort_at(i) for i in items]
    assert times == sorted(times, reverse=True)
    reposts = [i for i in items if "reason" in i]
    assert reposts
    assert all(
        i["reason"]["$type"] == "app.bsky.feed.defs#reasonRepost"  # type: ignore[index]
        for i in reposts
    )
    for item in items:
        post = item["post"]
        assert isinstance(post, dict)
        assert {"likeCount", "repostCount", "replyCount", "quoteCount", "bookmarkCount"} <= set(
            post
        )
    own = httpx.get(url, params={"actor": "indie.dev", "filter": "posts_no_replies"}).json()["feed"]
    assert all("reply" not in i for i in own)


# --- Mastodon --------------------------------------------------------------------------------


def test_mastodon_followers_paged_by_link_to_the_end(sim: SimulatorServer) -> None:
    handle = "carol@hachyderm.io"
    url: str | None = _mastodon_url(sim, handle, "followers") + "?limit=500"  # clamped to 80
    seen: list[dict[str, object]] = []
    sizes = []
    with httpx.Client() as client:
        while url:
            r = client.get(url)
            assert r.status_code == 200
            assert r.headers["x-ratelimit-limit"] == "300"
            assert r.headers["x-ratelimit-reset"].endswith("Z")
            page = r.json()
            sizes.append(len(page))
            seen += page
            url = _next(r)
            if page and len(page) < 80:
                assert url is None  # next only after a full page
    assert max(sizes) == 80
    assert len(seen) == _followers_today(sim, "mastodon", handle)
    assert len({a["id"] for a in seen}) == len(seen)
    first = seen[0]
    assert {
        "created_at",
        "followers_count",
        "following_count",
        "statuses_count",
        "avatar",
        "note",
        "last_status_at",
    } <= set(first)
    assert all(str(a["created_at"]).endswith("T00:00:00.000Z") for a in seen)  # midnight
    empty = [a for a in seen if str(a["avatar"]).endswith("/avatars/original/missing.png")]
    assert empty
    assert all(a["note"] == "" or a["note"] for a in empty)


def test_mastodon_paging_throttle_counts_only_paging(sim: SimulatorServer) -> None:
    _budget(sim, "mastodon", "unauthenticated_paging", 2, 900)
    base = _mastodon_url(sim, "carol@hachyderm.io", "followers")
    codes = [httpx.get(f"{base}?limit=80&max_id={10**12}").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = httpx.get(f"{base}?max_id={10**12}")
    assert refused.json() == {"error": "Too many requests"}
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert "retry-after" not in refused.headers  # Mastodon sends none
    assert httpx.get(base).status_code == 200  # a first page is no paging request


def test_mastodon_statuses(sim: SimulatorServer) -> None:
    url = _mastodon_url(sim, "carol@hachyderm.io", "statuses")
    r = httpx.get(url, params={"limit": "100"})
    page = r.json()
    assert len(page) == 40  # clamped
    ids = [int(s["id"]) for s in page]
    assert ids == sorted(ids, reverse=True)
    assert all(
        {"favourites_count", "reblogs_count", "replies_count", "quotes_count"} <= set(s)
        for s in page
    )
    nxt = _next(r)
    assert nxt is not None
    assert f"max_id={ids[-1]}" in nxt
    older = httpx.get(nxt).json()
    assert int(older[0]["id"]) < ids[-1]
    newer = httpx.get(url, params={"min_id": str(ids[5]), "limit": "3"}).json()
    assert [int(s["id"]) for s in newer] == ids[2:5]
    own = httpx.get(
        url, params={"exclude_reblogs": "true", "exclude_replies": "true", "limit": "40"}
    ).json()
    assert all(s["reblog"] is None and s["in_reply_to_id"] is None for s in own)
    boosts = [s for s in page if s["reblog"] is not None]
    assert all(s["favourites_count"] == 0 for s in boosts)
    assert httpx.get(url.replace(numeric_id("mastodon:carol@hachyderm.io"), "1")).status_code == 404


# --- GitHub ----------------------------------------------------------------------------------


def test_github_followers_pages_profiles_and_cap(sim: SimulatorServer) -> None:
    url: str | None = f"{sim.url}/github/users/janedoe/followers?per_page=100"
    logins: list[str] = []
    while url:
        r = httpx.get(url, headers=GH)
        assert r.status_code == 200
        assert r.headers["x-ratelimit-limit"] == "60"
        assert all("created_at" not in u and "followers" not in u for u in r.json())  # simple users
        logins += [u["login"] for u in r.json()]
        url = _next(r)
    assert len(logins) == len(set(logins)) == _followers_today(sim, "github", "janedoe")
    profile = httpx.get(f"{sim.url}/github/users/{logins[0]}", headers=GH).json()
    assert {"created_at", "followers", "following", "public_repos", "bio", "name"} <= set(profile)
    httpx.post(
        f"{sim.url}/_sim/audience-limits/github", json={"github_page_cap": 3}
    ).raise_for_status()
    last = httpx.get(f"{sim.url}/github/users/janedoe/followers?per_page=10&page=3", headers=GH)
    assert 'page=3>; rel="last"' not in last.headers["link"]  # no next past the cap
    capped = httpx.get(f"{sim.url}/github/users/janedoe/followers?per_page=10&page=4", headers=GH)
    assert capped.status_code == 422
    assert "pagination is limited" in capped.json()["message"]


def test_github_sixty_an_hour_unauthenticated(sim: SimulatorServer) -> None:
    clock = FakeClock()
    sim.simulator.use_clock(clock.now)
    url = f"{sim.url}/github/users/janedoe/followers"
    with httpx.Client(headers=GH) as client:
        answers = [client.get(url) for _ in range(61)]
        assert [a.status_code for a in answers[:60]] == [200] * 60
        assert answers[59].headers["x-ratelimit-remaining"] == "0"
        assert answers[60].status_code == 403
        assert "rate limit exceeded" in answers[60].json()["message"]
        assert int(answers[60].headers["x-ratelimit-reset"]) > clock.now()
        token = client.get(url, headers={"authorization": "Bearer sim-token"})
        assert token.status_code == 200
        assert token.headers["x-ratelimit-limit"] == "5000"
        clock.t += 3600
        assert client.get(url).status_code == 200


# --- X ---------------------------------------------------------------------------------------

X_AUTH = {"authorization": "Bearer sim-x-bearer"}


def _x_timeline(sim: SimulatorServer, **params: str) -> httpx.Response:
    return httpx.get(
        f"{sim.url}/x/2/users/{numeric_id('x:growthguru')}/tweets", params=params, headers=X_AUTH
    )


def test_x_user_tweets_newest_first_to_the_end(sim: SimulatorServer) -> None:
    user = httpx.get(f"{sim.url}/x/2/users/by/username/GrowthGuru", headers=X_AUTH).json()
    assert user["data"]["id"] == numeric_id("x:growthguru")
    tweets: list[dict[str, object]] = []
    params = {"max_results": "100", "tweet.fields": "public_metrics,created_at"}
    while True:
        body = _x_timeline(sim, **params).json()
        assert body["meta"]["result_count"] == len(body.get("data", []))
        tweets += body.get("data", [])
        if "next_token" not in body["meta"]:
            break
        params["pagination_token"] = body["meta"]["next_token"]
    log = sim.simulator.audiences.posts("x", "growthguru")
    assert log is not None
    assert len(tweets) == len(log.visible(sim.simulator.audiences.day(log)))
    ids = [int(str(t["id"])) for t in tweets]
    assert ids == sorted(ids, reverse=True)
    assert [t["created_at"] for t in tweets] == sorted(
        [str(t["created_at"]) for t in tweets], reverse=True
    )
    assert all(
        set(t["public_metrics"])
        == {
            "retweet_count",
            "reply_count",
            "like_count",
            "quote_count",
            "bookmark_count",
            "impression_count",
        }  # type: ignore[arg-type]
        for t in tweets
    )
    assert any(str(t["text"]).startswith("RT @") for t in tweets)
    assert any(str(t["text"]).startswith("@") for t in tweets)
    own = _x_timeline(sim, max_results="100", exclude="retweets,replies").json()
    assert not any(str(t["text"]).startswith(("RT @", "@")) for t in own["data"])
    assert set(own["data"][0]) == {"id", "text", "edit_history_tweet_ids"}  # the default fields
    assert _x_timeline(sim).json()["meta"]["result_count"] == 10  # the default page


def test_x_user_tweets_refusals(sim: SimulatorServer) -> None:
    url = f"{sim.url}/x/2/users/{numeric_id('x:growthguru')}/tweets"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": "Bearer wrong"}).status_code == 401
    small = _x_timeline(sim, max_results="4")
    assert small.status_code == 400
    assert small.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert _x_timeline(sim, max_results="101").status_code == 400
    unknown = httpx.get(f"{sim.url}/x/2/users/1/tweets", headers=X_AUTH)
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["detail"] == "Could not find user with id: [1]."
    missing = httpx.get(f"{sim.url}/x/2/users/by/username/nobody_here", headers=X_AUTH).json()
    assert "data" not in missing
    assert missing["errors"][0]["parameter"] == "username"
    # a tier without access: 403 client-not-enrolled on the timeline, the lookups still answer
    sim.simulator.set_faults("x", tier_forbidden=True, paths={"/tweets"})
    forbidden = _x_timeline(sim)
    assert forbidden.status_code == 403
    assert forbidden.json()["reason"] == "client-not-enrolled"
    assert forbidden.json()["title"] == "Client Forbidden"
    by = httpx.get(f"{sim.url}/x/2/users/by", params={"usernames": "growthguru"}, headers=X_AUTH)
    assert by.status_code == 200
    refused = httpx.post(f"{sim.url}/_sim/faults/bluesky", json={"tier_forbidden": True})
    assert refused.status_code == 400  # only X answers a tier without access


def test_x_user_tweets_limit_per_app(sim: SimulatorServer) -> None:
    first = _x_timeline(sim)
    assert first.headers["x-rate-limit-limit"] == "1500"  # per app, a 15-minute window
    clock = _budget(sim, "x", "user_tweets", 2, 900)
    answers = [_x_timeline(sim) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].json()["title"] == "Too Many Requests"
    assert "retry-after" not in answers[2].headers  # X sends none
    assert int(answers[2].headers["x-rate-limit-reset"]) > clock.now()
    clock.t += 900
    assert _x_timeline(sim).status_code == 200


# --- the populations -------------------------------------------------------------------------


def test_the_newest_followers_after_a_purchase_are_the_bought_ones(sim: SimulatorServer) -> None:
    """carol@hachyderm.io bought 1,000 followers on day 120 of the sample."""
    world = sim.simulator.world
    day = world.start + timedelta(days=120)
    world.set_today(day)
    log = sim.simulator.audiences.log("mastodon", "carol@hachyderm.io")
    assert log is not None
    arrived_today = int((log.arrived == 120).sum())
    url: str | None = _mastodon_url(sim, "carol@hachyderm.io", "followers") + "?limit=80"
    newest: list[dict[str, object]] = []
    while url and len(newest) < arrived_today:
        r = httpx.get(url)
        newest += r.json()
        url = _next(r)
    newest = newest[:arrived_today]
    by_name = {log.name(i): i for i in range(len(log))}
    bought = [log.purchase[by_name[str(a["username"])]] >= 0 for a in newest]
    assert sum(bought) >= 0.95 * arrived_today >= 900
    # created in a few batches shortly before: most on a handful of days
    created = [str(a["created_at"])[:10] for a in newest]
    top = sorted((created.count(d) for d in set(created)), reverse=True)[:5]
    assert sum(top) >= 0.6 * len(created)


def _purchase_world() -> World:
    spec = AccountSpec(
        "bluesky",
        "shop.bsky.social",
        3_000,
        20,
        events=(
            Event("burst_purchase", 40, 4_000, retention=0.5),
            Event("drip_purchase", 70, 1_400, days=7),
        ),
    )
    return World([spec], date(2024, 6, 1), 120, seed=3)


def test_population_agrees_with_the_count_history_and_its_purchases() -> None:
    world = _purchase_world()
    spec = world.specs[0]
    history = world.history("bluesky", "shop.bsky.social")
    assert history is not None
    log = build_log(spec, history[0], world.start, world.seed)
    assert [log.count(d) for d in range(world.days)] == history[0]
    bought = log.purchase >= 0
    arrival_days = set(log.arrived[bought].tolist())
    assert arrival_days <= {40, *range(70, 77)}  # bought followers come only on the purchase's days
    # attrition takes bought followers: half of the burst is gone 30 days after it
    burst = log.purchase == 0
    gone = burst & (log.departed <= 72)
    assert 0.4 <= gone.sum() / burst.sum() <= 0.6
    # the burst arrived in one block: its follows are adjacent in the follow order
    positions = np.flatnonzero(burst)
    assert positions[-1] - positions[0] + 1 <= 1.02 * len(positions)
    # bought accounts created shortly before (most in batches), organic ones long before
    start_ms = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
    age_days = (log.followed_ms - log.created_ms) / 86_400_000
    assert np.median(age_days[burst]) < 46
    assert np.median(age_days[~bought]) > 100
    assert age_days.min() > 0
    assert log.followed_ms[~bought].min() < start_ms  # the audience gathered before day 0


def test_population_is_calibrated_and_not_cleanly_separated() -> None:
    world = _purchase_world()
    history = world.history("bluesky", "shop.bsky.social")
    assert history is not None
    log = build_log(world.specs[0], history[0], world.start, world.seed)
    p = log.profiles
    bought = log.purchase >= 0
    organic = ~bought
    # InstaFake: 39.5% of fakes and 1.3% of reals have no picture; 57.5% and 4.2% no posts
    assert abs((~p.has_avatar[bought]).mean() - 0.395) < 0.04
    assert abs((~p.has_posts[bought]).mean() - 0.575) < 0.04
    assert abs((~p.has_avatar[organic]).mean() - 0.013) < 0.01
    assert abs((~p.has_posts[organic]).mean() - 0.042) < 0.015
    assert abs(np.median(p.following[organic]) / 420 - 1) < 0.15
    assert abs(np.median(p.following[bought]) / 1470 - 1) < 0.25
    # no clean separation: dressed bought accounts, empty or brand-new organic ones
    dressed = bought & p.has_avatar & p.has_posts
    assert 0.25 < dressed.sum() / bought.sum() < 0.5
    assert (organic & ~p.has_posts).sum() > 50
    age_days = (log.followed_ms - log.created_ms) / 86_400_000
    assert (age_days[organic] < 30).mean() > 0.03
    assert (age_days[bought] > 365).mean() > 0.1


@pytest.mark.parametrize("platform", ["mastodon", "bluesky"])
def test_engagement_comes_from_the_organic_audience(sim: SimulatorServer, platform: str) -> None:
    handle = {"mastodon": "carol@hachyderm.io", "bluesky": "newsroom.bsky.social"}[platform]
    posts = sim.simulator.audiences.posts(platform, handle)
    log = sim.simulator.audiences.log(platform, handle)
    assert posts is not None
    assert log is not None
    organic = log.organic_counts(log.days)
    own = posts.kind != 2
    rate = posts.likes[own].sum() / organic[posts.day[own]].sum()
    assert 0.003 < rate < 0.1  # about 1% of the organic audience per post
