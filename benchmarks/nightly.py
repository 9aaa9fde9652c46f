"""Benchmark: the real `audience run`, end to end, night after night (issue #17).

N accounts (10,000 by default) on the eight platforms of the simulator, which runs in its own
process on loopback with its limits off (the counts' and the feeds' the engagement step reads), each with 3 years of history imported first. Every
command is the real `audience` entry point in its own process, recording its flow run in a
local Prefect API kept for the benchmark (`audience run --keep-api` does the same), with alerts
going to a real SMTP server on loopback (aiosmtpd). Measured, each night in a fresh process:

  1. the first full run: collect the first new day from the simulator, store, the whole
     history analysed with the GX suites, alerts, the report;
  2. a night with nothing new (`run --skip-collect`: nothing collected since);
  3. a night with one new day (collection of every account from the simulator included);
  4. a night after a back-dated import (1% of the accounts with a day 100 days ago changed,
     imported with --replace).

For each: its steps' seconds (from the run's recorded `nightly-steps` artifact, read back from
the Prefect API), wall and CPU seconds (wait4) and peak memory (VmHWM) of the process,
and the fixed start-up: everything of the process that is not a step (interpreter, imports,
Prefect's flow-run bookkeeping). Then the same start-up with Prefect's temporary API (no API
kept), and, in the same run, an analyst's pandas baseline over the same rows: a groupby-rolling
robust z-score of the daily gains.

Run: ./scripts/uv.sh run --locked python -m benchmarks.nightly [--accounts 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import polars as pl
from aiosmtpd.controller import Controller

from benchmarks.collect import SECRETS, accounts_of, audience_limits_off, start_simulator
from core.platforms import PLATFORMS as PLATFORM_INFO
from simulator.worlds import PLATFORMS, spread

YEARS_DAYS = 1096
FIRST = date(2024, 6, 1)  # the simulated world's first day: the first night's
AUDIENCE = Path(sys.executable).parent / "audience"


class Inbox:
    """An SMTP handler that counts what it receives."""

    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 OK"


@dataclass
class Night:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    steps: dict[str, float] = field(default_factory=dict)
    out: str = ""
    analysis: dict[str, float] = field(default_factory=dict)
    simulator_cpu: float = 0.0  # the simulator's CPU seconds meanwhile (its answers)
    requests: int = 0  # the requests the simulator answered meanwhile

    @property
    def fixed(self) -> float:
        return self.wall - sum(self.steps.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _watch_peak(pid: int, peak: list[float], done: threading.Event) -> None:
    """The process's VmHWM, read until it exits (wait4's ru_maxrss is no use here: Linux
    carries the forking parent's high-water mark into the child across exec)."""
    status = Path(f"/proc/{pid}/status")
    while not done.is_set():
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]) / 1024)
        except (OSError, ValueError):
            return
        done.wait(0.05)


def child(
    args: list[str], env: dict[str, str], cwd: Path, logs: Path | None = None
) -> tuple[float, float, float, str]:
    """Run a command in `cwd`; its wall and CPU seconds, its peak memory (MB) and its output
    (kept in `logs`, the benchmark's temporary folder, default `cwd`)."""
    log = (logs or cwd) / "child.log"
    peak, done = [0.0], threading.Event()
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        watcher = threading.Thread(target=_watch_peak, args=(process.pid, peak, done))
        watcher.start()
        # the exit status and CPU time of this child alone; the watcher stops on its own
        # once /proc/PID is gone, the read just before it is the last high-water mark
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(encoding="utf-8")
    if process.returncode not in (0, 3):  # 3: partly done, still a night's work
        raise SystemExit(f"{' '.join(args[:6])}... failed ({process.returncode}):\n{text}")
    return wall, usage.ru_utime + usage.ru_stime, peak[0], text


def cpu_seconds(pid: int) -> float:
    """A running process's CPU seconds so far (user and system, /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answered(sim: str) -> int:
    """The requests the simulator has answered so far, every platform's."""
    stats = httpx.get(f"{sim}/_sim/stats", timeout=30).json()
    return sum(int(v) for k, v in stats.items() if k.endswith(":requests"))


