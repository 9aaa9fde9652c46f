"""Validating history rows, vectorised in Polars (a million rows take about a second): the
checks of each row, and the conflicts between rows of one account and day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from collectors.history_format import COUNTS, GIVEN, KEY, OPTIONAL, REQUIRED, given
from core.platforms import PLATFORMS

MAX_COUNT_DIGITS = 15  # a quadrillion followers is not a real audience, and fits BIGINT


@dataclass(frozen=True)
class Check:
    """A rule of a row's field: the rows where `failed` holds are problems, with `reason`."""

    field: str
    failed: pl.Expr
    reason: str | pl.Expr


def validate_block(
    frame: pl.DataFrame, name: str, first_line: int, today: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (valid typed rows, problems) for one parsed block."""
    frame = _normalised(frame, first_line)
    problems = pl.concat(
        [
            frame.filter(check.failed).select(
                pl.col("line"),
                pl.lit(check.field).alias("field"),
                (check.reason if isinstance(check.reason, pl.Expr) else pl.lit(check.reason)).alias(
                    "reason"
                ),
            )
            for check in _checks(today)
        ]
    )
    bad_lines = problems.get_column("line").unique()
    valid = (
        frame.filter(~pl.col("line").is_in(bad_lines.implode()))
        .select(
            "platform",
            "handle",
            "day",
            *[pl.col(c).cast(pl.Int64) for c in COUNTS],
            *GIVEN,
            "line",
        )
        .with_columns(pl.lit(name).alias("file"))
    )
    return valid, problems.with_columns(pl.lit(name).alias("file"))


def _normalised(frame: pl.DataFrame, first_line: int) -> pl.DataFrame:
    """Every column present, trimmed (blank is null), with its line, canonical handle and day."""
    # a column the file lacks is "not given" (stored figures stay); a blank cell is "unknown"
    frame = frame.with_columns(
        pl.lit(column in frame.columns).alias(given(column)) for column in OPTIONAL
    )
    for column in OPTIONAL:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    if "line" not in frame.columns:
        frame = frame.with_columns(
            pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64).alias("line")
        )
    frame = frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in REQUIRED + OPTIONAL]
    ).with_columns(pl.col("platform").str.to_lowercase())
    frame = frame.with_columns(_canonical_handles().alias("handle"))
    return frame.with_columns(
        pl.col("date").str.to_date("%Y-%m-%d", strict=False).alias("day"),
    )


def _checks(today: date) -> list[Check]:
    """Every rule, in the order problems are listed: platform, handle, date, then the counts."""
    counts = [c for column in COUNTS for c in _count_checks(column, column == "followers")]
    return [*_account_checks(), *_date_checks(today), *counts]


def _account_checks() -> list[Check]:
    supported = ", ".join(sorted(PLATFORMS))
    return [
        Check("platform", pl.col("platform").is_null(), "required value is missing"),
        Check(
            "platform",
            pl.col("platform").is_not_null() & ~pl.col("platform").is_in(list(PLATFORMS)),
            pl.lit("unknown platform '")
            + pl.col("platform").str.slice(0, 40)
            + pl.lit(f"' (supported: {supported})"),
        ),
        Check("handle", pl.col("handle").is_null(), "required value is missing"),
        Check(
            "handle",
            pl.col("handle").is_not_null()
            & pl.col("platform").is_in(list(PLATFORMS))
            & ~_handle_valid(),
            pl.lit("malformed ")
            + pl.col("platform")
            + pl.lit(" handle '")
            + pl.col("handle").str.slice(0, 60)
            + pl.lit("'"),
        ),
    ]


def _date_checks(today: date) -> list[Check]:
    return [
        Check("date", pl.col("date").is_null(), "required value is missing"),
        Check(
            "date",
            pl.col("date").is_not_null()
            & (
                pl.col("day").is_null()
                | ~pl.col("date").str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
            ),
            pl.lit("not a date in YYYY-MM-DD form: '")
            + pl.col("date").str.slice(0, 40)
            + pl.lit("'"),
        ),
        Check(
            "date",
            pl.col("day") > pl.lit(today),
            pl.lit(f"date is in the future (today is {today.isoformat()}): ") + pl.col("date"),
        ),
        Check(
            "date",
            pl.col("day") < _launched(),
            pl.lit("date ")
            + pl.col("date")
            + pl.lit(" is before ")
            + pl.col("platform")
            + pl.lit(" existed (its first accounts date from ")
            + _launched().cast(pl.String)
            + pl.lit(")"),
        ),
    ]


def _count_checks(column: str, required: bool) -> list[Check]:
    value = pl.col(column)
    shown = pl.lit("'") + value.str.slice(0, 40) + pl.lit("'")
    checks: list[Check] = []
    if required:
        checks.append(Check(column, value.is_null(), "required value is missing"))
    checks += [
        Check(column, value.str.contains(r"^-[0-9]+$"), pl.lit("negative count ") + shown),
        Check(
            column,
            value.is_not_null() & ~value.str.contains(r"^-?[0-9]+$"),
            pl.lit("not a whole number: ") + shown,
        ),
        Check(
            column,
            value.str.contains(rf"^[0-9]{{{MAX_COUNT_DIGITS + 1},}}$"),
            pl.lit(f"implausibly large count (more than {MAX_COUNT_DIGITS} digits)"),
        ),
    ]
    return checks


def _canonical_handles() -> pl.Expr:
    """The vectorised twin of platforms.canonical_handle (same table, same rules)."""
    handle = pl.col("handle")
    expr = handle
    for spec in PLATFORMS.values():
        value = handle
        if spec.strip_at:
            value = value.str.strip_prefix("@")
        if spec.lowercase:
            value = value.str.to_lowercase()
        elif spec.name == "youtube":
            value = (
                pl.when(value.str.starts_with("@")).then(value.str.to_lowercase()).otherwise(value)
            )
        if spec.name == "reddit":
            value = value.str.to_lowercase().str.strip_prefix("/")
        expr = pl.when(pl.col("platform") == spec.name).then(value).otherwise(expr)
    return expr


def _handle_valid() -> pl.Expr:
    expr = pl.lit(False)
    for spec in PLATFORMS.values():
        expr = (
            pl.when(pl.col("platform") == spec.name)
            .then(pl.col("handle").str.contains(spec.pattern))
            .otherwise(expr)
        )
    return expr


def _launched() -> pl.Expr:
    """Each row's platform's first day (platforms.Platform.launched); null for an unknown one."""
    return pl.col("platform").replace_strict(
        {name: spec.launched for name, spec in PLATFORMS.items()},
        default=None,
        return_dtype=pl.Date,
    )


def conflicts(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows that repeat an account and day with different figures, as problems."""
    ordered = rows.sort("file_order", "line")
    first = ordered.group_by(KEY, maintain_order=True).first()
    joined = ordered.join(first, on=KEY, suffix="_first").filter(
        (pl.col("file_order") != pl.col("file_order_first"))
        | (pl.col("line") != pl.col("line_first"))
    )
    differs = pl.lit(False)
    detail = []
    for c in COUNTS:
        # blank means unknown: only two known, different figures conflict
        changed = (
            pl.col(c).is_not_null()
            & pl.col(f"{c}_first").is_not_null()
            & (pl.col(c) != pl.col(f"{c}_first"))
        )
        differs = differs | changed
        detail.append(
            pl.when(changed).then(
                pl.lit(f"{c} ")
                + pl.col(f"{c}_first").cast(pl.String).fill_null("blank")
                + pl.lit(" vs ")
                + pl.col(c).cast(pl.String).fill_null("blank")
            )
        )
    return joined.filter(differs).select(
        "file",
        "line",
        pl.lit("date").alias("field"),
        (
            pl.lit("conflicts with ")
            + pl.col("file_first")
            + pl.lit(":")
            + pl.col("line_first").cast(pl.String)
            + pl.lit(" for the same account and day (")
            + pl.concat_str(detail, separator=", ", ignore_nulls=True)
            + pl.lit(")")
        ).alias("reason"),
    )
