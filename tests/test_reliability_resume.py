"""Crash and resume: the training process (`recipes/sft_coit.py`, tiny model, CPU) is SIGKILLed at random steps
(10 seeded trials), resumed with `--resume_from_checkpoint true`, and its final weights are bit-identical to an
uninterrupted run. A checkpoint the kill left half-written is skipped on resume.

To keep 10 trials cheap on a busy 2-core machine, runs are forked from one "zygote" process that imported torch,
transformers, TRL and the recipe script once; each run is still its own process (the one that is SIGKILLed), and
one trial launches `python recipes/sft_coit.py` directly as users do. Runs use one CPU thread (deterministic, and
far faster than two contended threads here).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coit_hf.cli import main as coit_main

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "sft_coit.py"
FIXTURES = ROOT / "tests" / "fixtures"
STEPS = 12
TRIALS = 10
SEED = 20231108

ZYGOTE = r"""
import json, os, runpy, sys, traceback
import torch
torch.set_num_threads(1)
sft_main = runpy.run_path(sys.argv[1], run_name="coit_sft_zygote")["main"]
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 1
        try:
            sys.argv = [sys.argv[1], *job["argv"]]
            code = sft_main(job["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code or 0)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)
"""

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


class Zygote:
    """A process that forks one training run per request (see the module docstring)."""

    def __init__(self, workdir: Path):
        script = workdir / "zygote.py"
        script.write_text(ZYGOTE, encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, str(script), str(SCRIPT)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **ENV})
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def start(self, argv: list[str], log: Path) -> int:
        self.proc.stdin.write(json.dumps({"argv": argv, "log": str(log)}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["pid"]

    def wait(self) -> int:
        return json.loads(self.proc.stdout.readline())["exit"]

    def run(self, argv: list[str], log: Path) -> int:
        self.start(argv, log)
        return self.wait()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("resume")


@pytest.fixture(scope="module")
def corpus(workdir) -> Path:
    out = workdir / "coit-zh"
    assert coit_main(["data", "build", "--output", str(out), "--no-progress", "--tgt-lang", "zh", "--validation-size",
                      "1", "--pairs", str(FIXTURES / "udhr_sample_7way.jsonl"), "--alpaca",
                      f"en={FIXTURES / 'alpaca_en.jsonl'}", "--alpaca", f"zh={FIXTURES / 'alpaca_zh.jsonl'}"]) == 0
    return out


@pytest.fixture(scope="module")
def zygote(workdir):
    process = Zygote(workdir)
    yield process
    process.close()


def recipe_args(model: Path, corpus: Path, out: Path, *extra: str) -> list[str]:
    return ["--config", str(ROOT / "recipes" / "demo" / "tiny.yaml"), "--model_name_or_path", str(model),
            "--dataset_name", str(corpus), "--output_dir", str(out), "--max_steps", str(STEPS),
            "--per_device_train_batch_size", "2", "--save_strategy", "steps", "--save_steps", "1",
            "--logging_steps", "1", *extra]


def load_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def assert_bit_identical(got: dict, want: dict) -> None:
    import torch

    assert got.keys() == want.keys()
    different = [name for name in want if got[name].dtype != want[name].dtype or not torch.equal(got[name], want[name])]
    assert different == [], f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def reference(zygote, tiny_model_dir, corpus, workdir) -> dict:
    out = workdir / "reference"
    code = zygote.run(recipe_args(tiny_model_dir, corpus, out), workdir / "reference.log")
    assert code == 0, (workdir / "reference.log").read_text()[-3000:]
    state = json.loads((out / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS
    return load_weights(out)


def _wait_for(path: Path, alive, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert alive(), f"the run ended before {path.name} appeared"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.005)


def _complete_steps(out: Path) -> list[int]:
    steps = []
    for folder in out.glob("checkpoint-*"):
        try:
            json.loads((folder / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        steps.append(int(folder.name.split("-")[1]))
    return sorted(steps)


class DirectRun:
    """`python recipes/sft_coit.py ARGS` in its own interpreter."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=ROOT, env={**os.environ, **ENV},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=60)


class ForkedRun:
    """A run forked from the zygote."""

    def __init__(self, zygote: Zygote, args: list[str], log: Path):
        self.zygote, self.pid = zygote, zygote.start(args, log)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> int:
        os.kill(self.pid, signal.SIGKILL)
        return self.zygote.wait()


def test_sigkill_at_random_steps_then_resume_is_bit_identical(zygote, reference, tiny_model_dir, corpus, workdir):
    rng = random.Random(SEED)
    summary = []
    for trial in range(TRIALS):
        kill_step, delay = rng.randint(1, STEPS - 3), rng.uniform(0.0, 0.05)
        out = workdir / f"trial-{trial}"
        args = recipe_args(tiny_model_dir, corpus, out)
        # trial 0 as a user runs it (its own interpreter); the others forked from the zygote
        run = DirectRun(args) if trial == 0 else ForkedRun(zygote, args, workdir / f"trial-{trial}.log")
        _wait_for(out / f"checkpoint-{kill_step}", run.alive)
        time.sleep(delay)
        assert run.kill() == -signal.SIGKILL
        complete = _complete_steps(out)  # empty when the kill came before the first checkpoint was whole
        assert (not complete or complete[-1] < STEPS) and not (out / "model.safetensors").exists()
        first_state = out / "checkpoint-1" / "trainer_state.json"
        first_mtime = first_state.stat().st_mtime_ns if complete else None
        resume_args = [*args, "--resume_from_checkpoint", "true"]
        if trial == 0:
            result = subprocess.run([sys.executable, str(SCRIPT), *resume_args], cwd=ROOT, env={**os.environ, **ENV},
                                    capture_output=True, text=True, timeout=600)
            code, log = result.returncode, result.stderr
        else:
            code = zygote.run(resume_args, workdir / f"trial-{trial}-resume.log")
            log = (workdir / f"trial-{trial}-resume.log").read_text()
        assert code == 0, log[-3000:]
        if complete:  # it resumed: step 1 was not trained (saved) again
            assert first_state.stat().st_mtime_ns == first_mtime
        assert_bit_identical(load_weights(out), reference)
        summary.append((trial, kill_step, complete[-1] if complete else 0))
        shutil.rmtree(out)
    print("trials (trial, killed after checkpoint, resumed from):", summary)


def test_half_written_checkpoint_is_skipped_on_resume(zygote, reference, tiny_model_dir, corpus, workdir):
    out = workdir / "half-written"
    args = recipe_args(tiny_model_dir, corpus, out)
    run = ForkedRun(zygote, args, workdir / "half.log")
    _wait_for(out / "checkpoint-6" / "trainer_state.json", run.alive)
    assert run.kill() == -signal.SIGKILL
    last = _complete_steps(out)[-1]
    # what a kill in the middle of `_save_checkpoint` leaves: the folder, a truncated weights file, no state yet
    partial = out / f"checkpoint-{last + 1}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    weights = (out / f"checkpoint-{last}" / "model.safetensors").read_bytes()
    (partial / "model.safetensors").write_bytes(weights[: len(weights) // 3])
    code = zygote.run([*args, "--resume_from_checkpoint", "true"], workdir / "half-resume.log")
    assert code == 0, (workdir / "half-resume.log").read_text()[-3000:]
    assert_bit_identical(load_weights(out), reference)
