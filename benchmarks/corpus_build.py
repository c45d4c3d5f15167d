"""Corpus build: pairs/s and peak RSS of `coit_hf.data.build.build_corpus` vs a paper-style in-memory loader.

For each size in ``--sizes`` the script writes N synthetic line-aligned en/zh pairs to disk (the generator of
``benchmarks/data_build_1m.py``), then builds the same corpus twice, each in a fresh interpreter so that each
run's peak RSS is its own:

* baseline ("paper-style"): what the Alpaca-fork pipeline does — every line of both files read into Python lists
  (``readlines``, like Alpaca's ``utils.jload`` of one big JSON), a per-line Python generator that normalises,
  filters and renders each pair, ``datasets.Dataset.from_generator(..., keep_in_memory=True)`` to collect it, one
  ``Dataset.filter`` per split, ``Dataset.to_parquet`` per config/split. It applies the very same normalisation,
  quality filters, validation hash and rendering as coit-hf (so both write the same rows — checked with an
  order-independent digest of the row ids); only the architecture differs.
* coit-hf: ``build_corpus`` (the datatrove pipeline: read/filter tasks → dedup from on-disk signatures → render and
  write tasks; dataset card), once per ``--workers`` value (local executor). Peak RSS is the largest of the build
  process and its worker processes (``RUSAGE_CHILDREN``), i.e. per worker.

Usage::

    python benchmarks/corpus_build.py                      # sizes 100k, 1M, 5M (the 5M runs take many minutes)
    python benchmarks/corpus_build.py --sizes 1000000,5000000 --workers 1,2 --baseline-max 1000000
    python benchmarks/corpus_build.py --quick              # 2,000 pairs, for CI

The last stdout line is the JSON result; ``baseline``/``coit_hf`` are pairs/s at the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit_result, peak_rss_mb, run_worker  # noqa: E402

SCRIPT = Path(__file__).resolve()
VALIDATION_SIZE = 0.01
SEED = 42


def _source_spec(en_path: Path, zh_path: Path) -> dict[str, Any]:
    return {"type": "parallel", "paths": [str(en_path), str(zh_path)], "tgt_lang": "zh"}


def build_coit(en_path: Path, zh_path: Path, out: Path, workers: int = 1) -> dict[str, Any]:
    """coit-hf: the product's build (datatrove tasks on ``workers`` local processes)."""
    from coit_hf.data.build import BuildConfig, build_corpus
    from coit_hf.data.executors import ExecutorOptions

    config = BuildConfig(name="bench", validation_size=VALIDATION_SIZE, seed=SEED,
                         sources=[_source_spec(en_path, zh_path)])
    report = build_corpus(config, out, progress=False, executor=ExecutorOptions(workers=workers))
    return {"kept": report["totals"]["kept"], "train": report["totals"]["train"],
            "validation": report["totals"]["validation"]}


def build_paper_style(en_path: Path, zh_path: Path, out: Path, cache_dir: Path) -> dict[str, Any]:
    """Baseline: all lines in memory, per-line Python generator → ``Dataset.from_generator`` → filter → to_parquet.

    Uses coit-hf's own normaliser, quality filter, validation hash and row renderer, so the rows written are the
    same as ``build_corpus``'s; what differs is how the data moves (lists + an in-memory Arrow table).
    """
    import datasets

    from coit_hf.data.quality import QualityFilter
    from coit_hf.data.records import ParallelPair, normalize_text, stable_id
    from coit_hf.data.render import CORPUS_SCHEMA, pair_id, render_translation
    from coit_hf.data.sources import SourceSpec

    datasets.disable_progress_bars()
    provenance = SourceSpec.from_dict(_source_spec(en_path, zh_path)).provenance

    def rows(src_file: str, tgt_file: str):
        with open(src_file, encoding="utf-8") as src, open(tgt_file, encoding="utf-8") as tgt:
            src_lines, tgt_lines = src.readlines(), tgt.readlines()  # the whole corpus in memory, paper-style
        quality = QualityFilter()
        for line, (src_text, tgt_text) in enumerate(zip(src_lines, tgt_lines, strict=True), 1):
            pair = ParallelPair(normalize_text(src_text), normalize_text(tgt_text), "en", "zh", provenance, line)
            if quality.check(pair) is not None:
                continue
            if int(stable_id(str(SEED), pair_id(pair)), 16) / 2**64 < VALIDATION_SIZE:
                yield {**render_translation(pair, index=0), "split": "validation"}
            else:  # the paper's round-robin: paraphrase = line index mod 33
                yield {**render_translation(pair, index=line - 1), "split": "train"}

    features = datasets.Features.from_arrow_schema(CORPUS_SCHEMA)
    features["split"] = datasets.Value("string")
    table = datasets.Dataset.from_generator(rows, features=features, keep_in_memory=True, cache_dir=str(cache_dir),
                                            gen_kwargs={"src_file": str(en_path), "tgt_file": str(zh_path)})
    counts = {}
    for split in ("train", "validation"):
        part = table.filter(lambda s, want=split: s == want, input_columns="split", batched=False,
                            keep_in_memory=True).remove_columns("split")
        counts[split] = len(part)
        for config in ("translation", "all"):
            folder = out / config
            folder.mkdir(parents=True, exist_ok=True)
            part.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    return {"kept": counts["train"] + counts["validation"], **counts}


