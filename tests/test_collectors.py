"""Collectors against httpx.MockTransport: each documented answer and error shape, per platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from collectors.rate_gate import RateGate, epoch_reset, iso_reset, seconds_left_reset
from collectors.run import collect
from core.fetched import Fetched, Outcome
from core.settings import Settings, load_settings
from tests.support.clock import FakeClock

SECRETS = {
    "AUDIENCE_YOUTUBE_API_KEY": "yt-key-sentinel-0001",
    "AUDIENCE_X_BEARER_TOKEN": "x-bearer-sentinel-0002",
    "AUDIENCE_TWITCH_CLIENT_ID": "twitch-client-0003",
    "AUDIENCE_TWITCH_TOKEN": "twitch-token-sentinel-0004",
    "AUDIENCE_REDDIT_CLIENT_ID": "reddit-id-0005",
    "AUDIENCE_REDDIT_CLIENT_SECRET": "reddit-secret-sentinel-0006",
    "AUDIENCE_INSTAGRAM_TOKEN": "ig-token-sentinel-0007",
    "AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID": "1784140",
}
FAST = {
    f"AUDIENCE_PLATFORMS__{p}__BACKOFF_S": "0.01"
    for p in ("MASTODON", "BLUESKY", "GITHUB", "YOUTUBE", "X", "TWITCH", "REDDIT", "INSTAGRAM")
}

Route = Callable[[httpx.Request], httpx.Response]


def settings(**extra: str) -> Settings:
    return load_settings(None, environ={**SECRETS, **FAST, **extra})


class Recorder:
    """A MockTransport handler that answers from a list of responses per path and records calls."""

    def __init__(self, routes: dict[str, Route | list[httpx.Response]]) -> None:
        self.routes = routes
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        for prefix, route in self.routes.items():
            if request.url.path.startswith(
                prefix
            ) or f"{request.url.host}{request.url.path}".startswith(prefix):
                if isinstance(route, list):
                    return route.pop(0) if len(route) > 1 else route[0]
                return route(request)
        return httpx.Response(599, json={"error": f"no route for {request.url.path}"})


def run(
    accounts: list[tuple[str, str]],
    recorder: Recorder,
    s: Settings | None = None,
    clock: FakeClock | None = None,
) -> dict[str, Fetched]:
    """Collect through the recorder on virtual time (`clock`, a new FakeClock unless given)."""
    results = collect(
        accounts, s or settings(), httpx.MockTransport(recorder), clock or FakeClock()
    )
    assert len(results) == len({(p, h.lower()) for p, h in accounts})
    return {r.handle: r for r in results}


def j(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# --- Mastodon ---------------------------------------------------------------------------------

GARGRON = {
    "id": "1",
    "username": "Gargron",
    "acct": "Gargron",
    "display_name": "Eugen",
    "locked": False,
    "bot": False,
    "created_at": "2016-03-16T00:00:00.000Z",
    "followers_count": 318699,
    "following_count": 453,
    "statuses_count": 61013,
    "last_status_at": "2019-11-30",
    "emojis": [],
    "fields": [],
}


def test_mastodon_asks_the_home_server() -> None:
    rec = Recorder({"mastodon.social/api/v1/accounts/lookup": [j(200, GARGRON)]})
    got = run([("mastodon", "Gargron@mastodon.social")], rec)["gargron@mastodon.social"]
    assert (got.outcome, got.followers, got.following, got.posts, got.platform_id) == (
        Outcome.OK,
        318699,
        453,
        61013,
        "1",
    )
    assert str(rec.calls[0].url) == "https://mastodon.social/api/v1/accounts/lookup?acct=gargron"


@pytest.mark.parametrize(
    ("body", "outcome", "reason"),
    [
        (
            GARGRON
            | {"followers_count": 0, "following_count": 0, "statuses_count": 0, "suspended": True},
            Outcome.SUSPENDED,
            "suspended",
        ),
        (
            GARGRON | {"moved": {"id": "2", "acct": "eugen@other.social"}},
            Outcome.MOVED,
            "moved to eugen@other.social",
        ),
        (
            GARGRON | {"followers_count": -1},
            Outcome.MALFORMED,
            "followers_count is missing or not a non-negative",
        ),
    ],
    ids=["suspended-is-no-data", "moved", "hidden-count-fork"],
)
def test_mastodon_special_accounts(body: dict[str, Any], outcome: Outcome, reason: str) -> None:
    got = run([("mastodon", "gargron@mastodon.social")], Recorder({"/api": [j(200, body)]}))[
        "gargron@mastodon.social"
    ]
    assert got.outcome is outcome
    assert reason in got.reason
    assert got.followers is None


@pytest.mark.parametrize(
    ("status", "body", "outcome", "calls"),
    [
        (404, {"error": "Record not found"}, Outcome.NOT_FOUND, 1),
        (401, {"error": "This API requires an authenticated user"}, Outcome.AUTH_FAILED, 1),
        (503, {"error": "Remote data could not be fetched"}, Outcome.UNAVAILABLE, 3),
        (500, {"error": "boom"}, Outcome.UNAVAILABLE, 3),
    ],
)
def test_mastodon_errors_and_what_is_retried(
    status: int, body: dict[str, str], outcome: Outcome, calls: int
) -> None:
    rec = Recorder({"/api": [j(status, body)]})
    got = run(
        [("mastodon", "a@b.social")], rec, settings(AUDIENCE_PLATFORMS__MASTODON__MAX_RETRIES="2")
    )["a@b.social"]
    assert got.outcome is outcome
    assert len(rec.calls) == calls
    assert got.attempts == calls


def test_transient_faults_are_retried_until_an_answer() -> None:
    rec = Recorder({"/api": [j(503, {"error": "x"}), j(502, {}), j(200, GARGRON)]})
    got = run([("mastodon", "gargron@mastodon.social")], rec)["gargron@mastodon.social"]
    assert (got.outcome, got.attempts, len(rec.calls)) == (Outcome.OK, 3, 3)


def test_mastodon_429_waits_for_the_iso_reset() -> None:
    clock = FakeClock()
    reset = datetime.fromtimestamp(clock.now() + 0.4, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rec = Recorder(
        {
            "/api": [
                j(
                    429,
                    {"error": "Too many requests"},
                    **{
                        "X-RateLimit-Limit": "300",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset,
                    },
                ),
                j(200, GARGRON),
            ]
        }
    )
    got = run([("mastodon", "gargron@mastodon.social")], rec, clock=clock)
    assert got["gargron@mastodon.social"].outcome is Outcome.OK
    assert clock.elapsed >= 0.4  # it waited for the reset, in virtual time
    assert clock.waits == [pytest.approx(0.41, abs=0.001)]  # once: the reset, plus 10 ms


# --- Bluesky ----------------------------------------------------------------------------------


def profile(handle: str, followers: int) -> dict[str, Any]:
    return {
        "did": f"did:plc:{'a' * 20}{len(handle):04d}",
        "handle": handle,
        "displayName": handle,
        "followersCount": followers,
        "followsCount": 10,
        "postsCount": 700,
        "labels": [],
    }


def test_bluesky_batches_and_explains_what_is_missing() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("getProfiles"):
            actors = request.url.params.get_list("actors")
            return j(200, {"profiles": [profile(a, 5) for a in actors if a.startswith("ok")]})
        actor = request.url.params["actor"]
        if actor == "gone.bsky.social":
            return j(400, {"error": "AccountTakedown", "message": "Account has been suspended"})
        if actor == "off.bsky.social":
            return j(400, {"error": "AccountDeactivated", "message": "Account is deactivated"})
        return j(400, {"error": "InvalidRequest", "message": "Profile not found"})

    handles = [f"ok{i}.bsky.social" for i in range(30)] + [
        "gone.bsky.social",
        "off.bsky.social",
        "nope.bsky.social",
    ]
    rec = Recorder({"/xrpc": answer})
    got = run([("bluesky", h) for h in handles], rec)
    batches = [c for c in rec.calls if c.url.path.endswith("getProfiles")]
    assert [len(c.url.params.get_list("actors")) for c in batches] == [25, 8]
    assert all(got[f"ok{i}.bsky.social"].outcome is Outcome.OK for i in range(30))
    assert (
        got["gone.bsky.social"].outcome,
        got["off.bsky.social"].outcome,
        got["nope.bsky.social"].outcome,
    ) == (Outcome.SUSPENDED, Outcome.NOT_FOUND, Outcome.NOT_FOUND)
    assert "deactivated" in got["off.bsky.social"].reason
    assert len(rec.calls) == 2 + 3  # the batches, then one look at each missing actor


def test_bluesky_matches_by_did_when_the_handle_does_not_verify() -> None:
    p = profile("x", 42) | {"handle": "handle.invalid", "did": "did:plc:abcdefghijklmnopqrstuvwx"}
    got = run(
        [("bluesky", "did:plc:abcdefghijklmnopqrstuvwx")],
        Recorder({"/xrpc": [j(200, {"profiles": [p]})]}),
    )
    assert got["did:plc:abcdefghijklmnopqrstuvwx"].followers == 42


def test_bluesky_honours_retry_after() -> None:
    rec = Recorder(
        {
            "/xrpc": [
                j(
                    429,
                    {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                    **{"Retry-After": "1", "ratelimit-remaining": "0"},
                ),
                j(200, {"profiles": [profile("a.bsky.social", 3)]}),
            ]
        }
    )
    clock = FakeClock()
    assert (
        run([("bluesky", "a.bsky.social")], rec, clock=clock)["a.bsky.social"].outcome is Outcome.OK
    )
    assert clock.elapsed >= 1.0  # Retry-After: 1, in virtual time
    assert clock.waits == [pytest.approx(1.01, abs=0.001)]  # once, for the second asked


# --- GitHub -----------------------------------------------------------------------------------


def test_github_users_and_repositories() -> None:
    rec = Recorder(
        {
            "/users/octocat": [
                j(
                    200,
                    {
                        "login": "octocat",
                        "id": 1,
                        "name": "The Octocat",
                        "followers": 5901,
                        "following": 9,
                        "public_repos": 8,
                    },
                )
            ],
            "/repos/duckdb/duckdb": [
                j(200, {"id": 9, "full_name": "duckdb/duckdb", "stargazers_count": 31000})
            ],
        }
    )
    got = run([("github", "Octocat"), ("github", "duckdb/duckdb")], rec)
    assert (got["octocat"].followers, got["octocat"].following, got["duckdb/duckdb"].followers) == (
        5901,
        9,
        31000,
    )
    assert all(c.headers["user-agent"].startswith("audience-growth-tracker/") for c in rec.calls)
    assert all(c.headers["x-github-api-version"] == "2022-11-28" for c in rec.calls)


def test_github_rate_limit_beyond_the_allowed_wait_is_recorded_not_waited() -> None:
    clock = FakeClock()
    far = str(int(clock.now()) + 3600)
    rec = Recorder(
        {
            "/users": [
                j(
                    403,
                    {"message": "API rate limit exceeded for 203.0.113.7."},
                    **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": far},
                )
            ]
        }
    )
    got = run(
        [("github", "octocat")], rec, settings(AUDIENCE_PLATFORMS__GITHUB__MAX_WAIT_S="5"), clock
    )["octocat"]
    assert got.outcome is Outcome.RATE_LIMITED
    assert "resets in" in got.reason
    assert clock.elapsed < 3  # not waited for, in virtual time
    assert clock.waits == []


def test_github_404_is_not_found() -> None:
    body = {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }
    assert (
        run([("github", "ghost")], Recorder({"/users": [j(404, body)]}))["ghost"].outcome
        is Outcome.NOT_FOUND
    )


# --- YouTube ----------------------------------------------------------------------------------

UC1, UC2 = "UC_x5XG1OV2P6uZZ5FSM9Ttw", "UCaaaaaaaaaaaaaaaaaaaaaa"


def channel(cid: str, subs: str | None, hidden: bool = False) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "viewCount": "259862049",
        "hiddenSubscriberCount": hidden,
        "videoCount": "6585",
    }
    if subs is not None:
        stats["subscriberCount"] = subs
    return {
        "kind": "youtube#channel",
        "id": cid,
        "snippet": {"title": "Google for Developers"},
        "statistics": stats,
    }


def test_youtube_batches_ids_reads_string_counts_and_notes_rounding() -> None:
    rec = Recorder(
        {
            "/youtube/v3/channels": [
                j(200, {"kind": "youtube#channelListResponse", "items": [channel(UC1, "2460000")]})
            ]
        }
    )
    got = run([("youtube", UC1), ("youtube", UC2)], rec)
    assert (got[UC1].followers, got[UC1].posts, got[UC1].views, got[UC1].rounding) == (
        2460000,
        6585,
        259862049,
        "3 significant figures",
    )
    assert got[UC2].outcome is Outcome.NOT_FOUND
    assert len(rec.calls) == 1
    assert rec.calls[0].url.params["id"] == f"{UC1},{UC2}"
    assert rec.calls[0].url.params["part"] == "snippet,statistics"


@pytest.mark.parametrize("subs", [None, "0"], ids=["omitted", "present"])
def test_youtube_hidden_counts_are_not_data(subs: str | None) -> None:
    got = run(
        [("youtube", UC1)],
        Recorder({"/youtube": [j(200, {"items": [channel(UC1, subs, hidden=True)]})]}),
    )[UC1]
    assert (got.outcome, got.followers) == (Outcome.UNAVAILABLE, None)


def test_youtube_no_items_key_is_not_found() -> None:
    body = {
        "kind": "youtube#channelListResponse",
        "pageInfo": {"totalResults": 0, "resultsPerPage": 5},
    }
    assert (
        run([("youtube", "@nobody")], Recorder({"/youtube": [j(200, body)]}))["@nobody"].outcome
        is Outcome.NOT_FOUND
    )


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (
            403,
            {
                "code": 403,
                "message": "quota",
                "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}],
            },
            Outcome.RATE_LIMITED,
        ),
        (
            400,
            {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "errors": [{"domain": "global", "reason": "badRequest"}],
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                    }
                ],
            },
            Outcome.AUTH_FAILED,
        ),
        (
            400,
            {
                "code": 400,
                "message": "Bad Request",
                "errors": [{"domain": "usageLimits", "reason": "keyInvalid"}],
            },
            Outcome.AUTH_FAILED,
        ),
    ],
    ids=["quota", "key-invalid-modern", "key-invalid-legacy"],
)
def test_youtube_errors(status: int, error: dict[str, Any], outcome: Outcome) -> None:
    got = run(
        [("youtube", UC1)],
        Recorder({"/youtube": [j(status, {"error": error})]}),
        settings(AUDIENCE_PLATFORMS__YOUTUBE__MAX_WAIT_S="1"),
    )[UC1]
    assert got.outcome is outcome
    assert SECRETS["AUDIENCE_YOUTUBE_API_KEY"] not in got.reason


# --- X ----------------------------------------------------------------------------------------


def test_x_reads_hits_and_misses_from_one_200() -> None:
    body = {
        "data": [
            {
                "id": "2244994945",
                "name": "X Developers",
                "username": "XDevelopers",
                "public_metrics": {
                    "followers_count": 583423,
                    "following_count": 2048,
                    "tweet_count": 14052,
                    "listed_count": 1672,
                },
            }
        ],
        "errors": [
            {
                "value": "ghost",
                "detail": "Could not find user with username: [ghost].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": "ghost",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            },
            {
                "parameter": "username",
                "resource_id": "banned",
                "value": "banned",
                "detail": "User has been suspended: [banned].",
                "title": "Forbidden",
                "resource_type": "user",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            },
        ],
    }
    rec = Recorder({"/2/users/by": [j(200, body)]})
    got = run([("x", "xdevelopers"), ("x", "ghost"), ("x", "banned")], rec)
    assert (got["xdevelopers"].followers, got["ghost"].outcome, got["banned"].outcome) == (
        583423,
        Outcome.NOT_FOUND,
        Outcome.SUSPENDED,
    )
    assert rec.calls[0].headers["authorization"] == f"Bearer {SECRETS['AUDIENCE_X_BEARER_TOKEN']}"
    assert "public_metrics" in rec.calls[0].url.params["user.fields"]


def test_x_unauthorised_is_final() -> None:
    rec = Recorder(
        {
            "/2": [
                j(
                    401,
                    {
                        "title": "Unauthorized",
                        "type": "about:blank",
                        "status": 401,
                        "detail": "Unauthorized",
                    },
                )
            ]
        }
    )
    assert run([("x", "a")], rec)["a"].outcome is Outcome.AUTH_FAILED
    assert len(rec.calls) == 1


# --- Twitch, Reddit, Instagram ----------------------------------------------------------------


def test_twitch_users_then_follower_totals() -> None:
    rec = Recorder(
        {
            "/helix/users": [
                j(
                    200,
                    {
                        "data": [
                            {
                                "id": "141981764",
                                "login": "twitchdev",
                                "display_name": "TwitchDev",
                                "type": "",
                                "broadcaster_type": "partner",
                            }
                        ]
                    },
                )
            ],
            "/helix/channels/followers": [j(200, {"total": 4127, "data": [], "pagination": {}})],
        }
    )
    got = run([("twitch", "TwitchDev"), ("twitch", "nobody_here")], rec)
    assert (got["twitchdev"].followers, got["nobody_here"].outcome) == (4127, Outcome.NOT_FOUND)
    assert rec.calls[0].headers["client-id"] == SECRETS["AUDIENCE_TWITCH_CLIENT_ID"]


def test_reddit_app_only_oauth_then_about() -> None:
    rec = Recorder(
        {
            "www.reddit.com/api/v1/access_token": [
                j(200, {"access_token": "tok", "token_type": "bearer", "expires_in": 86400})
            ],
            "/r/python/about": [
                j(200, {"kind": "t5", "data": {"display_name": "Python", "subscribers": 1300000}})
            ],
            "/user/spez/about": [
                j(
                    200,
                    {"kind": "t2", "data": {"name": "spez", "subreddit": {"subscribers": 123456}}},
                )
            ],
            "/user/susp/about": [
                j(200, {"kind": "t2", "data": {"is_suspended": True, "name": "susp"}})
            ],
            "/r/secret/about": [
                j(403, {"reason": "private", "message": "Forbidden", "error": 403})
            ],
            "/r/gone/about": [j(404, {"message": "Not Found", "error": 404})],
        }
    )
    got = run([("reddit", h) for h in ("r/python", "u/spez", "u/susp", "r/secret", "r/gone")], rec)
    assert (got["r/python"].followers, got["u/spez"].followers) == (1300000, 123456)
    assert (got["u/susp"].outcome, got["r/secret"].outcome, got["r/gone"].outcome) == (
        Outcome.SUSPENDED,
        Outcome.UNAVAILABLE,
        Outcome.NOT_FOUND,
    )
    token_calls = [c for c in rec.calls if c.url.path.endswith("access_token")]
    assert len(token_calls) == 1
    assert token_calls[0].content == b"grant_type=client_credentials"
    assert all(
        c.headers["authorization"] == "bearer tok" for c in rec.calls if "/about" in c.url.path
    )


def test_reddit_html_block_page_is_an_auth_failure() -> None:
    rec = Recorder(
        {
            "www.reddit.com/api/v1/access_token": [j(200, {"access_token": "tok"})],
            "/r/": [
                httpx.Response(
                    403,
                    text="<html>You've been blocked by network security.</html>",
                    headers={"content-type": "text/html"},
                )
            ],
        }
    )
    got = run([("reddit", "r/python")], rec)["r/python"]
    assert (got.outcome, "blocked" in got.reason) == (Outcome.AUTH_FAILED, True)


def test_instagram_business_discovery() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if "(personal)" in request.url.params["fields"]:
            return j(
                400,
                {"error": {"message": "Invalid user id", "type": "OAuthException", "code": 110}},
            )
        return j(
            200,
            {
                "business_discovery": {
                    "followers_count": 267793,
                    "media_count": 1205,
                    "id": "1784",
                },
                "id": "1784140",
            },
        )

    rec = Recorder({"/v25.0/1784140": answer})
    got = run([("instagram", "brand"), ("instagram", "personal")], rec)
    assert (got["brand"].followers, got["personal"].outcome) == (267793, Outcome.NOT_FOUND)


# --- common rules -----------------------------------------------------------------------------


def test_missing_credentials_make_no_request() -> None:
    rec = Recorder({})
    results = collect(
        [("x", "a"), ("youtube", UC1)], load_settings(None, environ={}), httpx.MockTransport(rec)
    )
    assert {r.outcome for r in results} == {Outcome.AUTH_FAILED}
    assert "AUDIENCE_X_BEARER_TOKEN" in next(r.reason for r in results if r.platform == "x")
    assert rec.calls == []


def test_malformed_handles_make_no_request() -> None:
    rec = Recorder({})
    results = collect(
        [("github", "../../etc/passwd"), ("x", "a'; DROP TABLE--")],
        settings(),
        httpx.MockTransport(rec),
    )
    assert {r.outcome for r in results} == {Outcome.INVALID_HANDLE}
    assert rec.calls == []


def test_connection_failures_and_bad_bodies_are_recorded_without_secrets() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")  # the URL carries the API key

    got = run(
        [("youtube", UC1)],
        Recorder({"/youtube": explode}),
        settings(AUDIENCE_PLATFORMS__YOUTUBE__MAX_RETRIES="1"),
    )[UC1]
    assert got.outcome is Outcome.UNAVAILABLE
    assert SECRETS["AUDIENCE_YOUTUBE_API_KEY"] not in got.reason
    bad = run(
        [("github", "octocat")],
        Recorder({"/users": [httpx.Response(200, text="<html>oops")]}),
        settings(AUDIENCE_PLATFORMS__GITHUB__MAX_RETRIES="1"),
    )["octocat"]
    assert (bad.outcome, bad.attempts) == (Outcome.MALFORMED, 2)


def test_a_collector_bug_costs_its_accounts_not_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from collectors.github import GitHubCollector

    async def broken(self: GitHubCollector, handles: list[str]) -> list[Fetched]:
        raise RuntimeError(f"bug while using {SECRETS['AUDIENCE_YOUTUBE_API_KEY']}")

    monkeypatch.setattr(GitHubCollector, "fetch", broken)
    rec = Recorder({"mastodon.social": [j(200, GARGRON)]})
    got = run([("github", "octocat"), ("mastodon", "gargron@mastodon.social")], rec)
    assert got["octocat"].outcome is Outcome.UNAVAILABLE
    assert "[redacted]" in got["octocat"].reason
    assert got["gargron@mastodon.social"].outcome is Outcome.OK


@pytest.mark.parametrize(
    ("parser", "headers", "remaining", "reset"),
    [
        (
            iso_reset("x-ratelimit"),
            {"x-ratelimit-remaining": "299", "x-ratelimit-reset": "2026-07-02T12:05:00.000000Z"},
            299,
            datetime(2026, 7, 2, 12, 5, tzinfo=UTC).timestamp(),
        ),
        (
            epoch_reset("x-ratelimit"),
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1767225600"},
            0,
            1767225600.0,
        ),
        (
            seconds_left_reset("x-ratelimit"),
            {"X-Ratelimit-Remaining": "99.0", "X-Ratelimit-Reset": "42"},
            99,
            1042.0,
        ),
        (epoch_reset("ratelimit"), {"RateLimit-Remaining": "x", "RateLimit-Reset": ""}, None, None),
    ],
    ids=["mastodon-iso", "github-epoch", "reddit-seconds-left", "garbage"],
)
def test_rate_limit_header_parsers(
    parser: Any, headers: dict[str, str], remaining: int | None, reset: float | None
) -> None:
    state = parser(httpx.Headers(headers), 1000.0)
    assert (state.remaining, state.reset_at) == (remaining, reset)


def test_payload_is_kept_as_the_platform_sent_it() -> None:
    got = run([("mastodon", "gargron@mastodon.social")], Recorder({"/api": [j(200, GARGRON)]}))
    assert json.loads(json.dumps(got["gargron@mastodon.social"].payload)) == GARGRON


def test_rate_limits_do_not_spend_the_retry_budget() -> None:
    """Six 429s in a row with max_retries=1: the platform asked us to wait, so we wait."""
    limited = j(
        429,
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        **{"Retry-After": "0"},
    )
    rec = Recorder({"/xrpc": [limited] * 6 + [j(200, {"profiles": [profile("a.bsky.social", 3)]})]})
    got = run(
        [("bluesky", "a.bsky.social")], rec, settings(AUDIENCE_PLATFORMS__BLUESKY__MAX_RETRIES="1")
    )
    assert (got["a.bsky.social"].outcome, got["a.bsky.social"].attempts) == (Outcome.OK, 7)


def test_a_daily_quota_is_not_waited_for() -> None:
    quota = {
        "code": 403,
        "message": "quota",
        "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}],
    }
    rec = Recorder({"/youtube": [j(403, {"error": quota})]})
    clock = FakeClock()
    got = run([("youtube", UC1), ("youtube", "@two")], rec, clock=clock)
    assert {r.outcome for r in got.values()} == {Outcome.RATE_LIMITED}
    assert clock.elapsed < 2  # a day's wait is not waited, in virtual time


class _CountingClock:
    """The wall clock, counting the waits the gate asks for."""

    def __init__(self) -> None:
        self.sleeps = 0

    def now(self) -> float:
        return 1_000.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await asyncio.sleep(seconds)


def test_requests_held_behind_a_probe_wait_without_polling_and_all_go_when_it_lands() -> None:
    """While the first request probes a platform's window, the others wait for it to land, not
    poll: 200 of them used to look again every 5 ms, and on a night of 10,000 accounts the
    CPU that took slowed the answers they waited for (226 s for one collection, 13 s now)."""
    asyncio.run(_held_behind_a_probe())


async def _held_behind_a_probe() -> None:
    clock = _CountingClock()
    gate = RateGate(epoch_reset("x-ratelimit"), 60, clock)
    await gate.acquire()  # the probe: nothing is known of the window yet
    held = [asyncio.ensure_future(gate.acquire()) for _ in range(200)]
    await asyncio.sleep(0.3)  # the probe's round trip
    assert not any(task.done() for task in held)  # one at a time while nothing is known
    # one wait each (a look again after 0.5 s at most, on a slow machine), not one per 5 ms
    assert clock.sleeps <= 2 * len(held)
    gate.release(
        httpx.Headers(
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "4999",
                "x-ratelimit-reset": "4600",
            }
        )
    )
    await asyncio.wait_for(asyncio.gather(*held), timeout=30)  # all let through at once


def test_a_probe_that_fails_without_headers_lets_the_next_one_probe() -> None:
    """A probe that lands with no answer (a reset connection) frees its slot: a waiter goes
    at once, it does not sleep out its recheck."""
    asyncio.run(_probe_fails())


async def _probe_fails() -> None:
    clock = _CountingClock()
    gate = RateGate(epoch_reset("x-ratelimit"), 60, clock)
    await gate.acquire()
    second = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not second.done()
    gate.release(None)
    await asyncio.wait_for(second, timeout=30)
    assert clock.sleeps == 1  # the one wait, cut short by the release


def test_refusals_with_no_reset_said_are_probed_one_request_a_second() -> None:
    """A platform that refuses without saying when to come back (YouTube's
    rateLimitExceeded, the Graph API's codes 4 and 17: no headers) is asked again by one
    request a second while it keeps refusing, not by every waiting request each second; the
    refusals of the requests in flight when it closed do not move its end; an answer opens
    it to all again."""
    asyncio.run(_refused_without_reset())


class _ManualClock:
    """Time moves only when the test moves it; a wait is a turn of the event loop."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


async def _turns() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def _refused_without_reset() -> None:
    from collectors.rate_gate import no_headers

    clock = _ManualClock()
    gate = RateGate(no_headers, 900, clock)
    answer = httpx.Headers({"content-type": "application/json"})  # no rate-limit headers
    for _ in range(3):  # no headers: nothing holds requests back
        await gate.acquire()
    for _ in range(3):  # all three in flight refused: one refusal, of one closed window
        gate.release(answer)
        gate.spent(None)
    waiting = [asyncio.ensure_future(gate.acquire()) for _ in range(5)]
    for _ in range(4):
        clock.t += 1.0 - 0.01
        await _turns()
        assert not any(w.done() for w in waiting)  # not yet
        clock.t += 0.02
        await _turns()
        probes = [w for w in waiting if w.done()]
        assert len(probes) == 1  # one request asks, the others still wait
        waiting.remove(probes[0])
        gate.release(answer)  # refused again
        gate.spent(None)
    clock.t += 1.01
    await _turns()
    [probe] = [w for w in waiting if w.done()]
    waiting.remove(probe)
    gate.release(answer)  # answered this time
    await _turns()
    assert all(w.done() for w in waiting)  # open to all again, with no wait
