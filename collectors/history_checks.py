"""Validating history rows, vectorised in Polars (a million rows take about a second): the
checks of each row, and the conflicts between rows of one account and day."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import polars as pl

from collectors.history_format import COUNTS, GIVEN, KEY, OPTIONAL, PROBLEM_SCHEMA, given
from core.platforms import PLATFORMS

MAX_COUNT_DIGITS = 15  # a quadrillion followers is not a real audience, and fits BIGINT


@dataclass(frozen=True)
class Check:
    """A rule of a row's field: the rows where `failed` holds are problems, with `reason`.

    `suspect`, when given, is a cheap test that holds wherever `failed` does (and maybe
    elsewhere): every row is tested with it, and `failed` runs on the suspect rows alone."""

    field: str
    failed: pl.Expr
    reason: str | pl.Expr
    suspect: pl.Expr | None = None

    def screen(self) -> pl.Expr:
        return (self.failed if self.suspect is None else self.suspect).fill_null(False)


def validate_block(
    frame: pl.DataFrame, name: str, first_line: int, today: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (valid typed rows, problems) for one parsed block."""
    frame = _normalised(frame, first_line)
    checks = _checks(today)
    # every rule's cheap screen in one pass; the exact rules and the problems run on the
    # screened rows alone (a clean block, the usual case, has none)
    screened = frame.select(pl.any_horizontal([c.screen() for c in checks]).alias("s"))
    suspects = frame.filter(screened.get_column("s"))
    failing = suspects.select(
        pl.any_horizontal([c.failed.fill_null(False) for c in checks]).alias("failing")
    ).get_column("failing")
    failed = suspects.filter(failing)
    if not failed.height:  # a clean block: no problem frame built per rule
        problems = pl.DataFrame(schema=PROBLEM_SCHEMA)
    else:
        problems = pl.concat(
            [
                failed.filter(check.failed).select(
                    pl.col("line"),
                    pl.lit(check.field).alias("field"),
                    (
                        check.reason if isinstance(check.reason, pl.Expr) else pl.lit(check.reason)
                    ).alias("reason"),
                )
                for check in checks
            ]
        ).with_columns(pl.lit(name).alias("file"))
    kept = (
        frame.filter(~pl.col("line").is_in(failed.get_column("line"))) if failed.height else frame
    )
    valid = kept.select(
        "platform",
        "handle",
        "day",
        *[pl.col(_number(c)).alias(c) for c in COUNTS],
        *GIVEN,
        "line",
    ).with_columns(pl.lit(name).alias("file"))
    return valid, problems


def _number(column: str) -> str:
    """The column holding a count column's value as a number (null where it is not one)."""
    return f"_{column}_number"


_RAW = "_raw_"  # prefix of the raw values an account's or a date's checks are keyed on


def _normalised(frame: pl.DataFrame, first_line: int) -> pl.DataFrame:
    """Every column present, trimmed (blank is null), with its line, canonical handle and day.

    Also the results of the checks of an account (`_handle_ok`, `_launched`) and of a date
    (`_date_form_ok`): a file repeats each account and each date many times, so those are
    worked out once per run of an account's rows and once per distinct date, not per row."""
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
    frame = frame.with_columns([_trimmed(c) for c in COUNTS]).with_columns(
        pl.col(c).cast(pl.Int64, strict=False).alias(_number(c)) for c in COUNTS
    )
    raw = {c: f"{_RAW}{c}" for c in ("platform", "handle", "date")}
    frame = frame.rename(raw)
    # the rows of a file come account by account: each run of rows of one account is
    # checked once, by its first row (any order is right, this one is fast)
    platform, handle = pl.col(raw["platform"]), pl.col(raw["handle"])
    starts = frame.select(
        (
            (pl.int_range(pl.len()) == 0)
            | platform.ne_missing(platform.shift())
            | handle.ne_missing(handle.shift())
        ).alias("start")
    ).get_column("start")
    run = starts.cum_sum() - 1
    accounts = (
        frame.filter(starts)
        .select(
            # as written, which a problem quotes; a handle loses only the spaces around it (a
            # tab or a line break is refused)
            _trimmed(raw["platform"]).alias("_platform_given"),
            pl.col(raw["handle"]).str.strip_chars(" ").replace("", None).alias("_handle_given"),
        )
        .with_columns(
            pl.col("_platform_given").str.to_lowercase().alias("platform"),
            pl.col("_handle_given").alias("handle"),
        )
        .with_columns(_canonical_handles().alias("handle"))
        .with_columns(_handle_valid().alias("_handle_ok"), _launched().alias("_launched"))
    )
    dates = (
        frame.select(raw["date"])
        .unique()
        .with_columns(_trimmed(raw["date"]).alias("date"))
        .with_columns(
            pl.col("date").str.to_date("%Y-%m-%d", strict=False).alias("day"),
            pl.col("date").str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$").alias("_date_form_ok"),
        )
    )
    return (
        frame.with_columns(accounts.select(pl.all().gather(run)))
        .join(dates, on=raw["date"], how="left", nulls_equal=True, maintain_order="left")
        .drop(*raw.values())
    )