def ids_digest(folder: Path) -> dict[str, Any]:
    """Order-independent digest of the row ids of ``<folder>/translation/<split>`` (sum of hex ids mod 2**64)."""
    import pyarrow.parquet as pq

    digest: dict[str, Any] = {}
    for split in ("train", "validation"):
        total, rows = 0, 0
        for path in sorted((folder / "translation").glob(f"{split}-*.parquet")):
            for batch in pq.ParquetFile(path).iter_batches(columns=["id"], batch_size=65536):
                for value in batch.column(0).to_pylist():
                    total = (total + int(value, 16)) % 2**64
                rows += batch.num_rows
        digest[split] = f"{rows}:{total:016x}"
    return digest


class DescendantSampler:
    """Samples every descendant process (datatrove's pool workers fork from a forkserver, so they are not our
    children for ``getrusage``) every 0.2 s: peak RSS per process and CPU seconds, for the per-worker figures."""

    def __init__(self) -> None:
        import threading

        import psutil

        self._me = psutil.Process()
        self.peak_rss: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for child in self._me.children(recursive=True):
                try:
                    rss, times = child.memory_info().rss, child.cpu_times()
                except Exception:  # noqa: BLE001 - the process ended between listing and reading
                    continue
                self.peak_rss[child.pid] = max(self.peak_rss.get(child.pid, 0), rss)
                self.cpu[child.pid] = times.user + times.system

    def stop(self) -> tuple[float, float]:
        """(largest peak RSS of one descendant in MiB, CPU seconds of all descendants)."""
        self._stop.set()
        self._thread.join()
        return max(self.peak_rss.values(), default=0) / 2**20, sum(self.cpu.values())


