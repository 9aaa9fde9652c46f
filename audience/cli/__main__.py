"""`python -m audience.cli`: the console script."""

from audience.cli import entry

entry()
