"""`audience demo`: the whole product on this machine, with no credentials and no network.

The platform simulator (loopback HTTP) serves the bundled sample's accounts with their dates
moved so that the last simulated day is today, plus one purchase made today. The demo imports
the months before today as a CSV in the import format, then runs the nightly Prefect flow for
today against the simulator: collect, store, analyse (GX suites), alert (to an outbox), report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from audience.config import ENV_PREFIX, SECRET_ENV
from simulator.audiences import AccountSpec, Event, generate
from simulator.sample import SAMPLE_DAYS, SAMPLE_EVENTS, SAMPLE_SEED, SAMPLE_SPECS, history_csv
from simulator.server import Simulator, SimulatorServer
from simulator.world import World

DEMO_FOLDER = Path("demo")
# bought today, collected by tonight's run: the alert the demo's email is about
BOUGHT_TODAY = ("twitch", "streamer_one", 2_500)
DEMO_RECIPIENT = "analyst@example.org"


@dataclass(frozen=True)
class DemoFiles:
    folder: Path
    warehouse: Path

    @property
    def history(self) -> Path:
        return self.folder / "history.csv"

    @property
    def config(self) -> Path:
        return self.folder / "audience.toml"

    @property
    def outbox(self) -> Path:
        return self.folder / "outbox"

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


def demo_specs() -> list[AccountSpec]:
    """The sample's accounts; one of them buys followers on the last day."""
    platform, handle, size = BOUGHT_TODAY
    purchase = Event("burst_purchase", SAMPLE_DAYS, size, retention=0.5)
    return [
        replace(s, events=(*s.events, purchase))
        if (s.platform, s.handle) == (platform, handle)
        else s
        for s in SAMPLE_SPECS
    ]


def demo_world(today: date) -> World:
    """The sample's months ending yesterday, and today (the day the nightly run collects)."""
    start = today - timedelta(days=SAMPLE_DAYS)
    return World(demo_specs(), start, SAMPLE_DAYS + 1, SAMPLE_SEED, list(SAMPLE_EVENTS))


def history_before(world: World, today: date) -> pl.DataFrame:
    """What a tracker would have collected before today (with the sample's collection gaps)."""
    generated = generate(world.specs, world.start, world.days, world.seed, world.platform_events)
    return generated.snapshots.filter(pl.col("date") < today)


def _toml(value: Any) -> str:
    return json.dumps(value)  # strings and lists of strings are written alike in TOML and JSON


def demo_config(files: DemoFiles, server: SimulatorServer, world: World) -> str:
    """Settings that track the world's accounts on the simulator and alert to an outbox."""
    lines = [
        "# written by `audience demo`: the platforms are the local simulator",
        "[warehouse]",
        f"path = {_toml(str(files.warehouse))}",
        "",
        "[alerts]",
        f"recipients = {_toml([DEMO_RECIPIENT])}",
        f"outbox = {_toml(str(files.outbox))}",
        "",
        "[report]",
        f"path = {_toml(str(files.report))}",
    ]
    for platform, url in sorted(server.base_urls().items()):
        lines += ["", f"[platforms.{platform}]", f"base_url = {_toml(url)}", "backoff_s = 0.05"]
        if platform == "instagram":
            lines.append('account_id = "1784140"')  # the business account the demo asks through
    for spec in world.specs:
        lines += [
            "",
            "[[accounts]]",
            f"platform = {_toml(spec.platform)}",
            f"handle = {_toml(spec.handle)}",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def demo_environment() -> Iterator[None]:
    """Only the demo's settings apply: no AUDIENCE_* of the caller's, placeholder API keys.

    The simulator accepts any non-empty key; the real ones, if set, are kept from it.
    """
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    for name in saved:
        del os.environ[name]
    os.environ.update({var: "demo-placeholder" for var in SECRET_ENV.values()})
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
            del os.environ[name]
        os.environ.update(saved)


def run_demo(files: DemoFiles, today: date, say: Callable[[str], None]) -> dict[str, Any]:
    """Start the simulator, import the history, run the nightly flow for today; its summary."""
    from audience.ingest import import_history

    for stale in (files.warehouse, Path(f"{files.warehouse}.wal"), files.report):
        stale.unlink(missing_ok=True)
    for eml in files.outbox.glob("*.eml") if files.outbox.is_dir() else ():
        eml.unlink()
    files.folder.mkdir(parents=True, exist_ok=True)
    world = demo_world(today)
    with SimulatorServer(Simulator(world, seed=SAMPLE_SEED)) as server:
        say(f"1/4 platform simulator listening on {server.url} ({len(world.specs)} accounts)")
        history = history_before(world, today)
        files.history.write_text(history_csv(history), encoding="utf-8")
        say(
            f"2/4 importing {history.height:,} daily snapshots ({world.start} to "
            f"{today - timedelta(days=1)}) from {files.history}"
        )
        imported = import_history([files.history], files.warehouse, today)
        say(f"    {imported.rows:,} rows of {imported.accounts} accounts stored")
        files.config.write_text(demo_config(files, server, world), encoding="utf-8")
        say(
            f"3/4 running the nightly flow for {today} against the simulator ({files.config}); "
            "Prefect starts a temporary API first (about 15 s)"
        )
        from audience.nightly import prefect_defaults

        prefect_defaults()
        with demo_environment():
            from flows.nightly import nightly

            summary: dict[str, Any] = nightly(
                as_of=today, warehouse=str(files.warehouse), config=str(files.config)
            )
    return summary
