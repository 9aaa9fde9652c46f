"""A follower sample as verdict evidence (issue 15.2): pure, through transforms.verdicts."""

from __future__ import annotations

from core.detection import DetectionSettings
from tests.test_verdicts import evidence
from transforms.excess_profile import PROFILE, SampleEvidence
from transforms.verdicts import judge

T = DetectionSettings()
FADING = [0.0] * 3 + [1000 * 0.6**k for k in range(len(PROFILE) - 3)]  # unexplained alone
DECAYING = [0.0] * 3 + [1000.0] + [-20.0] * (len(PROFILE) - 4)  # strong attrition


def bought() -> SampleEvidence:
    return SampleEvidence("stargazers of 2024-03-22", 100, 91, 0.84, 0.95, 0.04, 1e-30)


def alike() -> SampleEvidence:
    return SampleEvidence("followers who arrived on 2024-03-22", 100, 6, 0.03, 0.12, 0.05, 0.4)


def test_a_bought_sample_makes_a_purchase_without_an_activity_figure() -> None:
    alone = judge(evidence(profile=FADING), T)
    assert alone.verdict == "unexplained"
    judged = judge(evidence(profile=FADING, sample=bought()), T)
    assert judged.verdict == "suspected_purchase"
    assert "sample" in judged.evidence
    assert (
        "of 100 stargazers of 2024-03-22, 91 (84-95%) look inauthentic, against 4% of ordinary "
        "days'" in judged.reasons
    )


def test_a_bought_sample_outweighs_a_trigger_and_is_decisive_while_young() -> None:
    triggered = evidence(profile=FADING, posts_recent=9.0, posts_usual=1.0, sample=bought())
    assert judge(triggered, T).verdict == "suspected_purchase"
    young = judge(evidence(profile=FADING, age_days=2, sample=bought()), T)
    assert young.verdict == "suspected_purchase"


def test_a_sample_like_the_baseline_never_turns_attrition_organic() -> None:
    judged = judge(evidence(profile=DECAYING, sample=alike()), T)
    assert judged.verdict == "suspected_purchase"
    assert judged.confidence != "low"
    assert "sample_like_baseline" in judged.evidence
    assert any("6 (3-12%) look inauthentic, against 5%" in r for r in judged.reasons)


def test_a_sample_like_the_baseline_is_not_organic_evidence() -> None:
    judged = judge(evidence(profile=FADING, sample=alike()), T)
    assert judged.verdict == "unexplained"


def test_a_higher_share_that_is_not_significant_says_nothing() -> None:
    weak = SampleEvidence("followers who arrived on 2024-03-22", 12, 4, 0.14, 0.61, 0.1, 0.04)
    judged = judge(evidence(profile=FADING, sample=weak), T)
    assert judged.verdict == "unexplained"
    assert "sample" not in judged.evidence
