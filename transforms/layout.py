"""The padded layout the transforms compute on: accounts one after another, with empty rows between.

Every per-account shift and rolling window becomes a plain column operation: `pad` null rows
before each account keep a look-back (or look-ahead) of up to `pad` days from reaching into
the neighbouring account. This avoids window functions (`over`), which cost a sort or a
grouping per expression and dominated the run time on millions of rows.
"""

from __future__ import annotations

import numpy as np
import polars as pl

REAL = "_real"


def with_account_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `aid` (0..n-1 in platform, handle order) and sort by account and day."""
    if "aid" in frame.columns:
        return frame.sort("aid", "day")
    accounts = (
        frame.select("platform", "handle").unique().sort("platform", "handle").with_row_index("aid")
    )
    return (
        frame.join(accounts, on=["platform", "handle"])
        .with_columns(pl.col("aid").cast(pl.Int32))
        .sort("aid", "day")
    )


def pad(frame: pl.DataFrame, rows: int) -> pl.DataFrame:
    """Insert `rows` empty rows before each account of a frame sorted by (aid, day).

    Every column but `aid` is null in the padding (whose `aid` is the account it precedes);
    the REAL column marks the real rows.
    """
    n = frame.height
    if n == 0:
        return frame.with_columns(pl.lit(True).alias(REAL))
    aid = frame.get_column("aid").to_numpy()
    new_block = np.r_[True, aid[1:] != aid[:-1]]
    block = np.cumsum(new_block)  # 1 for the first account's rows, 2 for the next ...
    lengths = np.diff(np.r_[np.flatnonzero(new_block), n])
    size = n + len(lengths) * rows
    source = np.full(size, -1, dtype=np.int64)
    source[np.arange(n) + block * rows] = np.arange(n)
    real = source >= 0
    gathered = frame.select(pl.all().gather(pl.Series(np.where(real, source, 0))))
    owner = np.repeat(aid[new_block], lengths + rows)
    return gathered.with_columns(
        *[pl.when(pl.Series(real)).then(pl.col(c)).alias(c) for c in frame.columns if c != "aid"],
        pl.Series("aid", owner).cast(frame.schema["aid"]),
        pl.Series(REAL, real),
    )


def unpad(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col(REAL)).drop(REAL)
