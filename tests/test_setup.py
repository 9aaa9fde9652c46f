"""The README's test command sets up what the tests need on a fresh machine (issue 12, point 13)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert len(commands) == 2, commands
    test_command = commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^exec {re.escape(test_command)}$", ci, re.MULTILINE), (test_command, ci)


def test_the_test_command_installs_chromium_where_it_is_missing(tmp_path: Path) -> None:
    """A PATH without chromium: scripts/test asks apt-get for Debian's package, then runs pytest."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(folder).iterdir():
            target = bin_dir / tool.name
            if tool.name in ("chromium", "apt-get", "sudo") or target.exists():
                continue
            target.symlink_to(tool)
    calls = tmp_path / "apt-get.calls"
    # apt-get cannot run from a test (it needs the network and changes the machine): this
    # stand-in records what it was asked and "installs" chromium by putting it on the PATH
    fake = bin_dir / "apt-get"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        f'case "$*" in *install*chromium*) ln -sf /usr/bin/chromium "{bin_dir}/chromium";; esac\n'
    )
    fake.chmod(0o755)
    sudo = bin_dir / "sudo"  # where the tests run as another user than root: sudo passes through
    sudo.write_text('#!/bin/sh\nexec "$@"\n')
    sudo.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PATH"] = str(bin_dir)
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "test"),
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_docs.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    asked = calls.read_text().splitlines()
    assert asked[0] == "update -qq"
    assert asked[1].startswith("install -y -qq chromium")
    assert "installing Debian's chromium" in result.stderr
    assert re.search(r"\d+ passed", result.stdout)
