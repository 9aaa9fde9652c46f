"""The single-profile judgement (transforms/profiles.py) on real hand-labelled profiles.

Data (../shared/realdata/profiles/, see its README for the notices): InstaFake (Akyon &
Kalfaoglu 2019; 200 fake, 994 real Instagram accounts; CC BY-NC 4.0, used for evaluation only)
and SRF Data's 975 followers of Swiss influencers rated by hand (98 fake; CC BY-SA 4.0).

Prints precision and recall of "looks inauthentic" per file with Wilson intervals, what each
signal catches, the precision to expect at a 10% share of fakes, and two variations of the
rules. What limits the figures: these files give no creation or follow dates and no follow
order, so three of the six signals (new account, clustered creation, lockstep arrival) cannot
be checked here; only no avatar, no posts and following far more than followed can.

    ./scripts/uv.sh run --locked python -m benchmarks.profiles
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from transforms.profiles import SIGNALS, Profile, ProfileRules, judge_profile, wilson_interval

PROFILES = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "profiles"


def instafake() -> list[tuple[Profile, bool]]:
    rows = []
    for name in ("instafake_fake.json", "instafake_real.json"):
        for i, row in enumerate(json.loads((PROFILES / name).read_text(encoding="utf-8"))):
            profile = Profile(
                id=f"{name}:{i}",
                has_avatar=bool(row["userHasProfilPic"]),
                posts=int(row["userMediaCount"]),
                followers=int(row["userFollowerCount"]),
                following=int(row["userFollowingCount"]),
            )
            rows.append((profile, bool(row["isFake"])))
    return rows


def srf() -> list[tuple[Profile, bool]]:
    path = PROFILES / "srf_instagram_followers_labelled.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            (
                Profile(
                    id=f"srf:{i}",
                    has_avatar=row["has_profile_picture"] == "true",
                    posts=int(row["posts"]),
                    followers=int(row["followers"]),
                    following=int(row["following"]),
                ),
                row["is_fake"] == "true",
            )
            for i, row in enumerate(csv.DictReader(handle))
        ]


def _pct(low: float, high: float) -> str:
    return f"({100 * low:.0f}-{100 * high:.0f}%)"


def score(rows: list[tuple[Profile, bool]], rules: ProfileRules) -> dict[str, float]:
    judged = [(judge_profile(p, rules), fake) for p, fake in rows]
    tp = sum(j.looks_inauthentic and fake for j, fake in judged)
    fp = sum(j.looks_inauthentic and not fake for j, fake in judged)
    fakes = sum(fake for _, fake in judged)
    reals = len(judged) - fakes
    recall = tp / fakes
    false_rate = fp / reals
    # at 10% fakes in a sample: expected precision from the two rates
    at_10 = 0.1 * recall / (0.1 * recall + 0.9 * false_rate) if recall or false_rate else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fakes": fakes,
        "reals": reals,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": recall,
        "false_rate": false_rate,
        "precision_at_10": at_10,
    }


def report(name: str, rows: list[tuple[Profile, bool]], rules: ProfileRules) -> None:
    s = score(rows, rules)
    tp, fp, fakes, reals = int(s["tp"]), int(s["fp"]), int(s["fakes"]), int(s["reals"])
    print(f"\n{name}: {fakes} fake, {reals} real")
    print(
        f"  precision {s['precision']:.3f} {_pct(*wilson_interval(tp, tp + fp))}"
        f"  recall {s['recall']:.3f} {_pct(*wilson_interval(tp, fakes))}"
        f"  real accounts flagged {s['false_rate']:.3f} {_pct(*wilson_interval(fp, reals))}"
    )
    print(f"  precision expected where 10% of a sample is fake: {s['precision_at_10']:.3f}")
    judged = [(judge_profile(p, rules), fake) for p, fake in rows]
    for signal in SIGNALS:
        if all(signal in j.unchecked for j, _ in judged):
            print(f"  {signal:<20} not checkable (no such field)")
            continue
        on_fake = sum(signal in j.signals for j, fake in judged if fake)
        on_real = sum(signal in j.signals for j, fake in judged if not fake)
        print(f"  {signal:<20} on {on_fake / fakes:6.1%} of fakes, {on_real / reals:6.1%} of reals")
    for label, variant in (
        ("following ratio 10:1 instead of 50:1", replace(rules, following_ratio=10.0)),
        ("one signal is enough", replace(rules, min_signals=1)),
    ):
        v = score(rows, variant)
        print(f"  variation, {label}: precision {v['precision']:.3f}, recall {v['recall']:.3f}")


def main() -> int:
    rules = ProfileRules()
    print(
        "looks inauthentic = at least 2 of: no avatar, no posts, following >= 50 x followers "
        "(and >= 50); the dates and order signals cannot be checked on these files"
    )
    report("InstaFake (Akyon & Kalfaoglu 2019)", instafake(), rules)
    report("SRF Data, followers of Swiss influencers (2017)", srf(), rules)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
