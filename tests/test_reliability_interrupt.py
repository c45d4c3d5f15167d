"""Interrupted corpus builds: `coit-hf data build` SIGKILLed mid-write never leaves an output folder that
``load_dataset`` would accept (or, on --overwrite, the previous corpus stays whole); a rerun completes and removes
what the killed build left behind."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROWS = 12_000
WORDS = "alpha beta gamma delta river mountain city book window garden table music light stone cloud".split()
HANZI = "山水城书窗花园桌音乐光天地人和风雨石云"


@pytest.fixture(scope="module")
def big_source(tmp_path_factory) -> Path:
    """A synthetic English→Chinese pairs file large enough that a build takes a few seconds."""
    rng = random.Random(9)
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(ROWS):
            en = " ".join(rng.choice(WORDS) for _ in range(8)) + f" number {i}."
            zh = "".join(rng.choice(HANZI) for _ in range(10)) + f"{i}。"
            handle.write(json.dumps({"en": en, "zh": zh}, ensure_ascii=False) + "\n")
    config = path.with_name("build.yaml")
    # small batches: Parquet parts appear on disk early, so the kill lands in the middle of writing
    config.write_text(f"name: big\nbatch_size: 500\nvalidation_size: 10\nsources:\n"
                      f"  - {{type: jsonl, path: {path}, tgt_lang: zh}}\n", encoding="utf-8")
    return config


def _default_sigint() -> None:
    # A shell running CI in the background starts us with SIGINT ignored, which the child would inherit (and then
    # Python installs no KeyboardInterrupt handler); give the build the default disposition a terminal user has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _build(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "coit_hf.cli", "data", "build", "--config", str(config),
                             "--output", str(out), "--no-progress", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _kill_mid_write(proc: subprocess.Popen, out: Path, timeout: float = 120.0) -> Path:
    """SIGKILL ``proc`` once its work folder holds a Parquet part being written; returns that folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for tmp in out.parent.glob(f".{out.name}.coit-build"):
            if any(p.stat().st_size > 0 for p in tmp.rglob("*.parquet.part")):
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                return tmp
        if proc.poll() is not None:
            pytest.fail(f"the build finished before it could be killed: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no temporary build folder appeared")


def _rows(out: Path) -> dict[str, int]:
    return {f"{c}/{s}": datasets.load_dataset(str(out), c, split=s).num_rows
            for c in ("translation", "all") for s in ("train", "validation")}


def test_killed_build_leaves_no_loadable_folder_and_rerun_completes(tmp_path, big_source):
    out = tmp_path / "coit-big"
    proc = _build(big_source, out)
    leftover = _kill_mid_write(proc, out)
    assert proc.returncode == -signal.SIGKILL
    assert leftover.exists() and not out.exists()
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do: there is nothing to load
        datasets.load_dataset(str(out), "translation")
    rerun = _build(big_source, out)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()[-2000:]
    assert _rows(out) == {"translation/train": ROWS - 10, "translation/validation": 10, "all/train": ROWS - 10,
                          "all/validation": 10}
    assert not leftover.exists()  # the rerun resumed in the killed build's work folder and removed it at the end
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coit-big"]


def test_killed_overwrite_keeps_the_previous_corpus(tmp_path, big_source):
    out = tmp_path / "coit-big"
    first = _build(big_source, out)
    assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    proc = _build(big_source, out, "--overwrite")
    _kill_mid_write(proc, out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert _rows(out)["translation/train"] == ROWS - 10
    assert os.listdir(tmp_path) != ["coit-big"]  # the killed build's work folder stays for the next run to resume


def test_ctrl_c_mid_build_exits_130_and_cleans_up(tmp_path, big_source):
    out = tmp_path / "coit-big"
    proc = _build(big_source, out)
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 0 for p in tmp_path.glob(f".{out.name}.coit-build/**/*.parquet.part")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert "interrupted" in proc.stderr.read() and list(tmp_path.iterdir()) == []


def test_killed_worker_then_resumed_build_equals_an_uninterrupted_one(tmp_path, big_source):
    """SIGKILL one of the two worker processes mid-task, then the whole build; the same command resumes (finished
    tasks skipped) and writes exactly the rows of an uninterrupted build."""
    import psutil

    config = tmp_path / "build.yaml"
    config.write_text(big_source.read_text(encoding="utf-8").replace("batch_size: 500", "batch_size: 500\n"
                      "task_lines: 1500"), encoding="utf-8")
    reference, out = tmp_path / "reference", tmp_path / "coit-big"
    assert _build(config, reference, "--workers", "1").wait(timeout=600) == 0
    proc = subprocess.Popen([sys.executable, "-m", "coit_hf.cli", "data", "build", "--config", str(config),
                             "--output", str(out), "--no-progress", "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    work = tmp_path / ".coit-big.coit-build"
    deadline = time.monotonic() + 300
    killed = None
    while killed is None and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        finished = list(work.glob("logs/read/completions/*"))
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if any(f.path.endswith(".parquet.part") for f in _open_files(p))]
        if finished and workers:
            killed = workers[0]
            killed.kill()
        time.sleep(0.02)
    assert killed is not None, "no worker was seen writing after a first task had finished"
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)  # a pool that lost a worker waits for it forever: the user stops the build
    proc.wait(timeout=30)
    completed = sorted(p.name for p in work.glob("logs/*/completions/*"))
    assert work.is_dir() and not out.exists()
    rerun = _build(config, out, "--workers", "2")
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()[-2000:]

    def rows(folder: Path) -> dict[str, list]:
        return {f"{c}/{s}": datasets.load_dataset(str(folder), c, split=s).to_list()
                for c in ("translation", "all") for s in ("train", "validation")}

    assert rows(out) == rows(reference)
    assert not work.exists()
    assert completed  # finished tasks were there to be skipped


def _open_files(process) -> list:
    try:
        return process.open_files()
    except Exception:  # noqa: BLE001 - the process may have ended meanwhile
        return []
