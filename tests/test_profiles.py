"""The single-profile judgement on fixtures written from the documented heuristics
(docs/audience-apis.md §1.2 examples, §4.2 Dagster's rule, §4.4 blocks of new accounts)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from transforms.profiles import (
    Profile,
    ProfileRules,
    compare,
    fisher_greater,
    judge_profile,
    judge_sample,
    two_proportion_z,
    wilson_interval,
)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# the docs' Mastodon followers page (§1.2): a follower with the default avatar, no bio, no
# posts, following 1,875 and followed by none, created two days before the page was taken
SPAM_FOLLOWER = Profile(
    "mk44219@spam.example",
    created_at=at("2026-08-17"),
    arrival_day=date(2026, 8, 19),
    has_avatar=False,
    posts=0,
    followers=0,
    following=1875,
)
ALICE = Profile(
    "alice",
    created_at=at("2022-11-16"),
    arrival_day=date(2026, 8, 19),
    has_avatar=True,
    posts=5120,
    followers=412,
    following=389,
)


def test_the_documented_spam_follower_looks_inauthentic_with_every_reason() -> None:
    judged = judge_profile(SPAM_FOLLOWER)
    assert judged.looks_inauthentic
    assert judged.signals == ("new_account", "no_avatar", "no_posts", "follows_far_more")
    assert "created 3 days before it followed" in judged.reasons[0]  # by the end of its day
    assert "follows 1,875 accounts and is followed by 0" in judged.reasons
    assert judged.unchecked == ("created_in_cluster", "lockstep_arrival")


def test_the_documented_ordinary_follower_does_not() -> None:
    judged = judge_profile(ALICE)
    assert not judged.looks_inauthentic
    assert judged.signals == ()


def test_dagsters_obvious_fake_stargazer() -> None:
    """§4.2: followers < 2, following < 2, no repositories, starred on its creation day; GitHub
    shows no avatar state, so that signal stays unchecked and is not counted."""
    star = at("2023-03-01") + timedelta(hours=5)
    judged = judge_profile(
        Profile(
            "qz-dev-4471",
            created_at=at("2023-03-01"),
            followed_at=star,
            posts=0,
            followers=0,
            following=1,
        )
    )
    assert judged.looks_inauthentic
    assert judged.signals == ("new_account", "no_posts")
    assert "no_avatar" in judged.unchecked


def test_one_signal_alone_is_not_enough() -> None:
    """Cresci et al.: a single media rule is weak. A newcomer with a picture and posts."""
    newcomer = Profile(
        "new-but-real",
        created_at=at("2024-11-10"),
        arrival_day=date(2024, 11, 12),
        has_avatar=True,
        posts=14,
        followers=20,
        following=150,
    )
    assert judge_profile(newcomer).signals == ("new_account",)
    assert not judge_profile(newcomer).looks_inauthentic
    assert judge_profile(newcomer, ProfileRules(min_signals=1)).looks_inauthentic


def test_a_ratio_over_tiny_counts_is_no_signal() -> None:
    small = Profile("p", has_avatar=True, posts=3, followers=0, following=12)
    assert "follows_far_more" not in judge_profile(small).signals


def _block_sample(adjacent: bool) -> list[Profile]:
    """§4.4: 20 accounts created the same day at adjacent positions, among 10 ordinary ones."""
    profiles = []
    for i in range(20):
        profiles.append(
            Profile(
                f"bought{i}",
                created_at=at("2026-08-17") + timedelta(minutes=7 * i),
                arrival_day=date(2026, 8, 19),
                position=i if adjacent else 2 * i,
                has_avatar=i % 3 != 0,
                posts=0 if i % 2 else 1,
                followers=i % 4,
                following=300 + i,
            )
        )
    for i in range(10):
        profiles.append(
            Profile(
                f"organic{i}",
                created_at=at("2019-01-01") + timedelta(days=97 * i),
                arrival_day=date(2026, 8, 19),
                position=100 + i,
                has_avatar=True,
                posts=40 + i,
                followers=200,
                following=250,
            )
        )
    return profiles


def test_a_block_of_new_accounts_at_adjacent_positions() -> None:
    sample = judge_sample(_block_sample(adjacent=True))
    by_id = {j.id: j for j in sample.judgements}
    assert all(
        {"created_in_cluster", "lockstep_arrival", "new_account"}
        <= set(by_id[f"bought{i}"].signals)
        for i in range(20)
    )
    assert all(not by_id[f"organic{i}"].signals for i in range(10))
    assert (sample.flagged, sample.size) == (20, 30)
    assert sample.signal_counts["lockstep_arrival"] == 20
    assert sample.low < 20 / 30 < sample.high


def test_clustered_but_not_adjacent_is_no_lockstep() -> None:
    sample = judge_sample(_block_sample(adjacent=False))
    assert sample.signal_counts["lockstep_arrival"] == 0
    assert sample.signal_counts["created_in_cluster"] == 20


def test_lockstep_by_follow_times_needs_a_short_span() -> None:
    base = at("2026-08-19")
    quick = [
        Profile(
            f"q{i}",
            created_at=base - timedelta(days=3),
            followed_at=base + timedelta(seconds=40 * i),
        )
        for i in range(6)
    ]
    slow = [
        Profile(
            f"s{i}", created_at=base - timedelta(days=3), followed_at=base + timedelta(hours=5 * i)
        )
        for i in range(6)
    ]
    assert judge_sample(quick).signal_counts["lockstep_arrival"] == 6
    assert judge_sample(slow).signal_counts["lockstep_arrival"] == 0


def test_a_sample_must_not_hold_a_follower_twice() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        judge_sample([ALICE, ALICE])


def test_wilson_interval_known_values() -> None:
    # the example: 91 of 100 -> 84-95%
    low, high = wilson_interval(91, 100)
    assert (round(low, 3), round(high, 3)) == (0.838, 0.952)
    low, high = wilson_interval(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="not within"):
        wilson_interval(5, 4)


def test_two_proportion_and_fisher_known_values() -> None:
    z, p = two_proportion_z(45, 100, 30, 100)
    assert (round(z, 3), round(p, 4)) == (2.191, 0.0142)
    assert fisher_greater(3, 4, 1, 4) == pytest.approx(17 / 70)  # the lady tasting tea
    assert two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)


def test_a_jump_sample_compared_with_its_baseline() -> None:
    jump = judge_sample(_block_sample(adjacent=True))
    ordinary = judge_sample([*_block_sample(adjacent=True)[20:], ALICE])
    result = compare(jump, ordinary)
    assert result.baseline_share == 0.0
    assert result.difference == pytest.approx(20 / 30)
    assert result.p_value < 0.001
    assert result.fisher_p_value < 0.001
    same = compare(ordinary, ordinary)
    assert same.p_value == 1.0
