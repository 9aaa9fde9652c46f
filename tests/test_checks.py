"""The Great Expectations suites: they agree with the rules, and catch bad snapshots."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from checks.suites import GXChecker, check_name, merge_checks, validate_snapshots
from core.detection import DetectionSettings
from transforms.compute import compute
from transforms.judging import MarginChecker
from transforms.series import EPOCH, Arrays
from transforms.signals import RULES

D0 = date(2024, 1, 1)
AS_OF = D0 + timedelta(days=149)


class RecordingGX(GXChecker):
    """The GX checker of runs, keeping each batch of margins it was given and its flags."""

    def __init__(self) -> None:
        self.seen: list[tuple[Arrays, Arrays]] = []

    def flag(self, margins: Arrays) -> tuple[Arrays, dict[str, Any]]:
        flags, summary = super().flag(margins)
        self.seen.append((margins, flags))
        return flags, summary


def scenarios() -> pl.DataFrame:
    rng = np.random.default_rng(4)
    frames = []
    for i, edit in enumerate(
        [{60: 2000}, {70 + k: 150 for k in range(7)}, {80: -900}, {}, {50: 400, 51: -380}]
    ):
        gains = rng.poisson(20, 150).astype(float)
        for day, extra in edit.items():
            gains[day] += extra
        following = 300 + np.cumsum(np.where((np.arange(150) // 7) % 2 == 0, 60, -60) * (i == 3))
        frames.append(
            pl.DataFrame(
                {
                    "platform": "x",
                    "handle": f"a{i}",
                    "day": [D0 + timedelta(d) for d in range(150)],
                    "followers": 5000 + np.cumsum(gains),
                    "following": following.astype(float),
                }
            )
        )
    return pl.concat(frames)


def test_gx_flags_are_exactly_the_rules_flags() -> None:
    gx = RecordingGX()
    computed = compute(scenarios(), AS_OF, DetectionSettings(), gx)
    [(margins, by_gx)] = gx.seen
    by_rule, _ = MarginChecker().flag(margins)
    for rule in RULES:
        assert np.array_equal(by_gx[rule], by_rule[rule]), rule
    assert sum(int(by_gx[r].sum()) for r in RULES) > 4
    result = merge_checks(computed.checks)
    assert not result["success"]
    assert {f["kwargs"]["column"] for f in result["failed"]} >= {
        "spike_margin",
        "drop_margin",
        "drip_margin",
    }


def test_gx_validates_only_the_new_rows() -> None:
    gx = RecordingGX()
    new_after = np.full(5, (D0 + timedelta(days=74) - EPOCH).days, dtype=np.int32)
    compute(scenarios(), AS_OF, DetectionSettings(), gx, new_after)
    [(margins, flags)] = gx.seen
    spikes = [EPOCH + timedelta(days=int(d)) for d in margins["day"][flags["spike"]]]
    assert spikes
    assert min(spikes) >= D0 + timedelta(days=75)  # the day-60 burst is older: not validated again


def test_check_names_say_which_expectation_and_threshold() -> None:
    assert check_name("spike") == "expect_column_values_to_be_between(spike_margin, max_value=1)"


def _snapshots(**changes: object) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "platform": ["x", "x", "github"],
            "handle": ["a", "a", "b"],
            "day": [D0, D0 + timedelta(1), D0 + timedelta(1)],
            "followers": [10, 12, 5],
            "following": [1, 1, None],
            "posts": [3, 4, None],
            "observed_at": [datetime(2024, 1, 2, tzinfo=UTC)] * 3,
        }
    )
    return frame.with_columns(**{k: pl.Series(v) for k, v in changes.items()})


def test_clean_snapshots_pass() -> None:
    assert validate_snapshots(_snapshots(), D0 + timedelta(1)).success


@pytest.mark.parametrize(
    ("changes", "as_of", "failed"),
    [
        ({"followers": [10, -1, 5]}, 1, ("expect_column_values_to_be_between", "followers")),
        ({"day": [D0, D0, D0 + timedelta(1)]}, 1, ("expect_compound_columns_to_be_unique", None)),
        ({"platform": ["x", "x", "myspace"]}, 1, ("expect_column_values_to_be_in_set", "platform")),
        ({}, 30, ("expect_column_max_to_be_between", "day")),  # stale: nothing new for weeks
        (
            {},
            -5,
            ("expect_column_values_to_be_between", "day"),
        ),  # figures from after the analysed day
    ],
    ids=["negative", "duplicate-day", "unknown-platform", "stale", "future"],
)
def test_bad_snapshots_fail_the_suite(
    changes: dict[str, object], as_of: int, failed: tuple[str, str | None]
) -> None:
    result = validate_snapshots(_snapshots(**changes), D0 + timedelta(days=as_of))
    assert not result.success
    assert any(
        f["expectation"] == failed[0] and f["kwargs"].get("column") == failed[1]
        for f in result.failed
    ), result.failed


def test_snapshot_suite_in_batches_of_whole_accounts() -> None:
    # batches of one row still keep each account whole, so its repeated day is caught
    frame = pl.concat(
        [_snapshots(handle=["a", "a", f"b{i}"]).slice(2, 1) for i in range(5)]
        + [_snapshots(day=[D0, D0, D0 + timedelta(1)])]
    )
    as_of = D0 + timedelta(1)
    assert validate_snapshots(_snapshots(), as_of, batch_rows=1).success
    result = validate_snapshots(frame, as_of, batch_rows=1)
    assert not result.success
    [duplicate] = [
        f for f in result.failed if f["expectation"] == "expect_compound_columns_to_be_unique"
    ]
    assert duplicate["unexpected_count"] == 2
    stale = validate_snapshots(frame, D0 + timedelta(30), batch_rows=2)
    assert [f["expectation"] for f in stale.failed if f["kwargs"].get("column") == "day"] == [
        "expect_column_max_to_be_between"
    ]


def test_gx_imported_in_the_background_while_other_threads_validate_at_once() -> None:
    """An analysis imports GX on a thread while it loads, and its checks may ask for GX on
    two other threads before that import is over (the growth suite's batches, a first
    analysis' snapshot checks): every one of them validates, none meets a half-imported GX.
    A fresh interpreter, so that GX is not imported yet."""
    code = textwrap.dedent(
        """
        import threading
        import numpy as np
        from checks.suites import validate_margins, warm_in_background
        from transforms.signals import RULES

        warm_in_background()
        flagged, errors = [], []

        def validate():
            try:
                flags, _ = validate_margins(
                    {f"{r}_margin": np.array([0.5, 2.0, np.nan]) for r in RULES}
                )
                flagged.append([bool(f) for f in flags[RULES[0]]])
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=validate) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(errors or flagged)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str([[False, True, False]] * 3)