def history(accounts: int, days: int, first: date) -> pl.DataFrame:
    """`days` days before `first` for the simulator's accounts, ending just below what the
    simulator shows on `first` (so the first collected day is an ordinary one), 2% of days
    missing; Bluesky's accounts start at its launch (2022-11-01). One account in a hundred
    ends a fifth below it: a jump on the first night, for the alerts."""
    world = spread(accounts, 30)
    world.set_today(first)
    wanted = accounts_of(accounts)
    anchor = np.array(
        [(f.followers if (f := world.figures(p, h)) else 1000) for p, h in wanted], dtype=np.int64
    )
    # one account in a hundred bought a fifth of its audience on the first night: the alerts
    anchor = np.where(np.arange(accounts) % 100 == 50, anchor * 4 // 5, anchor)
    rng = np.random.default_rng(17)
    rate = np.maximum(anchor / 2000, 0.5)
    gains = rng.poisson(np.repeat(rate, days).reshape(accounts, days))
    # followers on day first - days + k: the anchor less the gains after it
    after = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]
    followers = np.maximum(anchor[:, None] - after, 0).ravel()
    start = first - timedelta(days=days)
    frame = pl.DataFrame(
        {
            "platform": np.repeat(np.array([p for p, _ in wanted]), days),
            "handle": np.repeat(np.array([h for _, h in wanted]), days),
            "date": pl.Series(
                np.tile(np.arange(days, dtype=np.int32), accounts) + (start - date(1970, 1, 1)).days
            ).cast(pl.Date),
            "followers": followers.astype(np.int64),
        }
    )
    keep = (pl.int_range(pl.len()) % 50 != 7) | (pl.col("date") == first - timedelta(days=1))
    launched = pl.col("platform").replace_strict(
        {p: PLATFORM_INFO[p].launched for p in PLATFORMS}, return_dtype=pl.Date
    )
    return frame.filter(keep & (pl.col("date") >= launched))  # none before its platform


def config(folder: Path, sim: str, smtp_port: int) -> Path:
    lines = [
        "[alerts]",
        'recipients = ["analyst@example.org"]',
        'smtp_host = "127.0.0.1"',
        f"smtp_port = {smtp_port}",
        "smtp_starttls = false",
        "[report]",
        f'path = "{folder / "report.html"}"',
    ]
    for platform in PLATFORMS:
        base = f"{sim}/mastodon/{{host}}" if platform == "mastodon" else f"{sim}/{platform}"
        lines += [f"[platforms.{platform}]", f'base_url = "{base}"', "max_concurrency = 8"]
    path = folder / "audience.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def steps_of(api: str) -> dict[str, float]:
    """The latest run's seconds per step, as it recorded them in the Prefect API."""
    found = httpx.post(
        f"{api}/artifacts/filter",
        json={
            "artifacts": {"key": {"any_": ["nightly-steps"]}},
            "sort": "CREATED_DESC",
            "limit": 1,
        },
        timeout=30,
    ).json()
    data = found[0]["data"]
    rows = json.loads(data) if isinstance(data, str) else data
    return {str(r["step"]): float(r["seconds"]) for r in rows}


def pandas_baseline(path: Path) -> None:
    """An analyst's robust z-score of the daily gains: groupby, rolling median and IQR."""
    frame = pd.read_csv(path, parse_dates=["date"])
    started = time.perf_counter()
    frame = frame.sort_values(["platform", "handle", "date"], ignore_index=True)
    by = [frame["platform"], frame["handle"]]
    frame["gain"] = frame.groupby(by, sort=False)["followers"].diff()
    prior = frame.groupby(by, sort=False)["gain"].shift(1)
    rolling = prior.groupby(by, sort=False).rolling(28, min_periods=14)
    median = rolling.median().reset_index(level=[0, 1], drop=True)
    iqr = (rolling.quantile(0.75) - rolling.quantile(0.25)).reset_index(level=[0, 1], drop=True)
    frame["robust_z"] = (frame["gain"] - median) / np.maximum(iqr / 1.349, 1.0)
    flagged = int((frame["robust_z"].abs() > 3.5).sum())
    print(json.dumps({"seconds": time.perf_counter() - started, "flagged": flagged}))


