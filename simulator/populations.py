"""Organic and bought follower populations, calibrated on real hand-labelled profiles.

Figures taken (and only these; no row of the data is copied here) from the InstaFake data set
(Akyon & Kalfaoglu, 2019, arXiv 1910.03090; fcakyon/instafake-dataset `data/fake-v1.0/` at
cf669b27, CC BY-NC 4.0; see ../shared/realdata/README.md): 200 accounts labelled fake, 994
labelled real.

- CELLS: how often a profile has a picture, at least one post and a bio, jointly (the eight
  combinations, counted in each class). This keeps their dependence: an empty profile lacks
  all three together more often than three independent coins would give.
- *_QUANTILES: the 0, 10, 25, 50, 75, 90 and 100th percentiles of the followers, following
  and (when above zero) posts of each class; a value is drawn by interpolating between them on
  a log scale (an inverse CDF through the quantiles).
- DIGITS: the share of user names with digits (fake 55%, real 11%).

The SRF Data file (975 Swiss followers, 98 rated fake) agrees in direction (median following
2,096 fake vs 604 real; zero posts 34% vs 5%) but has more fakes with a picture (93%) than
InstaFake (60.5%): bought profiles vary by vendor and year, which is why the simulator mixes
plain and dressed bought accounts instead of making them all empty.

What is ours, not calibrated (no labelled data gives it): account ages (organic: log-normal,
median 700 days, 6% newcomers of under 30 days; bought: batches created 1-45 days before the
delivery, 25% "aged" accounts as old as organic ones), and the mapping of Instagram's counts
onto GitHub (followers and following / 20, repositories = sqrt(posts)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (has picture, has posts, has bio) -> count, in InstaFake's fake and real classes
CELLS: dict[str, dict[tuple[bool, bool, bool], int]] = {
    "bought": {
        (False, False, False): 63,
        (False, False, True): 6,
        (False, True, False): 8,
        (False, True, True): 2,
        (True, False, False): 32,
        (True, False, True): 14,
        (True, True, False): 44,
        (True, True, True): 31,
    },
    "organic": {
        (False, False, False): 3,
        (False, True, False): 8,
        (False, True, True): 2,
        (True, False, False): 25,
        (True, False, True): 14,
        (True, True, False): 353,
        (True, True, True): 589,
    },
}
QUANTILE_LEVELS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
FOLLOWERS_QUANTILES = {
    "bought": (0, 1, 11, 30, 102, 290, 3208),
    "organic": (1, 118, 218, 345, 516, 725, 4492),
}
FOLLOWING_QUANTILES = {
    "bought": (0, 76, 282, 1470, 2503, 4621, 7497),
    "organic": (4, 154, 267, 420, 614, 863, 6640),
}
POSTS_QUANTILES = {  # of the profiles with at least one post
    "bought": (1, 1, 1, 2, 4, 7, 396),
    "organic": (1, 3, 9, 32, 80, 171, 1058),
}
DIGITS = {"bought": 0.55, "organic": 0.11}

ORGANIC_AGE_MEDIAN_DAYS = 700.0
ORGANIC_AGE_SIGMA = 1.0
ORGANIC_NEWCOMERS = 0.06  # organic accounts created under 30 days before they follow
BOUGHT_AGED = 0.25  # bought accounts that are old (bought or stolen aged accounts)
BATCH_LEAD_DAYS = (1, 45)  # a batch is created this many days before its delivery starts


@dataclass
class Profiles:
    """Profile fields of n followers, as arrays (one entry per follower)."""

    has_avatar: np.ndarray  # bool
    has_posts: np.ndarray  # bool
    has_bio: np.ndarray  # bool
    posts: np.ndarray  # int64
    followers: np.ndarray  # int64
    following: np.ndarray  # int64
    digits: np.ndarray  # bool: a user name with digits


def _from_quantiles(rng: np.random.Generator, quantiles: tuple[int, ...], n: int) -> np.ndarray:
    """n draws through the inverse CDF given by the quantiles, interpolated on log(1 + x)."""
    u = rng.random(n)
    logs = np.log1p(np.asarray(quantiles, dtype=float))
    drawn: np.ndarray = np.round(np.expm1(np.interp(u, QUANTILE_LEVELS, logs))).astype(np.int64)
    return drawn


def draw_profiles(rng: np.random.Generator, population: str, n: int) -> Profiles:
    """n profiles of the "organic" or "bought" population."""
    cells = CELLS[population]
    keys = list(cells)
    weights = np.array([cells[k] for k in keys], dtype=float)
    chosen = rng.choice(len(keys), size=n, p=weights / weights.sum())
    table = np.array(keys, dtype=bool).reshape(-1, 3)
    has_avatar, has_posts, has_bio = (table[chosen, i] for i in range(3))
    posts = np.where(has_posts, _from_quantiles(rng, POSTS_QUANTILES[population], n), 0)
    return Profiles(
        has_avatar=has_avatar,
        has_posts=has_posts,
        has_bio=has_bio,
        posts=np.maximum(posts, has_posts.astype(np.int64)),
        followers=_from_quantiles(rng, FOLLOWERS_QUANTILES[population], n),
        following=_from_quantiles(rng, FOLLOWING_QUANTILES[population], n),
        digits=rng.random(n) < DIGITS[population],
    )


def organic_ages_days(rng: np.random.Generator, n: int) -> np.ndarray:
    """Account age (days, fractional) when an organic follower follows."""
    ages = rng.lognormal(np.log(ORGANIC_AGE_MEDIAN_DAYS), ORGANIC_AGE_SIGMA, n)
    newcomers = rng.random(n) < ORGANIC_NEWCOMERS
    return np.where(newcomers, rng.uniform(0.2, 30, n), np.maximum(ages, 1.0))
