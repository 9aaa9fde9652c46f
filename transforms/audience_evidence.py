"""Evidence from the audience itself, as the verdict ladder reads it (pure, no I/O): a follower
sample of the growth's days against ordinary days' (pipeline.sample), and the engagement of
the account's posts before and after the growth (transforms.engagement.jump_reading)."""

from __future__ import annotations

from transforms.engagement import JumpReading
from transforms.excess_profile import SampleEvidence

SAMPLE_MAX_P = 0.01  # a sample's share above its baseline's: one-sided p below this ...
SAMPLE_MIN_DIFFERENCE = 0.20  # ... and at least 20 points more
SAMPLE_LIKE_BASELINE = 0.10  # within 10 points of the baseline (and not significant): alike


def sample_reading(s: SampleEvidence | None) -> str | None:
    """ "sample" (purchase evidence), "sample_like_baseline" (weakly against) or None (no sample,
    or one that says neither)."""
    if s is None or s.size == 0:
        return None
    difference = s.share - s.baseline_share
    if s.p_value < SAMPLE_MAX_P and difference >= SAMPLE_MIN_DIFFERENCE:
        return "sample"
    if s.p_value >= SAMPLE_MAX_P and abs(difference) < SAMPLE_LIKE_BASELINE:
        return "sample_like_baseline"
    return None


def engagement_reading(j: JumpReading | None) -> str | None:
    """ "no_engagement_rise" (purchase evidence), "engagement_rose" (organic evidence) or None
    (no engagement sampled, too few days of it, or a reading that says neither)."""
    if j is None or j.reading not in ("no_engagement_rise", "engagement_rose"):
        return None
    return j.reading


def engagement_phrase(j: JumpReading, kind: str) -> str:
    """ "interactions per post stayed at 12 after a jump that added 40% more followers, where
    newcomers who engage would have raised them to about 17"."""
    before, after = j.before or 0.0, j.after or 0.0
    growth = "a jump" if kind == "spike" else "growth"
    added = f"{growth} that added {j.expected - 1:.0%} more followers"
    engaged = _per_post(before * j.expected)
    if j.reading == "engagement_rose":
        return (
            f"interactions per post rose from {_per_post(before)} to {_per_post(after)} after "
            f"{added} (about {engaged} if the newcomers engaged as the audience did): the "
            "newcomers engage, as organic followers do"
        )
    if _per_post(after) == _per_post(before):
        moved = f"stayed at {_per_post(after)}"
    elif after < before:
        moved = f"fell from {_per_post(before)} to {_per_post(after)}"
    else:
        moved = f"rose only from {_per_post(before)} to {_per_post(after)}"
    return (
        f"interactions per post {moved} after {added}, where newcomers who engage would have "
        f"raised them to about {engaged}"
    )


def _per_post(value: float) -> str:
    """A median of interactions per post: whole above 10, one decimal below."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def sample_phrase(s: SampleEvidence, baseline: str = "ordinary days'") -> str:
    """ "of 100 stargazers of 2024-03-22, 91 (84-95%) look inauthentic, against 4% of ordinary
    days'" (`baseline`: what the baseline sample holds, "100 earlier followers" for an audit
    without history)."""
    low, high = round(100 * s.share_low), round(100 * s.share_high)
    return (
        f"of {s.size} {s.what}, {s.flagged} ({low}-{high}%) look inauthentic, against "
        f"{s.baseline_share:.0%} of {baseline}"
    )