def analysis_stages(warehouse: Path) -> dict[str, float]:
    """The seconds of each stage of the latest analysis, as its run recorded them (`runs`)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT summary FROM runs WHERE kind = 'analyze' ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
    seconds = json.loads(rows[0][0]).get("seconds", {}) if rows and rows[0][0] else {}
    return {str(k): float(v) for k, v in seconds.items()}


def describe(night: Night) -> str:
    parts = ", ".join(f"{k} {v:.2f}" for k, v in night.steps.items())
    if night.analysis and night.steps.get("analyse", 0) > 1:
        parts += (
            "\n"
            + " " * 29
            + "(analyse: "
            + ", ".join(f"{k} {v:.2f}" for k, v in night.analysis.items())
            + ")"
        )
    if "analysis: unchanged since " in night.out:
        parts += "; the analysis was unchanged (nothing new)"
    if "report: " in night.out and "(unchanged: " in night.out:
        parts += "; the report was unchanged and kept"
    if night.requests:
        parts += (
            f"\n{'':29s}({night.requests:,} requests answered by the simulator, "
            f"which used {night.simulator_cpu:.1f} s of CPU meanwhile)"
        )
    return (
        f"{night.name:28s} wall {night.wall:6.1f} s (CPU {night.cpu:5.1f} s), "
        f"steps {sum(night.steps.values()):6.2f} s, fixed start-up {night.fixed:5.1f} s, "
        f"peak {night.peak_mb:,.0f} MB\n{'':29s}({parts})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=YEARS_DAYS)
    parser.add_argument("--child-pandas", type=Path)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the temporary folder (warehouse, settings, Prefect home) for a look afterwards",
    )
    args = parser.parse_args()
    if args.child_pandas:
        pandas_baseline(args.child_pandas)
        return
    n = args.accounts
    folder = Path(tempfile.mkdtemp(prefix="nightly-bench-"))
    simulator, sim = start_simulator(n)
    httpx.post(f"{sim}/_sim/clock", json={"day": FIRST.isoformat()}).raise_for_status()
    audience_limits_off(sim)  # the counts' limits are off unless set; the feeds' are on
    smtp_port = _free_port()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    home = folder / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AUDIENCE_"))}
    env |= SECRETS | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_UI_ENABLED": "false",
        "AUDIENCE_CONFIG": str(config(folder, sim, smtp_port)),
        "AUDIENCE_WAREHOUSE": str(folder / "audience.duckdb"),
    }
    try:
        t0 = time.perf_counter()
        frame = history(n, args.days, FIRST)
        csv = folder / "history.csv"
        frame.write_csv(csv)
        rows = frame.height
        del frame
        print(
            f"{n:,} accounts x {args.days} days: {rows:,} history rows "
            f"({csv.stat().st_size / 2**20:,.0f} MiB CSV, made in {time.perf_counter() - t0:.0f} s)"
        )
        wall, cpu, peak, _ = child([str(AUDIENCE), "import", str(csv)], env, folder)
        print(f"audience import: {wall:.1f} s (CPU {cpu:.1f} s), peak {peak:,.0f} MB")
        handles = [f"{p}:{h}" for p, h in accounts_of(n)]
        for i in range(0, n, 2000):
            child([str(AUDIENCE), "accounts", "add", *handles[i : i + 2000]], env, folder)

        from flows.api import start_kept  # Prefect reads PREFECT_HOME as it is imported

        os.environ["PREFECT_HOME"] = str(home)
        started = time.perf_counter()
        api = start_kept(home)
        print(
            f"local Prefect API kept for the benchmark: {api} ({time.perf_counter() - started:.1f} s to start, once)"
        )

        def night(name: str, *extra: str) -> Night:
            before, asked = cpu_seconds(simulator.pid), answered(sim)
            wall, cpu, peak, out = child([str(AUDIENCE), "run", *extra], env, folder)
            result = Night(name, wall, cpu, peak, steps_of(api), out)
            result.simulator_cpu = cpu_seconds(simulator.pid) - before
            result.requests = answered(sim) - asked
            result.analysis = analysis_stages(folder / "audience.duckdb")
            print(describe(result), flush=True)
            return result

        nights = [night("1. first full run", "--as-of", FIRST.isoformat())]
        nights.append(night("2. nothing new", "--skip-collect", "--as-of", FIRST.isoformat()))
        second = FIRST + timedelta(days=1)
        httpx.post(f"{sim}/_sim/clock", json={"day": second.isoformat()}).raise_for_status()
        nights.append(night("3. one new day", "--as-of", second.isoformat()))
        back = (FIRST - timedelta(days=100)).isoformat()
        changed = pl.read_csv(csv).filter(pl.col("date") == back)
        changed = changed.head(max(n // 100, 1)).with_columns(pl.col("followers") + 3)
        backdated = folder / "backdated.csv"
        changed.write_csv(backdated)
        child([str(AUDIENCE), "import", "--replace", str(backdated)], env, folder)
        nights.append(
            night(
                f"4. after a back-dated import ({changed.height} rows)",
                "--skip-collect",
                "--as-of",
                second.isoformat(),
            )
        )
        print(f"alert emails received by the SMTP server on loopback: {inbox.messages}")

        # the same nothing-new night with Prefect's temporary API: another PREFECT_HOME, warmed once
        temporary = env | {"PREFECT_HOME": str(folder / "prefect-temporary")}
        for _ in range(2):
            wall, cpu, peak, out = child(
                [str(AUDIENCE), "run", "--skip-collect", "--as-of", second.isoformat()],
                temporary,
                folder,
            )
        assert "temporary API" in out
        print(
            f"nothing new with Prefect's temporary API (warm PREFECT_HOME): wall {wall:.1f} s "
            f"(CPU {cpu:.1f} s) vs {nights[1].wall:.1f} s (CPU {nights[1].cpu:.1f} s) with the kept API"
        )

        wall, cpu, peak, out = child(
            [sys.executable, "-m", "benchmarks.nightly", "--child-pandas", str(csv)],
            env,
            Path.cwd(),
            logs=folder,
        )
        pandas = json.loads(out.strip().splitlines()[-1])
        print(
            f"pandas baseline (groupby-rolling robust z-score of the daily gains, {rows:,} rows): "
            f"{pandas['seconds']:.1f} s after reading the CSV, peak {peak:,.0f} MB"
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "prefect", "server", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
        )
        smtp.stop()
        simulator.terminate()
        simulator.wait(timeout=30)
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