def worker(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    workdir = Path(args.workdir)
    en_path, zh_path = workdir / "train.en", workdir / "train.zh"
    out = workdir / f"out-{args.worker}"
    shutil.rmtree(out, ignore_errors=True)
    import datasets  # noqa: F401  (imports are not part of the timed build)

    import coit_hf.data.build  # noqa: F401

    rss_before = peak_rss_mb()
    sampler = DescendantSampler()
    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if args.worker == "baseline":
        cache = Path(tempfile.mkdtemp(prefix="hf-cache-", dir=workdir))
        counts = build_paper_style(en_path, zh_path, out, cache)
    else:
        counts = build_coit(en_path, zh_path, out, workers=args.workers_one)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    worker_peak, worker_cpu = sampler.stop()
    cpu = own.ru_utime + own.ru_stime - cpu.ru_utime - cpu.ru_stime + worker_cpu
    peak = max(peak_rss_mb(), worker_peak)
    if args.worker == "baseline":
        shutil.rmtree(cache, ignore_errors=True)
    digest = ids_digest(out)
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({"side": args.worker, "workers": args.workers_one if args.worker == "coit_hf" else 1,
                      "pairs": args.size, "seconds": round(seconds, 3),
                      "pairs_per_s": round(args.size / seconds, 1),
                      "cpu_seconds": round(cpu, 3), "pairs_per_cpu_s": round(args.size / cpu, 1), "peak_rss_mb": round(peak, 1),
                      "rss_after_imports_mb": round(rss_before, 1), **counts, "ids_digest": digest}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,5000000",
                        help="comma-separated numbers of synthetic pairs (default: 100000,1000000,5000000)")
    parser.add_argument("--quick", action="store_true", help="one small size (2,000 pairs) for a smoke run")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary folder, removed)")
    parser.add_argument("--sides", default="baseline,coit_hf",
                        help="sides to run, comma-separated (e.g. coit_hf alone at sizes the baseline cannot hold)")
    parser.add_argument("--workers", default="1",
                        help="comma-separated local worker counts for coit-hf (default 1; e.g. 1,2 for the scaling table)")
    parser.add_argument("--baseline-max", type=int, default=None,
                        help="run the baseline only up to this many pairs (it needs ~1.3 KB/pair and hours at 5M)")
    parser.add_argument("--worker", choices=("baseline", "coit_hf"), help=argparse.SUPPRESS)
    parser.add_argument("--workers-one", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    from data_build_1m import write_pairs

    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    sizes = [2000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="coit-corpus-bench-"))
    runs: list[dict[str, Any]] = []
    try:
        for size in sizes:
            workdir = root / f"n{size}"
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            write_pairs(workdir, size)
            entry: dict[str, Any] = {"pairs": size, "load_before": os.getloadavg()}
            for side in args.sides.split(","):
                if side == "baseline" and args.baseline_max is not None and size > args.baseline_max:
                    continue
                for workers in (worker_counts if side == "coit_hf" else [1]):
                    result = run_worker(SCRIPT, ["--worker", side, "--size", str(size), "--workdir", str(workdir),
                                                 "--workers-one", str(workers)])
                    result["load_after"] = os.getloadavg()
                    key = side if side == "baseline" or workers == worker_counts[0] else f"{side}_w{workers}"
                    entry[key] = result
                    print(f"[corpus_build] {size:>9,} pairs  {side:<8} w{workers} {result['pairs_per_s']:>10,.0f} "
                          f"pairs/s  {result['pairs_per_cpu_s']:>10,.0f} pairs/CPU-s  peak RSS "
                          f"{result['peak_rss_mb']:>7,.0f} MiB  ({result['seconds']:.1f} s, load "
                          f"{result['load_after'][0]:.1f})", flush=True)
            if "baseline" in entry and "coit_hf" in entry:
                entry["ratio"] = round(entry["coit_hf"]["pairs_per_s"] / entry["baseline"]["pairs_per_s"], 3)
                entry["same_rows"] = all(entry[k]["ids_digest"] == entry["baseline"]["ids_digest"]
                                         for k in entry if k.startswith("coit_hf"))
            for key in [k for k in entry if k.startswith("coit_hf_w")]:
                entry[f"speedup_{key.removeprefix('coit_hf_')}"] = round(
                    entry[key]["pairs_per_s"] / entry["coit_hf"]["pairs_per_s"], 3)
            runs.append(entry)
            shutil.rmtree(workdir, ignore_errors=True)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    both = [r for r in runs if "ratio" in r]
    largest = both[-1] if both else runs[-1]  # the headline: the largest size measured on both sides
    emit_result(
        "corpus_build",
        largest.get("baseline", {}).get("pairs_per_s"), largest.get("coit_hf", {}).get("pairs_per_s"),
        "pairs/s", headline_pairs=largest["pairs"],
        sizes=sizes,
        peak_rss_mb={side: {str(r["pairs"]): r[side]["peak_rss_mb"] for r in runs if side in r}
                     for side in ("baseline", "coit_hf")},
        same_rows=all(r["same_rows"] for r in both) if both else None,
        runs=runs, workers=worker_counts,
        goal={"ratio": 10, "peak_rss": "per worker within 15% from 1M to 5M", "two_workers": 1.7},
    )


if __name__ == "__main__":
    main()
