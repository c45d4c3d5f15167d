"""`coit-hf --help` / `--version` in a fresh process, as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import coit_hf
from coit_hf import cli


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coit_hf.cli", *args], capture_output=True, text=True, timeout=300)


def test_version():
    proc = _run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"coit-hf {coit_hf.__version__}"


def test_help_lists_usage():
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: coit-hf")
    assert "--version" in proc.stdout


def test_console_script_points_at_the_cli():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "coit-hf"]
    assert script.value == "coit_hf.cli:main"
    assert script.load() is cli.main
