"""The nightly flow: thin orchestration of library functions (no SQL, no Polars here).

Run in-process with `python -m flows.nightly` (Prefect starts a temporary API for the life of
the process), or from the `nightly` deployment in prefect.yaml on a Prefect server.

Collection from the platforms is not in this version yet: the flow analyses what is stored.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from audience.analysis import run_analysis
from audience.config import load_settings
from warehouse.db import resolve_path


@task(name="analyse", retries=2, retry_delay_seconds=[5, 30])
def analyse(warehouse: str, config: str | None, as_of: date | None, full: bool) -> dict[str, Any]:
    """Compute daily metrics and anomalies for everything new; retried if the warehouse is busy."""
    settings = load_settings(Path(config) if config else None)
    from checks.suites import GXChecker

    return run_analysis(
        Path(warehouse),
        settings,
        as_of,
        full=full,
        checker=GXChecker(),
        lock_timeout_s=settings.warehouse.lock_timeout_s,
    )


@flow(name="nightly", log_prints=True)
def nightly(
    as_of: date | None = None,
    warehouse: str | None = None,
    config: str | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Nightly job: analyse stored history up to `as_of` (default: the newest snapshot)."""
    logger = get_run_logger()
    settings = load_settings(Path(config) if config else None)
    target = resolve_path(warehouse, settings.warehouse.path)
    result = analyse(str(target), config, as_of, full)
    logger.info(
        "analysed %s accounts through %s (%s): %s new anomalies, %s suspected purchases",
        result["accounts"],
        result["as_of"],
        result["mode"],
        result["new_anomalies"],
        result["suspected_purchases"],
    )
    create_markdown_artifact(
        key="nightly-summary",
        markdown=(
            f"# Nightly run {result['run_id']}\n\n"
            f"* analysed through: {result['as_of']} ({result['mode']})\n"
            f"* accounts: {result['accounts']}\n"
            f"* new anomalies: {result['new_anomalies']}\n"
            f"* suspected purchases in the recomputed window: {result['suspected_purchases']}\n"
            f"* warehouse: `{target}`\n"
        ),
        description="What the nightly run did",
    )
    return result


if __name__ == "__main__":
    nightly()