def _trimmed(column: str) -> pl.Expr:
    """The column's values without surrounding blanks; a blank value is null."""
    return pl.col(column).str.strip_chars().replace("", None)


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
            + pl.col("_platform_given").str.slice(0, 40)
            + pl.lit(f"' (supported: {supported})"),
        ),
        Check("handle", pl.col("handle").is_null(), "required value is missing"),
        Check(
            "handle",
            pl.col("handle").is_not_null()
            & pl.col("platform").is_in(list(PLATFORMS))
            & ~pl.col("_handle_ok"),
            pl.lit("malformed ")
            + pl.col("platform")
            + pl.lit(" handle '")
            + pl.col("_handle_given").str.slice(0, 60)
            + pl.lit("'"),
        ),
    ]


def _date_checks(today: date) -> list[Check]:
    return [
        Check("date", pl.col("date").is_null(), "required value is missing"),
        Check(
            "date",
            pl.col("date").is_not_null() & ~pl.col("_date_form_ok"),
            pl.lit("not a date in YYYY-MM-DD form: '")
            + pl.col("date").str.slice(0, 40)
            + pl.lit("'"),
        ),
        Check(
            "date",
            pl.col("_date_form_ok") & pl.col("day").is_null(),
            pl.lit("no such day in the calendar: '") + pl.col("date") + pl.lit("'"),
        ),
        Check(
            "date",
            pl.col("day") > pl.lit(today),
            pl.lit(f"date is in the future (today is {today.isoformat()}): ") + pl.col("date"),
        ),
        Check(
            "date",
            pl.col("day") < pl.col("_launched"),
            pl.lit("date ")
            + pl.col("date")
            + pl.lit(" is before ")
            + pl.col("platform")
            + pl.lit(" existed (its first accounts date from ")
            + pl.col("_launched").cast(pl.String)
            + pl.lit(")"),
        ),
    ]


def _count_checks(column: str, required: bool) -> list[Check]:
    value = pl.col(column)
    shown = pl.lit("'") + value.str.slice(0, 40) + pl.lit("'")
    # a value that is a number, has no sign and is short enough passes all three regexes
    # below: only the rest are matched against them (the regexes were a third of a large
    # import's validation)
    suspect = value.is_not_null() & (
        pl.col(_number(column)).is_null()
        | (value.str.len_bytes() > MAX_COUNT_DIGITS)
        | value.str.starts_with("-")
        | value.str.starts_with("+")
    )
    checks: list[Check] = []
    if required:
        checks.append(Check(column, value.is_null(), "required value is missing"))
    checks += [
        Check(
            column,
            value.str.contains(r"^-0*[1-9][0-9]*$"),
            pl.lit("negative count ") + shown,
            suspect,
        ),
        Check(  # '-0', '+5': whole numbers, but a count is written without a sign
            column,
            value.str.contains(r"^(-0+|\+[0-9]+)$"),
            pl.lit("a count is written without a sign: ") + shown,
            suspect,
        ),
        Check(
            column,
            value.is_not_null() & ~value.str.contains(r"^[-+]?[0-9]+$"),
            pl.lit("not a whole number: ") + shown,
            suspect,
        ),
        Check(
            column,
            value.str.contains(rf"^[0-9]{{{MAX_COUNT_DIGITS + 1},}}$"),
            pl.lit(f"implausibly large count (more than {MAX_COUNT_DIGITS} digits)"),
            suspect,
        ),
    ]
    return checks


def _canonical_handles() -> pl.Expr:
    """The vectorised twin of platforms.canonical_handle (same table, same rules). Each step
    runs once over the column, for the platforms it applies to (one branch per platform ran
    every platform's steps over every row: half of a large import's validation)."""
    platform, handle = pl.col("platform"), pl.col("handle")
    strip_at = [name for name, spec in PLATFORMS.items() if spec.strip_at]
    lowercase = [name for name, spec in PLATFORMS.items() if spec.lowercase]
    value = pl.when(platform.is_in(strip_at)).then(handle.str.strip_prefix("@")).otherwise(handle)
    lowered = platform.is_in(lowercase) | ((platform == "youtube") & value.str.starts_with("@"))
    value = pl.when(lowered).then(value.str.to_lowercase()).otherwise(value)
    return pl.when(platform == "reddit").then(value.str.strip_prefix("/")).otherwise(value)


def _handle_valid() -> pl.Expr:
    """Each row's handle against its platform's pattern, in one regex pass: the platform and
    the handle joined by a separator no handle has, against the patterns as alternatives."""
    alternatives = "|".join(
        f"{re.escape(name)}{_SEPARATOR}(?:{_unanchored(spec.pattern)})"
        for name, spec in PLATFORMS.items()
    )
    joined = pl.concat_str([pl.col("platform"), pl.lit(_SEPARATOR), pl.col("handle")])
    return joined.str.contains(f"^(?:{alternatives})$")


_SEPARATOR = "\x1f"  # the unit separator: no platform's pattern accepts it


def _unanchored(pattern: str) -> str:
    """A platform's `^...$` pattern without its anchors (they apply to the whole of it)."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"a handle pattern must be anchored at both ends: {pattern!r}")
    return pattern[1:-1]


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
