"""The thresholds of the growth checks and the verdicts: the `[detection]` section of the settings.

A table of fields, each with its default, its bounds and a word on what it decides; the
rationale is in docs/detection.md. `core.settings.Settings.detection` holds one.
"""

from __future__ import annotations

from pydantic import Field

from core.section import Section


class DetectionSettings(Section):
    """Thresholds of the growth checks (docs/detection.md); every flag names the ones it crossed."""

    baseline_days: int = Field(28, ge=7, le=365)  # window of the robust baseline
    min_history_days: int = Field(14, ge=3)  # fewer days of baseline: no verdict yet
    spike_z: float = Field(3.5, gt=0)  # robust z of a daily gain (Iglewicz-Hoaglin's 3.5)
    spike_min_relative: float = Field(0.02, ge=0)  # excess must also be this share of the audience
    # ...or, far out of the noise (this robust z), this smaller share: on a big account a
    # purchase of a fraction of a percent is thousands of accounts in one day
    spike_strong_z: float = Field(5.0, gt=0)
    spike_strong_min_relative: float = Field(0.003, ge=0)
    spike_min_absolute: int = Field(50, ge=0)  # and this many accounts (small-account floor)
    drop_z: float = Field(3.5, gt=0)
    drop_min_relative: float = Field(0.02, ge=0)
    drop_min_absolute: int = Field(50, ge=0)
    drip_window_days: int = Field(7, ge=2, le=60)  # moving window of the drip sum
    drip_z: float = Field(4.0, gt=0)  # window excess in robust sigmas (sigma * sqrt(window))
    drip_min_relative: float = Field(0.03, ge=0)  # window excess as a share of the audience
    drip_strong_z: float = Field(6.0, gt=0)  # ...or, this far out of the noise, this share:
    drip_strong_min_relative: float = Field(0.003, ge=0)
    drip_min_absolute: int = Field(50, ge=0)  # the same small-account floor as a spike
    drip_max_day_share: float = Field(0.5, gt=0, le=1)  # one day carrying more is a spike
    churn_window_days: int = Field(14, ge=3)
    churn_min_gross: int = Field(200, ge=0)  # follows + unfollows within the window
    churn_min_ratio: float = Field(3.0, ge=1)  # gross movement / net movement of `following`
    churn_min_relative: float = Field(0.25, ge=0)  # gross movement / following count
    posting_burst_ratio: float = Field(2.0, ge=1)  # a trigger this many times usual: a burst
    rounding_steps: float = Field(2.0, ge=1)  # YouTube: a jump or drip exceeds this many steps
    platform_event_z: float = Field(2.0, gt=0)  # co-movement: accounts moving this much...
    platform_event_min_accounts: int = Field(3, ge=2)  # ...at least this many...
    platform_event_share: float = Field(0.3, gt=0, le=1)  # ...and this share of the platform's
    platform_event_many: int = Field(50, ge=2)  # with this many tracked, a smaller share will do...
    platform_event_max_chance: float = Field(1e-6, gt=0, le=1)  # ...this unlikely by chance
    max_gap_days: int = Field(31, ge=1, le=3660)  # longer gaps between figures stay gaps
    # verdicts (transforms/verdicts.py): what makes an anomaly a suspected purchase, organic, ...
    pending_days: int = Field(7, ge=0, le=30)  # younger jumps wait unless the evidence decides
    verdict_noise_sigmas: float = Field(3.0, gt=0)  # loss/tail beyond sigma*sqrt(days)*this
    attrition_min_share: float = Field(0.08, gt=0, le=1)  # lost after the jump: a purchase signal
    attrition_decisive_share: float = Field(0.2, gt=0, le=1)  # outweighs a trigger
    step_max_tail_share: float = Field(0.05, ge=0, le=1)  # a step: the 3 days after carry less
    organic_retention_7: float = Field(1.3, gt=1)  # 7 days on, at least this share of the jump
    trigger_min_ratio: float = Field(1.25, ge=1)  # posts up to a jump vs the account's own rate...
    trigger_min_extra_posts: float = Field(0.5, ge=0)  # ...and this many more (one upload)
    trigger_max_chance: float = Field(0.02, gt=0, le=1)  # ...and that unlikely by chance
    drip_flat_max_cv: float = Field(0.5, gt=0)  # a drip's days vary less: flat, as panels deliver
    ramp_min_ratio: float = Field(1.8, gt=1)  # level reached over the start: accelerating
    gap_max_share: float = Field(0.5, gt=0, le=1)  # more of the growth in interpolated days: a gap
