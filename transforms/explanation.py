"""The explanation of an anomaly: the sentence a person reads to check it (pure, no I/O).

The numbers, the baseline, the comparison with the rule's thresholds, the posting around it,
and what it is attributed to with the verdict's reasons; the phrase every text uses for a
platform event, and the thresholds an anomaly records (with a platform event's counts) so a
person can check it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from core.detection import DetectionSettings
from core.errors import plural
from transforms.excess_profile import PROFILE, PROFILE_FROM
from transforms.signals import REVERT_DAYS, REVERT_SHARE
from transforms.verdicts import verdict_words


def _n(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


def _strong(applies: bool, rel: float | None, limit: float, strong: float, z: float) -> str:
    """The big-account floor, named where the growth crossed it rather than the usual share."""
    if not applies or rel is None or rel >= limit:
        return ""
    return f"; {strong:.1%} far out of the noise, at {z:g} robust sigmas"


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"


def event_phrase(moved: int, accounts: int, platform: str, up: bool, day: date) -> str:
    """How every text words a platform event: `3 of 4 tracked mastodon accounts fell unusually on
    2026-10-29` (the counts by transforms.signals.moved_unusually, the rule the event uses)."""
    tracked = plural(accounts, f"tracked {platform} account")
    return f"{moved:,} of {tracked} {'rose' if up else 'fell'} unusually on {day}"


def platform_event_text(row: dict[str, Any]) -> str:
    """The event phrase of a stored platform-event anomaly (its kind, platform, day and the
    counts its thresholds record), as its explanation words it."""
    counts = json.loads(row["thresholds"] or "{}")
    up = row["kind"] != "drop"
    if "event_moved" not in counts:  # stored by a version that did not record the counts
        return (
            f"tracked {row['platform']} accounts {'rose' if up else 'fell'} unusually on "
            f"{row['day']} (`audience run --skip-collect --full` counts them)"
        )
    return event_phrase(
        int(counts["event_moved"]), int(counts["event_accounts"]), row["platform"], up, row["day"]
    )


def thresholds(row: dict[str, Any], t: DetectionSettings) -> str:
    """The thresholds the anomaly's rule and its attribution used; a platform event's also the
    counts it was decided on (`event_moved` of `event_accounts`)."""
    kind = row["kind"]
    names = {
        "spike": ("spike_z", "spike_min_relative", "spike_min_absolute", "rounding_steps"),
        "drop": ("drop_z", "drop_min_relative", "drop_min_absolute", "rounding_steps"),
        "drip": (
            "drip_window_days",
            "drip_z",
            "drip_min_relative",
            "drip_min_absolute",
            "drip_max_day_share",
            "rounding_steps",
        ),
        "following_churn": (
            "churn_window_days",
            "churn_min_gross",
            "churn_min_ratio",
            "churn_min_relative",
        ),
    }[kind]
    if kind != "following_churn":
        names += ("platform_event_z", "platform_event_min_accounts", "platform_event_share")
    values: dict[str, float] = {n: getattr(t, n) for n in names}
    values["baseline_days"] = t.baseline_days
    if row["attribution"] == "platform_event":
        values["event_moved"] = row["moved_down" if kind == "drop" else "moved_up"]
        values["event_accounts"] = row["accounts"]
    return json.dumps(values, sort_keys=True)


def _retention(row: dict[str, Any], what: str, when: str) -> str:
    """What remained of a jump (or of what a drip's window carried) 7 and 30 days after it."""
    if row["retention_30"] is not None:
        return (
            f" {_pct(row['retention_7'])} of {what} remained {when} and "
            f"{_pct(row['retention_30'])} after 30."
        )
    if row["retention_7"] is not None:
        return f" {_pct(row['retention_7'])} of {what} remained {when}."
    return " Too recent to measure how much of it stays."


def explain(row: dict[str, Any], t: DetectionSettings) -> str:
    """The evidence sentence: the numbers, the baseline, the comparison, the verdict's reason."""
    kind = row["kind"]
    if kind in ("spike", "drop"):
        text = _jump_text(row, t)
    elif kind == "drip":
        text = _drip_text(row, t)
    else:
        text = _churn_text(row, t)
    if row["posts_recent"] is not None and kind in ("spike", "drip"):
        text += _posting_text(row)
    return text + _attribution_text(row)


def _who(row: dict[str, Any]) -> str:
    return f"{row['platform']}:{row['handle']}"


def _baseline_text(row: dict[str, Any], t: DetectionSettings) -> str:
    if row["baseline_median"] is None:
        return "it has too little history for a baseline yet"
    return (
        f"its usual daily change over the previous {t.baseline_days} days is "
        f"{row['baseline_median']:+,.0f} (robust spread {row['baseline_sigma']:,.0f})"
    )


def _jump_text(row: dict[str, Any], t: DetectionSettings) -> str:
    """A spike's or a drop's numbers against its rule's thresholds (and a spike's retention)."""
    kind = row["kind"]
    before = row["followers_prev"] or 0.0
    verb = "gained" if kind == "spike" else "lost"
    z_limit, rel_limit, abs_limit = (
        (t.spike_z, t.spike_min_relative, t.spike_min_absolute)
        if kind == "spike"
        else (t.drop_z, t.drop_min_relative, t.drop_min_absolute)
    )
    rel = abs(row["excess"]) / before if before else None
    gap = (
        f" (spread evenly over a {row['spread_days']}-day collection gap)"
        if (row["spread_days"] or 1) > 1
        else ""
    )
    text = (
        f"{_who(row)} {verb} {_n(abs(row['daily_gain']))} on {row['day']}{gap}, from {_n(before)}; "
        f"{_baseline_text(row, t)}. That is {abs(row['robust_z']):.1f} robust standard deviations "
        f"from normal (threshold {z_limit}), and the {_n(abs(row['excess']))} beyond normal is "
        f"{_pct(rel)} of the audience (threshold {rel_limit:.0%}"
        f"{_strong(kind == 'spike', rel, rel_limit, t.spike_strong_min_relative, t.spike_strong_z)}"
        f", floor {abs_limit:,})."
    )
    if kind == "spike" and row["attribution"] != "data_artifact":
        text += _retention(row, "the jump", "after 7 days")
    return text


def _drip_text(row: dict[str, Any], t: DetectionSettings) -> str:
    """A drip's window, what it carried against the drip rule's thresholds, and its retention."""
    start = row["window_start"]
    end = row["window_end"]
    before = row["drip_before"] or 0.0
    rel = row["drip_excess"] / before if before else None
    days = plural((end - start).days + 1, "day")
    text = (
        f"{_who(row)} gained {_n(row['drip_carried'])} more than usual over {days}, {start} to "
        f"{end}, from {_n(before)}; {_baseline_text(row, t)}. Its {t.drip_window_days}-day excess "
        f"reached {_n(row['drip_excess'])}, {row['score']:.1f} robust standard deviations "
        f"(threshold {t.drip_z}) and {_pct(rel)} of the audience (threshold "
        f"{t.drip_min_relative:.0%}"
        f"{_strong(True, rel, t.drip_min_relative, t.drip_strong_min_relative, t.drip_strong_z)}"
        f", floor {t.drip_min_absolute:,}), with no single day carrying more than "
        f"{t.drip_max_day_share:.0%} of it."
    )
    if row["attribution"] != "data_artifact":
        text += _retention(row, "the excess", "7 days after the window's end")
    return text


def _churn_text(row: dict[str, Any], t: DetectionSettings) -> str:
    return (
        f"{_who(row)} followed and unfollowed {_n(row['gain_stat'])} accounts in the "
        f"{t.churn_window_days} days to {row['day']} for a net change of "
        f"{_n(row['churn_net'])} (thresholds: {t.churn_min_gross:,} moves, "
        f"{t.churn_min_ratio:g}x the net change, {t.churn_min_relative:.0%} of the following count): "
        f"the follow/unfollow pattern of growth automation."
    )


def _posting_text(row: dict[str, Any]) -> str:
    """Posting in the days the growth came in, against the account's usual."""
    usual, days = row["posts_usual"] or 0.0, row["posts_days"]
    if row["posts_recent"] <= 0 and usual > 0:
        return f" The account posted nothing in the {days} days up to it (usually {usual:.1f})."
    return (
        f" It posted {row['posts_recent']:.0f} times in the {days} days up to it "
        f"(usually {usual:.1f})."
    )


def _attribution_text(row: dict[str, Any]) -> str:
    """To what the move is attributed: a platform-wide event, a glitch, or the account (its
    verdict)."""
    if row["attribution"] == "platform_event":
        up = row["kind"] != "drop"
        moved = row["moved_up"] if up else row["moved_down"]
        phrase = event_phrase(moved, row["accounts"], row["platform"], up, row["day"])
        return (
            f" {phrase[0].upper()}{phrase[1:]}, so it is attributed to a platform-wide event, "
            "not to this account."
        )
    if row["attribution"] == "data_artifact":
        return (
            f" At least {REVERT_SHARE:.0%} of it was undone within {REVERT_DAYS} days: read as a "
            "collection or display glitch."
        )
    return " " + _verdict_sentence(row)


def _verdict_sentence(row: dict[str, Any]) -> str:
    """What the verdict is, how sure, and the evidence it rests on."""
    verdict = row["verdict"]
    reasons = "; ".join(row["reasons"])
    if verdict == "data_gap":
        return (
            f"Most of it lies in days interpolated across a collection gap ({_gap_days(row)}): "
            "when it came is unknown, so it is no evidence of anything. Verdict: data gap."
        )
    if verdict == "pending":
        return (
            "Verdict: under watch: too recent to judge; it is re-judged every night as "
            "retention becomes measurable" + (f" (so far: {reasons})." if reasons else ".")
        )
    return f"Verdict: {verdict_words(verdict)} ({row['confidence']} confidence): {reasons}."


def _gap_days(row: dict[str, Any]) -> str:
    """The collection gaps the profile's spread days come from, as `a 9-day collection gap,
    FIRST to LAST` (a run of spread days ends with the first figure after the gap)."""
    start: date = row["window_start"] if row["kind"] == "drip" else row["day"]  # the anchor
    gaps = int(row["profile_gaps"] or 0)
    spread = [gaps >> i & 1 for i in range(len(PROFILE))] + [0]
    runs, first = [], None
    for i, bit in enumerate(spread):
        if bit and first is None:
            first = i
        elif not bit and first is not None:
            if i - 1 > first:  # the gap's days, without the figure that closed it
                runs.append((first, i - 2))
            first = None
    if not runs:
        return "no day without a figure"
    return "; ".join(
        f"a {b - a + 1}-day collection gap, {start + timedelta(days=PROFILE_FROM + a)} to "
        f"{start + timedelta(days=PROFILE_FROM + b)}"
        for a, b in runs
    )
