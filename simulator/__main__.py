"""Run the platform simulator: `python -m simulator [--accounts N] [--port P]`.

Prints `listening on http://127.0.0.1:PORT` once it answers, then serves until stopped.
Faults, limits and the simulated date are set over HTTP (see simulator/server.py).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from simulator.server import Simulator, SimulatorServer
from simulator.worlds import sample, spread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument(
        "--accounts", type=int, default=0, help="N accounts over all platforms (0: the sample)"
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    world = spread(args.accounts, args.days) if args.accounts else sample()
    serve(Simulator(world, seed=args.seed), args.port)
    return 0


def serve(simulator: Simulator, port: int = 0) -> None:
    """Serve `simulator` on loopback, printing `listening on URL` once it answers, until
    SIGTERM or Ctrl-C."""
    server = SimulatorServer(simulator, port=port).start()
    print(f"listening on {server.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()


if __name__ == "__main__":
    sys.exit(main())
