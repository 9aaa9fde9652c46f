from __future__ import annotations

import pytest

from core.errors import HandleError
from core.platforms import PLATFORMS, canonical_handle, parse_account


@pytest.mark.parametrize(
    ("platform", "given", "canonical"),
    [
        pytest.param(
            "mastodon",
            "@Gargron@Mastodon.Social",
            "gargron@mastodon.social",
            id="mastodon-at-and-case",
        ),
        pytest.param(
            "mastodon", "user.name@fosstodon.org", "user.name@fosstodon.org", id="mastodon-dot"
        ),
        pytest.param("bluesky", "@bsky.app", "bsky.app", id="bluesky-handle"),
        pytest.param(
            "bluesky",
            "did:plc:z72i7hdynmk6r22z27h6tvur",
            "did:plc:z72i7hdynmk6r22z27h6tvur",
            id="bluesky-did",
        ),
        pytest.param("github", "Octocat", "octocat", id="github-user"),
        pytest.param("github", "duckdb/duckdb", "duckdb/duckdb", id="github-repo"),
        pytest.param("github", "owner/.github", "owner/.github", id="github-dot-repo"),
        pytest.param(
            "youtube",
            "UC_x5XG1OV2P6uZZ5FSM9Ttw",
            "UC_x5XG1OV2P6uZZ5FSM9Ttw",
            id="youtube-id-keeps-case",
        ),
        pytest.param("youtube", "@GoogleDevelopers", "@googledevelopers", id="youtube-handle"),
        pytest.param("x", "@XDevelopers", "xdevelopers", id="x"),
        pytest.param("twitch", "TwitchDev", "twitchdev", id="twitch"),
        pytest.param("reddit", "r/Python", "r/python", id="reddit-sub"),
        pytest.param("reddit", "/u/spez", "u/spez", id="reddit-user"),
        # legacy and special forms of reddit's validator (r2/lib/validator, r2/models/subreddit)
        pytest.param("reddit", "r/reddit.com", "r/reddit.com", id="reddit-legacy-dot"),
        pytest.param("reddit", "r/de", "r/de", id="reddit-language"),
        pytest.param("reddit", "r/_vim", "r/_vim", id="reddit-first-rule-underscore"),
        pytest.param("reddit", "r/t:2012", "r/t:2012", id="reddit-time-subreddit"),
        pytest.param("x", "jack", "jack", id="x-short"),
        pytest.param("x", "@AlanWakeTheSeries", "alanwaketheseries", id="x-historical-long"),
        pytest.param("youtube", "GoogleDevelopers", "GoogleDevelopers", id="youtube-legacy-user"),
        pytest.param("github", "legacy-", "legacy-", id="github-legacy-trailing-hyphen"),
        pytest.param("instagram", "brand.studio", "brand.studio", id="instagram"),
    ],
)
def test_canonical_handles(platform: str, given: str, canonical: str) -> None:
    assert canonical_handle(platform, given) == canonical


@pytest.mark.parametrize(
    ("platform", "handle"),
    [
        ("mastodon", "gargron"),  # no home server
        ("github", "../etc/passwd"),
        ("github", "a/.."),
        ("github", "-leading-dash"),
        ("x", "robert'); DROP TABLE snapshots;--"),
        ("x", "twenty_one_chars_xxxx"),  # historical handles reach 20, no further
        ("twitch", "abc"),
        ("youtube", "UC_x5XG1OV2P6uZZ5FSM9Tt"),  # 23: neither a channel id nor a username
        ("reddit", "python"),
        ("reddit", "r/../about"),  # a path
        ("reddit", "r/reddit.org"),  # only the one legacy dotted name
        ("reddit", "r/a"),
        ("x", "a\x00b"),  # NUL
        ("x", "ab\u202ecd"),  # a right-to-left override
        ("youtube", "@a\nb"),
        ("github", "a/b/c"),
        ("bluesky", "no-dot"),
        ("instagram", "<script>"),
        ("github", ""),
    ],
)
def test_malformed_handles_are_refused(platform: str, handle: str) -> None:
    with pytest.raises(HandleError, match=f"malformed {platform} handle"):
        canonical_handle(platform, handle)


def test_unknown_platform_lists_supported() -> None:
    with pytest.raises(HandleError, match="unknown platform 'myspace'; supported: bluesky"):
        canonical_handle("myspace", "tom")


def test_parse_account() -> None:
    assert parse_account("GitHub:Octocat") == ("github", "octocat")
    with pytest.raises(HandleError, match="expected PLATFORM:HANDLE"):
        parse_account("octocat")


def test_every_platform_has_an_example_that_validates() -> None:
    for spec in PLATFORMS.values():
        example = spec.example.split(" or ")[0]
        assert canonical_handle(spec.name, example)
