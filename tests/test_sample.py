from __future__ import annotations

from audience.cli import SAMPLE
from simulator.sample import sample_csv, sample_history


def test_committed_sample_is_what_the_generator_makes() -> None:
    assert SAMPLE.read_text(encoding="utf-8") == sample_csv(), "run: python -m simulator.sample"


def test_sample_labels_name_the_injected_events() -> None:
    labels = sample_history().labels
    kinds = sorted(labels.get_column("kind").unique().to_list())
    assert kinds == ["burst_purchase", "churn", "drip_purchase", "glitch", "purge", "viral"]
    purchases = labels.filter(labels["kind"].str.ends_with("purchase"))
    assert sorted(purchases.get_column("handle").to_list()) == [
        "carol@hachyderm.io",
        "growthguru",
        "octo-org/widget",
    ]
