"""Benchmark: `audience audit github:owner/repo` of an untracked repository, end to end (issue 15:
"shows its rebuilt history, its verdict and the stargazer evidence in one page, in a few
seconds for a repository of 10,000 stars").

The simulator runs in its own process on loopback (this module's `serve`), with GitHub's real
limits (5,000 requests an hour with its token) over two repositories that end today: 10,000
stars over a year and two before it, with a one-day purchase of 1,000 stars 60 days ago
(90% kept), and the same shape at 1,000 stars (purchase of 100) for comparison. Each audit is
the real `audience` entry point in a fresh process on a fresh warehouse, as a user runs it:
the rebuild from the stargazers (every page), the analysis of the history alone, the sample
of the largest jump's stargazers and of ordinary days' (100 each, a profile each), the
analysis again with it, the page. Printed per repository: the median seconds of the command
end to end (wall, `--runs` runs) with the CPU seconds of the audit's process and of the
simulator's meanwhile (the requests are made one after the other, so on an idle machine the
wall time is about their sum; on a shared one the wall time is mostly waiting for a core),
then one more run of the same command in a process that times its parts (start-up: the
interpreter and the imports; backfill; analysis; sample; page; the rest: settings, warehouse,
judging), the requests it spent, and, measured in the same run, the same audit again on the
warehouse it left (the history now stored: nothing fetched). Python's bytecode is cached (in
a temporary folder) after a first warm-up audit, as an installed package has it.

Run: ./scripts/uv.sh run --locked python -m benchmarks.audit_untracked [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

AUDIENCE = Path(sys.executable).parent / "audience"
TOKEN = "bench-github-token"
DAYS = 365
PURCHASE_AGO = 60
REPOS = {  # handle: (stars on the first day, usual stars a day, the purchase)
    "bench/small-1k": (600, 0.9, 100),
    "bench/big-10k": (6_000, 9.3, 1_000),
}
PARTS = ("start-up", "backfill", "analysis", "sample", "page", "rest")
SIMULATOR = [0]  # the simulator's process id


def world() -> Any:
    from simulator.audiences import AccountSpec, Event
    from simulator.world import World

    today = datetime.now(UTC).date()
    specs = [
        AccountSpec(
            "github",
            handle,
            start,
            rate,
            posts_per_day=None,
            following=None,
            events=(Event("burst_purchase", DAYS - PURCHASE_AGO, bought, retention=0.9),),
        )
        for handle, (start, rate, bought) in REPOS.items()
    ]
    return World(specs, today - timedelta(days=DAYS - 1), DAYS, seed=15)


def serve() -> None:
    """The simulator over world(), expecting TOKEN, until SIGTERM (`listening on URL` first)."""
    from simulator.__main__ import serve as serving
    from simulator.server import Simulator

    serving(Simulator(world(), credentials={"github_token": TOKEN}))


Spent = dict[str, list[float]]  # part: [wall seconds, CPU seconds]


@contextlib.contextmanager
def _clocked(spent: Spent, part: str) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        spent[part][0] += time.perf_counter() - wall
        spent[part][1] += time.process_time() - cpu


def _timed(spent: Spent, part: str, owner: Any, name: str) -> None:
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _clocked(spent, part):
            out = inner(*args, **kwargs)
        if hasattr(out, "__enter__"):  # a context manager: time its exit too
            return _timed_context(out, spent, part)
        return out

    setattr(owner, name, wrapper)


@contextlib.contextmanager
def _timed_context(inner: Any, spent: Spent, part: str) -> Iterator[Any]:
    with _clocked(spent, part):
        value = inner.__enter__()
    try:
        yield value
    finally:
        with _clocked(spent, part):
            inner.__exit__(None, None, None)


def timed_audit(argv: list[str]) -> int:
    """`audience ARGV` with its parts timed (printed as JSON on stderr's last line)."""
    import audience.audit
    import pipeline.backfill
    import pipeline.sample
    import reports.audit_page
    import reports.render
    from audience.cli import main

    spent: Spent = {part: [0.0, 0.0] for part in PARTS}
    # since the parent's spawn: wall; CPU: this process's so far
    spent["start-up"] = [time.time() - float(os.environ["BENCH_T0"]), time.process_time()]
    _timed(spent, "backfill", pipeline.backfill, "backfill")
    _timed(spent, "analysis", pipeline.backfill, "analysed_alone")
    _timed(spent, "sample", pipeline.sample, "sample_frame")
    _timed(spent, "page", reports.audit_page, "render_text")
    _timed(spent, "page", audience.audit, "render_text")
    _timed(spent, "page", reports.render, "write_audit")
    with _clocked(spent, "rest"):
        code = main(argv)
    for i in (0, 1):
        spent["rest"][i] -= sum(spent[p][i] for p in PARTS[1:-1])
    print(json.dumps(spent), file=sys.stderr, flush=True)
    return code


@dataclass
class Ran:
    wall: float  # seconds, end to end
    cpu: float  # the audit process's CPU seconds (user + system)
    server_cpu: float  # the simulator's CPU seconds meanwhile
    out: str
    err: str


def _cpu_of(pid: int) -> float:
    """A process's CPU seconds so far (user + system, /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(args: list[str], env: dict[str, str], cwd: Path) -> Ran:
    server = _cpu_of(SIMULATOR[0])
    started = time.perf_counter()
    env = env | {"BENCH_T0": repr(time.time())}
    with (cwd / "out.txt").open("w+") as out, (cwd / "err.txt").open("w+") as err:
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, problems = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(args)} failed ({code}):\n{problems}")
    cpu = usage.ru_utime + usage.ru_stime
    return Ran(wall, cpu, _cpu_of(SIMULATOR[0]) - server, text, problems)


def _environment(url: str, folder: Path) -> dict[str, str]:
    """The audit's environment: the simulator, its token, and Python's bytecode cached (as an
    installed package has it), in `folder` rather than beside the sources."""
    skip = ("AUDIENCE_", "PYTHONDONTWRITEBYTECODE")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return keep | {
        "AUDIENCE_PLATFORMS__GITHUB__BASE_URL": f"{url}/github",
        "AUDIENCE_GITHUB_TOKEN": TOKEN,
        "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
    }


def _requests(url: str) -> int:
    return int(httpx.get(f"{url}/_sim/stats").json().get("github:requests", 0))


def measure(url: str, handle: str, runs: int, folder: Path) -> dict[str, Any]:
    env = _environment(url, folder)
    account = f"github:{handle}"
    done = []
    for i in range(runs):
        wh = folder / f"{handle.replace('/', '-')}-{i}.duckdb"
        before = _requests(url)
        done.append(_run([str(AUDIENCE), "--warehouse", str(wh), "audit", account], env, folder))
        spent_requests = _requests(url) - before
    wh = folder / f"{handle.replace('/', '-')}-timed.duckdb"
    timed_args = [sys.executable, "-m", "benchmarks.audit_untracked", "timed", "--"]
    timed = _run([*timed_args, "--warehouse", str(wh), "audit", account], env, folder)
    again = _run([str(AUDIENCE), "--warehouse", str(wh), "audit", account], env, folder)
    middle = sorted(done, key=lambda r: r.wall)[len(done) // 2]
    return {
        "median": middle,
        "walls": [r.wall for r in done],
        "parts": json.loads(timed.err.strip().splitlines()[-1]),
        "timed": timed,
        "again": again,
        "requests": spent_requests,
    }


@contextlib.contextmanager
def simulator() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.audit_untracked", "serve"],
        stdout=subprocess.PIPE,
        text=True,
    )
    SIMULATOR[0] = proc.pid
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"the simulator did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _seconds(r: Ran) -> str:
    return f"{r.wall:.2f} s (CPU: audit {r.cpu:.2f} s, simulator {r.server_cpu:.2f} s)"


def _line(handle: str, m: dict[str, Any]) -> str:
    parts = m["parts"]
    split = ", ".join(f"{p} {parts[p][0]:.2f} ({parts[p][1]:.2f})" for p in PARTS)
    return (
        f"{handle}: {_seconds(m['median'])} end to end, the median of {len(m['walls'])} "
        f"({', '.join(f'{w:.2f}' for w in m['walls'])}); {m['requests']} GitHub requests\n"
        f"  timed run {_seconds(m['timed'])}; its parts, wall (CPU): {split}\n"
        f"  the same audit again, the history now stored (nothing fetched): {_seconds(m['again'])}"
    )


def evaluate(runs: int) -> None:
    with simulator() as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = folder / "warm-up.duckdb"
        first = _run(
            [str(AUDIENCE), "--warehouse", str(warm), "audit", f"github:{next(iter(REPOS))}"],
            _environment(url, folder),
            folder,
        )
        print(f"warm-up (the first audit, compiling Python's bytecode): {_seconds(first)}")
        results = {handle: measure(url, handle, runs, folder) for handle in REPOS}
    for handle, m in results.items():
        print(_line(handle, m))
    page = results["bench/big-10k"]["median"].out
    verdict = next((line for line in page.splitlines() if line.startswith("Verdict:")), "?")
    who = page.split("Who arrived (follower samples)")[-1].strip().splitlines()[:1]
    print(f"\nbench/big-10k's page: {verdict}\n  {' '.join(who)}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        serve()
        return 0
    if args[:1] == ["timed"]:
        return timed_audit(args[2:] if args[1:2] == ["--"] else args[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    evaluate(parser.parse_args(args).runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
