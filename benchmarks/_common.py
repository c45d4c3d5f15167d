"""Shared helpers of the coit-hf benchmark scripts: result line, timers, peak memory, workers, machine facts.

Every benchmark prints, as its LAST stdout line, one JSON object with at least ``benchmark``, ``baseline``,
``coit_hf``, ``ratio`` and ``unit`` (see :func:`emit_result`). Measurements that need their own peak RSS run in
a fresh interpreter (:func:`run_worker`), which prints its own JSON last line.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRED_KEYS = ("benchmark", "baseline", "coit_hf", "ratio", "unit")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Current resident set size of this process in MiB (from /proc; 0.0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@contextmanager
def timer(into: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall-clock seconds spent in the ``with`` block to ``into[key]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - started


def ratio(baseline_seconds_or_rate: float, coit_value: float, *, higher_is_better: bool) -> float | None:
    """Speed-up of coit-hf over the baseline: ``coit/baseline`` for rates, ``baseline/coit`` for durations."""
    num, den = (coit_value, baseline_seconds_or_rate) if higher_is_better else (baseline_seconds_or_rate, coit_value)
    return round(num / den, 3) if den else None


def machine_info() -> dict[str, Any]:
    """Facts that make a figure reproducible: date, host CPU, cores, load average, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu, "cores": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    for name in ("torch", "transformers", "trl", "datasets", "pyarrow"):
        module = sys.modules.get(name)
        if module is not None:
            info[name] = getattr(module, "__version__", "?")
    return info


def emit_result(benchmark: str, baseline: float | None, coit_hf: float | None, unit: str, *,
                higher_is_better: bool = True, **details: Any) -> dict[str, Any]:
    """Print the benchmark's result as the last stdout line (one JSON object) and return it.

    ``ratio`` is coit-hf's speed-up (> 1 = coit-hf better), whether the unit is a rate or a duration.
    """
    result: dict[str, Any] = {
        "benchmark": benchmark, "baseline": baseline, "coit_hf": coit_hf,
        "ratio": ratio(baseline, coit_hf, higher_is_better=higher_is_better)
        if baseline is not None and coit_hf is not None else None,
        "unit": unit, **details, "machine": machine_info(),
    }
    sys.stdout.flush()
    print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
    return result


def last_json_line(text: str) -> dict[str, Any]:
    """The JSON object on the last non-empty line of ``text`` (ValueError when there is none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output")
    value = json.loads(lines[-1])
    if not isinstance(value, dict):
        raise ValueError(f"last line is not a JSON object: {lines[-1][:200]}")
    return value


def run_worker(script: str | Path, args: Sequence[str], *, env: dict[str, str] | None = None,
               timeout: float | None = None) -> dict[str, Any]:
    """Run ``python script args`` in a fresh interpreter and return the JSON object of its last stdout line.

    A fresh process per measurement gives each its own peak RSS and no warm caches from the other side.
    Raises RuntimeError with the tail of stderr when the worker fails.
    """
    command = [sys.executable, str(script), *args]
    merged = {**os.environ, **(env or {})}
    merged.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.run(command, capture_output=True, text=True, env=merged, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(command[1:])} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    try:
        return last_json_line(proc.stdout)
    except ValueError as exc:
        raise RuntimeError(f"worker {' '.join(command[1:])} printed no JSON result: {exc}\n{proc.stderr[-2000:]}") \
            from None


def set_threads(threads: int | None) -> None:
    """Pin torch's intra-op threads (both sides of a comparison must use the same number)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
