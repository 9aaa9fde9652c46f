"""`audience demo`: the whole product on this machine, with no credentials and no network.

The platform simulator (loopback HTTP) serves the bundled sample's accounts with their dates
moved so that the last simulated day is today, plus one purchase made today. The demo imports
the months before today as a CSV in the import format, then runs the nightly Prefect flow for
today against the simulator: collect, store, analyse (GX suites), alert (to an outbox), report.

It replaces only what it wrote itself: a warehouse it created (marked inside, see
warehouse.origin) and the files listed, with their digests, in its folder's MARKER file.
Anything else where it would write is refused before anything is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from core.errors import AudienceError
from core.records import NightlySummary
from core.settings import ENV_PREFIX, SECRET_ENV
from simulator.audiences import AccountSpec, Event, generate
from simulator.sample import SAMPLE_DAYS, SAMPLE_EVENTS, SAMPLE_SEED, SAMPLE_SPECS, history_csv
from simulator.server import Simulator, SimulatorServer
from simulator.world import World

DEMO_FOLDER = Path("demo")
# bought today, collected by tonight's run: the alert the demo's email is about
BOUGHT_TODAY = ("twitch", "streamer_one", 2_500)
DEMO_RECIPIENT = "analyst@example.org"
MARKER = ".audience-demo.json"  # in the demo's folder: the files it wrote, with their sha256


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

    @property
    def marker(self) -> Path:
        return self.folder / MARKER

    @property
    def wal(self) -> Path:
        return Path(f"{self.warehouse}.wal")

    def written(self) -> list[Path]:
        """Where the demo writes, besides its warehouse: the files there now (emails included)."""
        emails = sorted(self.outbox.iterdir()) if self.outbox.is_dir() else []
        return [self.history, self.config, self.report, *emails]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded(files: DemoFiles) -> dict[str, str] | None:
    """What the demo's marker says it wrote: path in the folder -> sha256 (None: the file is
    not such a record; empty: a demo stopped before it wrote anything)."""
    if not files.marker.exists():
        return {}
    try:
        data = json.loads(files.marker.read_text(encoding="utf-8"))
        recorded = data["files"]
        if data.get("written_by") != "audience demo" or not isinstance(recorded, dict):
            raise TypeError
        return {str(k): str(v) for k, v in recorded.items()}
    except (OSError, UnicodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def refusal(files: DemoFiles) -> str | None:
    """Why the demo may not write where it would, and where else it can (None: all that is
    there is its own, unchanged). Reads only: nothing is changed whatever is found."""
    from warehouse.origin import not_the_demos

    why = None
    if files.warehouse.exists():
        found = not_the_demos(files.warehouse)
        why = f"{str(files.warehouse)!r} is {found}" if found else None
    elif files.wal.exists():
        why = f"{str(files.wal)!r} is the log of a warehouse the demo did not create"
    if why and files.warehouse.parent != files.folder:
        return f"{why}: give --warehouse a path where no file exists yet, or leave it out"
    recorded = _recorded(files)
    if why is None and recorded is None:
        why = f"{str(files.marker)!r} is not the demo's record of what it wrote"
    recorded = recorded or {}
    if why is None and files.outbox.exists() and not files.outbox.is_dir():
        why = f"{str(files.outbox)!r} is a file the demo did not write"
    for path in files.written() if why is None else ():
        key = str(path.relative_to(files.folder))
        if path.exists() and (not path.is_file() or recorded.get(key) != _digest(path)):
            why = f"{str(path)!r} is not a file the demo wrote (or it changed since)"
            break
    return f"{why}: run it in another folder, `audience demo --folder NEW_FOLDER`" if why else None


def _record(files: DemoFiles) -> None:
    """List what the demo wrote in its folder (every file there now was written by this run)."""
    written = {str(p.relative_to(files.folder)): _digest(p) for p in files.written() if p.is_file()}
    record = {"written_by": "audience demo", "warehouse": str(files.warehouse), "files": written}
    files.marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


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


def _toml(value: str | list[str]) -> str:
    return json.dumps(value)  # strings and lists of strings are written alike in TOML and JSON


def demo_config(files: DemoFiles, server: SimulatorServer, world: World) -> str:
    """Settings that track the world's accounts on the simulator and alert to an outbox."""
    lines = [
        "# written by `audience demo`: the platforms are the local simulator, which listened",
        f"# at {server.url} for the demo's own night only and stopped with it: a `run` with",
        "# these settings finds no platform there (start `python -m simulator` and point the",
        "# base_url lines at it, or write settings for the real platforms: README, Settings)",
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


def run_demo(files: DemoFiles, today: date, say: Callable[[str], None]) -> NightlySummary:
    """Start the simulator, import the history, run the nightly flow for today; its summary.

    Refused (AudienceError, nothing touched) when anything where it would write is not its own.
    """
    from warehouse.origin import create_demo_warehouse, finish_demo_warehouse

    try:
        why = refusal(files)
        if not why:
            files.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a folder no file system could hold, or one that cannot be made
        why = f"cannot use the folder {str(files.folder)!r}: {exc.strerror or exc}"
    if why:
        raise AudienceError(f"demo refused, nothing was touched: {why}")
    for stale in (files.warehouse, files.wal, *files.written()):
        stale.unlink(missing_ok=True)
    _record(files)
    try:
        create_demo_warehouse(files.warehouse)
        summary = _run(files, today, say)
        finish_demo_warehouse(files.warehouse)
    finally:
        _record(files)
    return summary


def _run(files: DemoFiles, today: date, say: Callable[[str], None]) -> NightlySummary:
    from pipeline.import_history import import_history

    world = demo_world(today)
    with SimulatorServer(Simulator(world, seed=SAMPLE_SEED)) as server:
        say(f"1/4 platform simulator listening on {server.url} ({len(world.specs)} accounts)")
        history = history_before(world, today)
        files.history.write_text(history_csv(history), encoding="utf-8")
        _record(files)  # each file as it is written: a demo killed on the way is its own still
        say(
            f"2/4 importing {history.height:,} daily snapshots ({world.start} to "
            f"{today - timedelta(days=1)}) from {files.history}"
        )
        imported = import_history([files.history], files.warehouse, today)
        say(f"    {imported.rows:,} rows of {imported.accounts} accounts stored")
        files.config.write_text(demo_config(files, server, world), encoding="utf-8")
        _record(files)
        say(
            f"3/4 running the nightly flow for {today} against the simulator ({files.config}); "
            "Prefect starts a temporary API first (about 15 s)"
        )
        from pipeline.collect import prefect_defaults

        prefect_defaults()
        with demo_environment():
            from flows.nightly import nightly

            summary: NightlySummary = nightly(
                as_of=today, warehouse=str(files.warehouse), config=str(files.config)
            )
    return summary
