"""The `audience` console script: the CLI's imports, then the CLI (audience.cli.entry).

A Ctrl-C while the CLI's modules are still importing (the first fraction of a second) is one
line and exit status 130, like one at any later moment, not the interpreter's traceback."""

from __future__ import annotations

import os
import sys


def run() -> None:
    try:
        from audience.cli import entry
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing was done\n")
        sys.stderr.flush()
        os._exit(130)
    entry()
